-- unblock: moves executions parked in the budget, quota and route blocked sets
-- back to eligible once their blocking condition has cleared, with
-- ff_unblock_execution (spec 20 §A.1). {fp:N} partitions; every 5 s; 100 members
-- per lane per blocked set per partition per cycle.
-- scanhost fixes:
-- * every member is reached over successive cycles: each set is walked with a
--   cursor, so members that stay blocked never hide the ones behind them (U1);
-- * a member whose core is gone or whose blocking_reason no longer matches the set
--   is removed from it, atomically re-checked on the server (U2);
-- * every read error keeps the execution blocked and counts as an error (fail
--   closed, U4); the budget breach rule is ff.budget's, shared with
--   budget_reconciler (usage >= hard limit, U6/BR3);
-- * replies are read: a rejection is a skip, an error an error (G1);
-- * a page of members costs the round trips of one: the cores are read in one
--   pipeline, each member's condition is checked in order (budget verdicts
--   and the caps union are cached), and the cleared members are unblocked
--   with one TIME and one pipeline of calls.
-- Kept from 0.1.1: non-UUID budget/quota ids do not limit (U5), the union of all
-- workers' capabilities (U7), the quota window trim (U9), a negative concurrency
-- counter keeps the execution blocked (U10).
local keys = require "ff.keys"
local partition = require "ff.partition"
local budget = require "ff.budget"
local reply = require "ff.reply"
local sscan = require "ff.sscan"
local util = require "ff.util"
local walker = require "ff.walker"
local caps34 = require "ff.caps" -- library version 34: namespaced worker caps
local v34 = require "ff.v34"
local filter = require "ff.filter"
local batch = require "ff.batch"

local caps = {}     -- worker-caps union snapshot { union = set, at = ms }

-- Removes E from the set only if its core's blocking_reason (still) differs from
-- the set's reason; checked on the server so a concurrent re-block is never lost.
local DROP_STALE = [[
if redis.call('HGET', KEYS[1], 'blocking_reason') ~= ARGV[2] then
  return redis.call('ZREM', KEYS[2], ARGV[1])
end
return 0]]

