-- ff.fixtures: builds the fixture recipes of spec 10 §C with plain Redis
-- commands, for specs, the demo and benchmarks.
--
-- Every builder takes `r`, any object with r:call(cmd, ...) -> reply | nil, err
-- (the ctx.redis binding, the scanhost_test handle, ...), and an optional opts
-- table. Defaults follow §C: partition 5, E = {fp:5}:00000000-...-000000000001,
-- W = 00000000-...-0000000000aa, "past" = 1000, "future" = 99999999999999.
-- opts.n / opts.eid / opts.wid / opts.lane override them, so many items can be
-- seeded side by side. Every value is written as a string; fields not listed
-- by a recipe stay absent. A recipe returns a table describing what it built:
-- { n, tag, eid, wid, lane, keys = {...} }.
--
-- Generic builders (execution, waitpoint, suspension, zadd, sadd, hset) are
-- meant for reuse by other recipe modules (e.g. flow/budget/quota fixtures).
local K = require "ff.keys"
local P = require "ff.partition"

local F = {}

F.N = 5
F.PAST = "1000"
F.FUTURE = "99999999999999"

-- eid(n, i): a deterministic execution id on partition n (i-th, from 1).
function F.eid(n, i)
  return string.format("{fp:%d}:00000000-0000-4000-8000-%012x", n or F.N, i or 1)
end

