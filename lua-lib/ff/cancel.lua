-- ff.cancel: the per-execution cancel of v34's cancel_reconciler and
-- edge_cancel_dispatcher (spec 30 §7.B) as an ff.batch op: one HMGET pre-read
-- of the core, then FCALL ff_cancel_execution with its 21 KEYS on the
-- execution's own tag and ARGV (eid, reason, "operator_override", "", "").
-- Pre-reads go out in one pipeline, calls in one more (one batch FCALL per
-- partition tag with scanhost's own library), so the members of every flow or
-- group of a page cost two round trips, not two per member.
-- scanhost, wire contract kept (README "Where scanhost's own scanners differ"):
-- * an absent or unparsable current_waitpoint_id, an empty worker instance and
--   an empty lane never build a malformed or random key name: the waitpoint
--   slots get the never-written ff:noop:<tag> placeholder (v34 makes up a
--   random UUID, CR1), the worker-lease slot too, the lane "default";
-- * the reply is read as FlowFabric intended, not as its production path does
--   (D1): {0,"execution_not_active"} is "already terminal" and
--   {0,"execution_not_found"} "not found"; both are final, like a cancel.
local K = require "ff.keys"
local fc = require "ff.exec_fcall"
local ops = require "ff.exec_ops"
local batch = require "ff.batch"
local V = require "ff.v34"

local M = {}

local READ = { "lane_id", "current_attempt_index", "current_waitpoint_id",
  "current_worker_instance_id" }

-- keys(eid, core) -> the 21 KEYS for execution eid (core: the pre-read fields).
function M.keys(eid, core)
  local T = V.exec_tag(eid)
  local noop = K.noop(T)
  local lane, a = fc.lane(core.lane_id), V.u32(core.current_attempt_index)
  local wp = core.current_waitpoint_id and V.canonical(core.current_waitpoint_id)
  local wi = core.current_worker_instance_id
  local function ln(suffix) return K.lane(T, lane, suffix) end
  return {
    K.core(T, eid), K.attempt(T, eid, a), K.stream_meta(T, eid, a), K.lease_current(T, eid),
    K.lease_history(T, eid), K.lease_expiry(T),
    (wi and wi ~= "") and K.worker_leases(T, wi) or noop,
    K.suspension_current(T, eid),
    wp and K.waitpoint(T, wp) or noop, wp and K.waitpoint_condition(T, wp) or noop,
    K.suspension_timeout(T), ln("terminal"), K.attempt_timeout(T), K.execution_deadline(T),
    ln("eligible"), ln("delayed"), ln("blocked:dependencies"), ln("blocked:budget"),
    ln("blocked:quota"), ln("blocked:route"), ln("blocked:operator"),
  }
end

-- op(reason) -> the ff.batch op cancelling with that reason.
function M.op(reason)
  return {
    fn = "ff_cancel_execution",
    pre = function(_, eid) return { "HMGET", K.core(V.exec_tag(eid), eid), unpack(READ) } end,
    call = function(_, eid, vals)
      return M.keys(eid, ops.fields(vals, READ)), { eid, reason, "operator_override", "", "" }
    end,
  }
end

-- disposition(call) -> "cancelled" | "already_terminal" | "not_found" | "retry",
-- detail (call: an ff.batch call with .reply or .err).
function M.disposition(c)
  if c.err then return "retry", c.err end
  local r = c.reply
  if type(r) ~= "table" then return "retry", "unexpected reply: " .. tostring(r) end
  if r[1] == 1 then return "cancelled", r[4] end
  if r[1] == 0 and r[2] == "execution_not_active" then return "already_terminal", r[3] end
  if r[1] == 0 and r[2] == "execution_not_found" then return "not_found" end
  return "retry", tostring(r[2])
end

-- jobs_of(ctx, reason, eids) -> one ff.batch job per partition tag of eids,
-- so a batch FCALL never mixes slots.
local function jobs_of(ctx, reason, eids)
  local op, jobs, by_tag = M.op(reason), {}, {}
  for _, eid in ipairs(eids) do
    local T = V.exec_tag(eid)
    if not by_tag[T] then
      by_tag[T] = { ctx = ctx, op = op, items = {} }
      jobs[#jobs + 1] = by_tag[T]
    end
    local items = by_tag[T].items
    items[#items + 1] = eid
  end
  return jobs
end

-- in_order(jobs, eids) -> the jobs' calls in eids' order.
local function in_order(jobs, eids)
  local of = {}
  for _, job in ipairs(jobs) do
    for _, c in ipairs(job.calls) do of[c.item] = c end
  end
  local out = {}
  for i, eid in ipairs(eids) do out[i] = of[eid] end
  return out
end

-- run_many(ctx, sets) -> per set, its calls in its eids' order (each with
-- .item, .reply or .err). sets: { { reason = ..., eids = {...} }, ... }, the
-- eids execution ids. The pre-reads of every set share one round trip, the
-- calls one more.
function M.run_many(ctx, sets)
  local all, per_set = {}, {}
  for s, set in ipairs(sets) do
    per_set[s] = jobs_of(ctx, set.reason, set.eids)
    for _, job in ipairs(per_set[s]) do all[#all + 1] = job end
  end
  if #all > 0 then batch.run_many(ctx, all) end
  local out = {}
  for s, set in ipairs(sets) do out[s] = in_order(per_set[s], set.eids) end
  return out
end

return M