local function split(csv, trim)
  local out = {}
  for piece in (csv .. ","):gmatch("([^,]*),") do
    if trim then piece = piece:match("^%s*(.-)%s*$") end
    if piece ~= "" then out[#out + 1] = piece end
  end
  return out
end

---------------------------------------------------------------- budget
-- breached?(B) -> bool | nil, err (verdicts cached per partition scan)
local function budget_breached(ctx, st, bid)
  if st.budgets[bid] ~= nil then return st.budgets[bid] end
  local m = partition.budget_partition(bid, ctx.counts.budget)
  if not m then
    st.budgets[bid] = false -- not a UUID: does not limit (U5)
    return false
  end
  local T = partition.tag("budget", m)
  local res, nerr = ctx.redis:pipeline({
    { "HGETALL", keys.budget_limits(T, bid) }, { "HGETALL", keys.budget_usage(T, bid) } })
  if nerr > 0 then return nil, util.first_err(res) end
  local verdict = budget.breached_dimension(budget.to_map(res[1]), budget.to_map(res[2])) ~= nil
  st.budgets[bid] = verdict
  return verdict
end

local function budget_cleared(ctx, st, core)
  if not core.budget_ids or core.budget_ids == "" then return true end
  for _, bid in ipairs(split(core.budget_ids, true)) do
    local breached, err = budget_breached(ctx, st, bid)
    if breached == nil then return nil, err end
    if breached then return false end
  end
  return true
end

---------------------------------------------------------------- quota
-- Rate window check (trims expired entries first, as 0.1.1 does: U9).
local function window_full(ctx, T, qid, limit, secs)
  local now, err = ctx:now_ms()
  if not now then return nil, err end
  local wkey = keys.quota_window(T, qid)
  ctx.redis:call("ZREMRANGEBYSCORE", wkey, "-inf", math.max(0, now - secs * 1000))
  local n, zerr = ctx.redis:call("ZCARD", wkey)
  if not n then return nil, zerr end
  return n >= limit
end

-- Concurrency check; a negative or non-integer counter keeps it blocked (U10).
local function at_cap(ctx, T, qid, cap)
  local v, err = ctx.redis:call("GET", keys.quota_concurrency(T, qid))
  if v == nil then return nil, err end
  if v == false then return false end
  local n = util.int(v)
  return n == nil or n < 0 or n >= cap
end

local function quota_cleared(ctx, _, core)
  local qid = core.quota_policy_id
  if not qid or qid == "" then return true end
  local k = partition.quota_partition(qid, ctx.counts.quota)
  if not k then return true end -- not a UUID: does not limit (U5)
  local T = partition.tag("quota", k)
  local def, err = ctx.redis:call("HMGET", keys.quota(T, qid),
    "max_requests_per_window", "requests_per_window_seconds", "active_concurrency_cap")
  if not def then return nil, err end
  local limit, secs, cap = util.uint(def[1]) or 0, util.uint(def[2]) or 60, util.uint(def[3]) or 0
  if limit > 0 then
    local full, ferr = window_full(ctx, T, qid, limit, secs)
    if full == nil then return nil, ferr end
    if full then return false end
  end
  if cap > 0 then
    local capped, cerr = at_cap(ctx, T, qid, cap)
    if capped == nil then return nil, cerr end
    if capped then return false end
  end
  return true
end

---------------------------------------------------------------- route
-- Adds the caps of one page of workers (GETs 16 at a time); true | nil, err.
local function add_page_caps(ctx, union, workers)
  for i = 1, #workers, 16 do
    local cmds = {}
    for j = i, math.min(i + 15, #workers) do cmds[#cmds + 1] = { "GET", keys.worker_caps(workers[j]) } end
    local res, nerr = ctx.redis:pipeline(cmds)
    for _, v in ipairs(res) do
      if type(v) == "table" then return nil, v.err or ("pipeline errors: " .. nerr) end
      if v then for _, tok in ipairs(split(v, false)) do union[tok] = true end end
    end
  end
  return true
end

local function load_union(ctx)
  local union, perr = {}, nil
  local ok, err = sscan.each(ctx, keys.WORKERS, 100, function(workers)
    local fine, e = add_page_caps(ctx, union, workers)
    if not fine then perr = e; return false end
  end)
  if not ok or perr then return nil, err or perr end
  return union
end

-- Worker-caps union, reloaded when older than the scanner interval. A failed load
-- keeps the old snapshot untouched and is reported once per partition scan.
local function caps_union(ctx, st)
  if st.caps_failed then return nil, "worker caps unavailable" end
  local now, err = ctx:now_ms()
  if not now then return nil, err end
  if caps.at and now - caps.at < ctx.config.interval * 1000 then return caps.union end
  local union, lerr = load_union(ctx)
  if not union then
    st.caps_failed = true
    return nil, lerr
  end
  caps.union, caps.at = union, now
  return union
end

local function route_cleared(ctx, st, core)
  local req = core.required_capabilities
  if not req or req == "" then return true end
  local union, err
  if v34.is34(ctx) then union, err = caps34.union(ctx, st, core.namespace) else union, err = caps_union(ctx, st) end
  if not union then return nil, err end
  for _, tok in ipairs(split(req, false)) do
    if not union[tok] then return false end
  end
  return true
end

---------------------------------------------------------------- per member
local SETS = {
  { suffix = "blocked:budget", reason = "waiting_for_budget", cleared = budget_cleared },
  { suffix = "blocked:quota", reason = "waiting_for_quota", cleared = quota_cleared },
  { suffix = "blocked:route", reason = "waiting_for_capable_worker", cleared = route_cleared },
}

local CORE_FIELDS = { "blocking_reason", "budget_ids", "quota_policy_id", "required_capabilities",
  "namespace" }

-- read_cores(ctx, eids) -> per member its core's fields, or { err = ... }: one
-- pipeline for the page.
local function read_cores(ctx, eids)
  local cmds = {}
  for i, eid in ipairs(eids) do cmds[i] = { "HMGET", keys.core(ctx.tag, eid), unpack(CORE_FIELDS) } end
  local out = {}
  for i, r in ipairs(ctx.redis:pipeline(cmds)) do
    local err = batch.err_of(r)
    if err then
      out[i] = { err = err }
    else
      out[i] = { blocking_reason = r[1] or nil, budget_ids = r[2] or nil,
        quota_policy_id = r[3] or nil, required_capabilities = r[4] or nil, namespace = r[5] or nil }
    end
  end
  return out
end

-- Removes a stale member; returns true when it is still in the set.
local function drop_stale(ctx, set, eid, reason)
  local r, err = ctx.redis:call("EVAL", DROP_STALE, 2, keys.core(ctx.tag, eid), set, eid, reason)
  if r == nil then
    ctx.log:warn("removing stale blocked member failed", { execution_id = eid, error = err })
    return true
  end
  if r == 1 then ctx.log:info("removed stale blocked member", { execution_id = eid, set = set }) end
  return r ~= 1
end

-- check(ctx, st, s, set, eid, core) -> kept, errors, whether to unblock it.
local function check(ctx, st, s, set, eid, core)
  if core.err then
    ctx.log:warn("reading blocked execution failed", { execution_id = eid, error = core.err })
    return true, 1
  end
  if core.blocking_reason ~= s.reason then return drop_stale(ctx, set, eid, s.reason), 0 end
  local cleared, cerr = s.cleared(ctx, st, core)
  if cleared == nil then
    ctx.log:warn("blocking condition unreadable, kept blocked", { execution_id = eid, error = cerr })
    return true, 1
  end
  return true, 0, cleared
end

-- unblock(ctx, set, lane, reason, eids, verdicts, at) -> processed, errors:
-- one TIME, then ff_unblock_execution for every cleared member in one
-- pipeline; an unblocked member leaves the set (verdicts[at[i]] = false for
-- eids[i]). A failed TIME is one error: every member stays blocked.
local function unblock(ctx, set, lane, reason, eids, verdicts, at)
  local now = util.now(ctx)
  if not now then return 0, 1 end -- kept blocked
  local cmds = {}
  for i, eid in ipairs(eids) do
    cmds[i] = batch.fcall_cmd("ff_unblock_execution",
      { keys.core(ctx.tag, eid), set, keys.lane(ctx.tag, lane, "eligible") }, { eid, now, reason })
  end
  local processed, errors = 0, 0
  for i, r in ipairs(ctx.redis:pipeline(cmds)) do
    local status = reply.outcome(ctx, r, nil, "unblock", { execution_id = eids[i] })
    if status == "processed" then
      ctx.log:info("unblocked", { execution_id = eids[i], reason = reason })
      verdicts[at[i]], processed = false, processed + 1
    elseif status ~= "skip" then
      errors = errors + 1
    end
  end
  return processed, errors
end

-- visit(ctx, st, s, set, entries) -> kept per member, processed, errors: the
-- cores of the page in one pipeline, each member's condition checked in
-- order, then the cleared ones unblocked in one more.
local function visit(ctx, st, s, set, entries)
  local eids = {}
  for i, e in ipairs(entries) do eids[i] = e[1] end
  local verdicts, errors, cleared, at = {}, 0, {}, {}
  for i, core in ipairs(read_cores(ctx, eids)) do
    local kept, e, go = check(ctx, st, s, set.key, eids[i], core)
    verdicts[i], errors = kept, errors + e
    if go then
      cleared[#cleared + 1] = eids[i]
      at[#cleared] = i
    end
  end
  if #cleared == 0 then return verdicts, 0, errors end
  local p, e = unblock(ctx, set.key, set.lane, s.reason, cleared, verdicts, at)
  return verdicts, p, errors + e
end

local BY_SUFFIX = {}
for _, s in ipairs(SETS) do BY_SUFFIX[s.suffix] = s end

return walker.scanner {
  name = "unblock",
  library_versions = { "5", "34" },
  interval = 5,
  sets = walker.lanes(SETS[1].suffix, SETS[2].suffix, SETS[3].suffix), -- per lane, in this order
  now = false, -- read when needed: a quota window is checked against the time of the check
  state = function() return { budgets = {} } end, -- budget verdicts, caps load failure
  prefilter = filter.walk, -- spec 30 §3.4: each blocked member, before the HMGET
  items = function(ctx, st, entries, set)
    return visit(ctx, st, BY_SUFFIX[set.suffix], set, entries)
  end,
}