-- wid(i): a deterministic waitpoint id (i = 0xaa gives §C's W).
function F.wid(i)
  return string.format("00000000-0000-4000-8000-%012x", i or 0xaa)
end

F.E = F.eid(F.N, 1)
F.W = F.wid(0xaa)
F.T = P.tag("execution", F.N)

-- call(r, ...): one command; raises on error so a broken setup fails loudly.
function F.call(r, ...)
  local res, err = r:call(...)
  if res == nil and err ~= nil then
    error("fixture command failed: " .. table.concat({ ... }, " ") .. ": " .. tostring(err), 2)
  end
  return res
end

-- hset(r, key, fields): fields is a map (written in sorted field order) or an
-- ordered flat list {f1, v1, ...}. Values are written as strings.
function F.hset(r, key, fields)
  local flat = {}
  if #fields > 0 then
    for i = 1, #fields do flat[i] = tostring(fields[i]) end
  else
    local names = {}
    for k in pairs(fields) do names[#names + 1] = k end
    table.sort(names)
    for _, k in ipairs(names) do
      flat[#flat + 1] = k
      flat[#flat + 1] = tostring(fields[k])
    end
  end
  if #flat == 0 then return 0 end
  return F.call(r, "HSET", key, unpack(flat))
end

function F.zadd(r, key, score, member)
  return F.call(r, "ZADD", key, tostring(score), member)
end

function F.sadd(r, key, member)
  return F.call(r, "SADD", key, member)
end

-- recorder(): an `r` for the recipes that records their commands instead of
-- sending them, so a benchmark can seed 100k items with a few big pipelines
-- (rec.cmds, in order) through the same recipes. Replies are not available:
-- only recipes that ignore them (all §C builders) can be recorded.
function F.recorder()
  local rec = { cmds = {} }
  function rec:call(...)
    self.cmds[#self.cmds + 1] = { ... }
    return 1
  end
  return rec
end

-- ctx(opts): resolve the identity of one fixture item.
function F.ctx(opts)
  opts = opts or {}
  local n = opts.n or (opts.eid and P.parse_execution_id(opts.eid)) or F.N
  local tag = P.tag("execution", n)
  return {
    n = n, tag = tag, eid = opts.eid or F.eid(n, opts.i or 1),
    wid = opts.wid or F.W, lane = opts.lane or "default",
  }
end

-- merge(a, b): copy of a with b's entries on top (either may be nil).
local function merge(a, b)
  local out = {}
  for k, v in pairs(a or {}) do out[k] = v end
  for k, v in pairs(b or {}) do out[k] = v end
  return out
end
F.merge = merge

-- execution(r, opts): writes the core hash with opts.fields (+ opts.extra).
-- Returns the item context with c.keys.core set.
function F.execution(r, opts)
  local c = F.ctx(opts)
  c.keys = { core = K.core(c.tag, c.eid) }
  F.hset(r, c.keys.core, merge(opts and opts.fields or {}, opts and opts.extra))
  return c
end

-- waitpoint(r, c, fields): writes ff:wp:<tag>:<wid> for context c.
function F.waitpoint(r, c, fields)
  F.hset(r, K.waitpoint(c.tag, c.wid), fields)
end

-- suspension(r, c, fields): writes the suspension:current hash for context c.
function F.suspension(r, c, fields)
  F.hset(r, K.suspension_current(c.tag, c.eid), fields)
end

-- index(r, c, name, score[, member]): ZADD into ff:idx:<tag>:<name>.
function F.index(r, c, name, score, member)
  F.zadd(r, K.idx(c.tag, name), score, member or c.eid)
end

-- lane_index(r, c, suffix, score[, lane]): ZADD into the lane set.
function F.lane_index(r, c, suffix, score, lane)
  F.zadd(r, K.lane(c.tag, lane or c.lane, suffix), score, c.eid)
end

-- Only the index entry: the "missing core" case of every scanner.
local function index_only(name)
  return function(r, opts)
    local c = F.ctx(opts)
    F.index(r, c, name, F.PAST)
    return c
  end
end

-- ------------------------------------------------------------------ §C.1
local lease = {}
F.lease_expiry = lease

-- The acting core (with the optional companions of §C.1).
lease.CORE = {
  lifecycle_phase = "active", ownership_state = "leased", lease_expires_at = F.PAST,
  current_lease_id = "L1", current_lease_epoch = "1", current_attempt_index = "0",
  current_attempt_id = "A1", current_worker_id = "w", current_worker_instance_id = "wi1",
  eligibility_state = "not_applicable", terminal_outcome = "none",
}

-- acting: due index entry + active/leased core + open stream meta.
-- opts.minimal = true writes only the three mandatory core fields.
function lease.acting(r, opts)
  opts = opts or {}
  local fields = lease.CORE
  if opts.minimal then
    fields = { lifecycle_phase = "active", ownership_state = "leased", lease_expires_at = F.PAST }
  end
  local c = F.execution(r, merge(opts, { fields = merge(fields, opts.fields) }))
  F.index(r, c, "lease_expiry", opts.score or F.PAST)
  if not opts.minimal then F.hset(r, K.stream_meta(c.tag, c.eid, 0), { x = "y" }) end
  return c
end

local function lease_variant(fields, score)
  return function(r, opts)
    opts = opts or {}
    return lease.acting(r, merge(opts, { fields = merge(fields, opts.fields), score = score }))
  end
end

lease.not_yet_due_index = lease_variant({}, F.FUTURE)
lease.not_yet_due_record = lease_variant({ lease_expires_at = F.FUTURE })
lease.already_terminal = lease_variant({ lifecycle_phase = "terminal" })
lease.revoked = lease_variant({ ownership_state = "lease_revoked" })
lease.unowned = lease_variant({ ownership_state = "unowned" })
lease.already_expired = lease_variant({ ownership_state = "lease_expired_reclaimable" })
lease.fault = lease_variant({ lease_expires_at = "" })
lease.missing_core = index_only("lease_expiry")

-- ------------------------------------------------------------------ §C.2
local delayed = {}
F.delayed_promoter = delayed

delayed.CORE = {
  lifecycle_phase = "runnable", eligibility_state = "not_eligible_until_time",
  delay_until = F.PAST, priority = "0", created_at = "1000",
  attempt_state = "pending_first_attempt",
}

function delayed.acting(r, opts)
  opts = opts or {}
  local c = F.execution(r, merge(opts, { fields = merge(delayed.CORE, opts.fields) }))
  F.lane_index(r, c, "delayed", opts.score or F.PAST)
  return c
end

local function delayed_variant(fields, score)
  return function(r, opts)
    opts = opts or {}
    return delayed.acting(r, merge(opts, { fields = merge(fields, opts.fields), score = score }))
  end
end

delayed.not_yet_due_index = delayed_variant({}, F.FUTURE)
delayed.not_yet_due_record = delayed_variant({ delay_until = F.FUTURE })
delayed.already_terminal = delayed_variant({ lifecycle_phase = "terminal" })
delayed.not_delayed = delayed_variant({ eligibility_state = "eligible_now" })
delayed.empty_delay_until = delayed_variant({ delay_until = "" })
delayed.bad_priority = delayed_variant({ priority = "high" })

function delayed.missing_core(r, opts)
  local c = F.ctx(opts)
  F.lane_index(r, c, "delayed", F.PAST)
  return c
end

-- other_lane: the acting data under lane "blue" (not configured by default).
function delayed.other_lane(r, opts)
  opts = opts or {}
  return delayed.acting(r, merge(opts, { lane = "blue", fields = merge({ lane_id = "blue" }, opts.fields) }))
end

-- ------------------------------------------------------------- §C.3 / §C.4
local expiry = {}
F.attempt_timeout = expiry

expiry.ACTIVE = {
  lifecycle_phase = "active", ownership_state = "leased", lane_id = "default",
  current_attempt_index = "0", current_lease_id = "L1", current_lease_epoch = "1",
  current_worker_instance_id = "wi1", attempt_state = "running_attempt",
}

-- active(r, opts): §C.3 acting case; opts.index = timeout index to seed
-- (attempt_timeout by default), opts.companions = false skips the optional
-- companions (lease, lease_expiry, worker set, active set, deadline, attempt).
function expiry.active(r, opts)
  opts = opts or {}
  local c = F.execution(r, merge(opts, { fields = merge(expiry.ACTIVE, opts.fields) }))
  local index = opts.index or "attempt_timeout"
  F.index(r, c, index, opts.score or F.PAST)
  if opts.companions ~= false then
    F.hset(r, K.lease_current(c.tag, c.eid), { lease_id = "L1" })
    F.index(r, c, "lease_expiry", F.PAST)
    F.sadd(r, K.worker_leases(c.tag, "wi1"), c.eid)
    F.lane_index(r, c, "active", F.PAST)
    if index ~= "execution_deadline" then F.index(r, c, "execution_deadline", F.FUTURE) end
    F.hset(r, K.attempt(c.tag, c.eid, 0), { attempt_state = "started" })
  end
  return c
end
expiry.acting = expiry.active

-- runnable(r, opts): §C.4 acting case (runnable, waiting in eligible).
function expiry.runnable(r, opts)
  opts = opts or {}
  local c = F.execution(r, merge(opts, { fields = merge({
    lifecycle_phase = "runnable", eligibility_state = "eligible_now", lane_id = "default",
    current_attempt_index = "", attempt_state = "pending_first_attempt",
  }, opts.fields) }))
  F.index(r, c, opts.index or "execution_deadline", opts.score or F.PAST)
  F.lane_index(r, c, "eligible", F.PAST)
  return c
end

-- suspended(r, opts): §C.4 variant (suspended on lane blue, attempt 2).
function expiry.suspended(r, opts)
  opts = opts or {}
  local c = F.execution(r, merge(opts, { lane = "blue", fields = merge({
    lifecycle_phase = "suspended", lane_id = "blue", current_attempt_index = "2",
    current_waitpoint_id = (opts.wid or F.W),
  }, opts.fields) }))
  F.index(r, c, opts.index or "execution_deadline", opts.score or F.PAST)
  F.suspension(r, c, { suspension_id = "S1" })
  F.lane_index(r, c, "suspended", F.PAST)
  F.index(r, c, "suspension_timeout", F.PAST)
  F.hset(r, K.stream_meta(c.tag, c.eid, 2), { x = "y" })
  F.waitpoint(r, c, { state = "active" })
  return c
end

-- Generic no-op cases for either index (opts.index, default attempt_timeout).
function expiry.not_yet_due(r, opts)
  opts = opts or {}
  return expiry.active(r, merge(opts, { score = F.FUTURE, companions = false }))
end

function expiry.already_terminal(r, opts)
  opts = opts or {}
  local c = F.execution(r, merge(opts, { fields = merge({ lifecycle_phase = "terminal" }, opts.fields) }))
  F.index(r, c, "attempt_timeout", F.PAST)
  F.index(r, c, "execution_deadline", F.PAST)
  return c
end

function expiry.missing_core(r, opts)
  local c = F.ctx(opts)
  F.index(r, c, "attempt_timeout", F.PAST)
  F.index(r, c, "execution_deadline", F.PAST)
  return c
end

-- execution_deadline shares the recipes, seeded in its own index.
local deadline = setmetatable({}, { __index = function(_, k)
  local fn = expiry[k]
  if type(fn) ~= "function" then return fn end
  return function(r, opts)
    return fn(r, merge({ index = "execution_deadline" }, opts))
  end
end })
deadline.acting = function(r, opts) return expiry.runnable(r, opts) end
F.execution_deadline = deadline

-- ------------------------------------------------------------------ §C.5
local susp = {}
F.suspension_timeout = susp

susp.CORE = {
  lifecycle_phase = "suspended", ownership_state = "unowned",
  eligibility_state = "not_applicable", attempt_state = "attempt_interrupted",
  lane_id = "default", current_attempt_index = "0", current_suspension_id = "S1",
  priority = "0", created_at = "1000",
}

-- acting(r, opts): opts.behavior (default "fail"; false = field absent),
-- opts.suspension = extra/override suspension fields, opts.waitpoint = false
-- skips the optional waitpoint hash.
function susp.acting(r, opts)
  opts = opts or {}
  local wid = opts.wid or F.W
  local c = F.execution(r, merge(opts, { fields = merge(merge(susp.CORE,
    { current_waitpoint_id = wid }), opts.fields) }))
  F.index(r, c, "suspension_timeout", opts.score or F.PAST)
  F.lane_index(r, c, "suspended", F.PAST)
  local s = { suspension_id = "S1", timeout_at = F.PAST }
  if opts.behavior ~= false then s.timeout_behavior = opts.behavior or "fail" end
  if opts.suspension then F.suspension(r, c, merge(s, opts.suspension)) else F.suspension(r, c, s) end
  if opts.waitpoint ~= false then F.waitpoint(r, c, { state = "active" }) end
  return c
end

local function susp_variant(extra)
  return function(r, opts)
    opts = opts or {}
    return susp.acting(r, merge(opts, extra(opts)))
  end
end

susp.not_yet_due_record = susp_variant(function(o)
  return { suspension = merge({ timeout_at = F.FUTURE }, o.suspension) } end)
susp.zero_timeout = susp_variant(function(o)
  return { suspension = merge({ timeout_at = "0" }, o.suspension) } end)
susp.already_terminal = susp_variant(function(o)
  return { fields = merge({ lifecycle_phase = "terminal" }, o.fields) } end)
susp.suspension_closed = susp_variant(function(o)
  return { suspension = merge({ closed_at = "500" }, o.suspension) } end)
susp.no_suspension_id = susp_variant(function(o)
  return { suspension = merge({ suspension_id = "" }, o.suspension) } end)
susp.fault = susp_variant(function(o)
  return { suspension = merge({ timeout_at = "" }, o.suspension) } end)

-- no_suspension: the suspension hash is absent.
function susp.no_suspension(r, opts)
  opts = opts or {}
  local c = susp.acting(r, opts)
  F.call(r, "DEL", K.suspension_current(c.tag, c.eid))
  return c
end

susp.missing_core = index_only("suspension_timeout")

-- ------------------------------------------------------------------ §C.6
local pwp = {}
F.pending_wp_expiry = pwp

-- acting(r, opts): opts.state (default pending; false = no state field).
function pwp.acting(r, opts)
  opts = opts or {}
  local c = F.ctx(opts)
  local fields = { waitpoint_id = c.wid, execution_id = c.eid, expires_at = F.PAST }
  if opts.state ~= false then fields.state = opts.state or "pending" end
  F.waitpoint(r, c, fields)
  F.index(r, c, "pending_waitpoint_expiry", opts.score or F.PAST, c.wid)
  return c
end

function pwp.not_yet_due(r, opts)
  return pwp.acting(r, merge(opts, { score = F.FUTURE }))
end

function pwp.already_closed(r, opts)
  return pwp.acting(r, merge({ state = "closed" }, opts))
end

function pwp.unknown_state(r, opts)
  return pwp.acting(r, merge({ state = "weird" }, opts))
end

function pwp.missing_waitpoint(r, opts)
  local c = F.ctx(opts)
  F.index(r, c, "pending_waitpoint_expiry", F.PAST, c.wid)
  return c
end

-- ------------------------------------------------------------------ §C.7
local recon = {}
F.index_reconciler = recon

function recon.consistent(r, opts)
  opts = opts or {}
  local c = F.execution(r, merge(opts, { fields = merge({
    lifecycle_phase = "runnable", eligibility_state = "eligible_now", lane_id = "default",
  }, opts.fields) }))
  F.sadd(r, K.all_executions(c.tag), c.eid)
  if not opts.skip_index then F.lane_index(r, c, "eligible", "1") end
  return c
end

function recon.inconsistent(r, opts)
  return recon.consistent(r, merge(opts, { skip_index = true }))
end

function recon.missing_core(r, opts)
  local c = F.ctx(opts)
  F.sadd(r, K.all_executions(c.tag), c.eid)
  return c
end

function recon.not_checked(r, opts)
  opts = opts or {}
  local c = F.execution(r, merge(opts, { fields = merge({
    lifecycle_phase = "active", ownership_state = "lease_expired_reclaimable",
  }, opts.fields) }))
  F.sadd(r, K.all_executions(c.tag), c.eid)
  return c
end

return F
