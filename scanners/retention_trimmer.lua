-- retention_trimmer: deletes terminal executions (and every key they own) once
-- their retention has elapsed (spec 20 §A.2). {fp:N} partitions; every 60 s;
-- 20 purges per lane per partition per cycle; default retention 24 h; DEL in
-- chunks of 500 keys.
-- scanhost fixes (R1-R6):
-- * candidates are walked in completion order with a cursor (at most `scan`
--   entries per lane per cycle), so an execution's own shorter retention takes
--   effect and longer ones never block the batch;
-- * every discovery read (policy, edges, waitpoints, signals, attempts) must
--   succeed before anything is deleted: an error is an error, never a partial purge;
-- * a core without a usable completed_at is reported (warn + error), not
--   half-deleted; an index entry whose core is already gone (an interrupted purge)
--   is finished using the index score as completion time;
-- * attempts listed in :attempts are deleted too (R4), and the execution leaves
--   its flow (members set, per-member and adjacency keys) (R5, R6);
-- * a total_attempt_count that is absent or not an integer up to `max_attempts`
--   is not trusted (a huge one would build an endless key list): the attempt
--   hashes that exist are counted instead, as for a core that is gone; a present
--   bad value is reported (warn).
local keys = require "ff.keys"
local json = require "ff.json"
local util = require "ff.util"
local walker = require "ff.walker"

-- Retention of one execution from its policy JSON (0.1.1 rule: only a JSON
-- non-negative integer stream_policy.retention_ttl_ms counts, else the default).
local function retention_of(policy, default)
  if not policy or policy == "" then return default end
  local doc = json.decode(policy)
  local sp = type(doc) == "table" and doc.stream_policy
  local v = type(sp) == "table" and json.uint(sp.retention_ttl_ms)
  return v or default
end

-- Reads the core facts and the policy; returns rec | nil, err.
local function read_record(ctx, eid)
  local T = ctx.tag
  local res = ctx.redis:pipeline({
    { "EXISTS", keys.core(T, eid) },
    { "HMGET", keys.core(T, eid), "completed_at", "total_attempt_count", "flow_id" },
    { "GET", keys.policy(T, eid) },
  })
  local err = util.first_err(res)
  if err then return nil, err end
  local f = res[2]
  return { exists = res[1] == 1, completed_at = f[1], attempts = util.uint(f[2] or ""),
    attempts_text = f[2], flow_id = f[3] or "", policy = res[3] }
end

-- Lists the sub-key ids; returns d | nil, err (any failed read aborts the purge).
local function discover(ctx, eid)
  local T = ctx.tag
  local res = ctx.redis:pipeline({
    { "SMEMBERS", keys.exec(T, eid, "deps:all_edges") },
    { "SMEMBERS", keys.exec(T, eid, "waitpoints") },
    { "ZRANGE", keys.exec(T, eid, "signals"), 0, -1 },
    { "ZRANGE", keys.exec(T, eid, "attempts"), 0, -1 },
  })
  local err = util.first_err(res)
  if err then return nil, err end
  return { edges = res[1], waitpoints = res[2], signals = res[3], attempt_ids = res[4] }
end

-- Without a core the attempt count is unknown: count the dense run of attempt
-- hashes 0, 1, ... that still exist (16 EXISTS per round trip); n | nil, err.
local function probe_attempts(ctx, eid)
  local n = 0
  while true do
    local cmds = {}
    for i = n, n + 15 do cmds[#cmds + 1] = { "EXISTS", keys.attempt(ctx.tag, eid, i) } end
    local res = ctx.redis:pipeline(cmds)
    local err = util.first_err(res)
    if err then return nil, err end
    for _, r in ipairs(res) do
      if r ~= 1 then return n end
      n = n + 1
    end
  end
end

-- Attempt indexes 0..count-1 plus any listed in :attempts (R4), deduplicated.
local function attempt_indexes(count, listed)
  local seen, out = {}, {}
  local function add(i)
    i = tostring(i)
    if not seen[i] then seen[i] = true; out[#out + 1] = i end
  end
  for i = 0, count - 1 do add(i) end
  for _, i in ipairs(listed) do add(i) end
  return out
end

-- Every key the execution owns, except core and policy (deleted last), in 0.1.1 order.
local function owned_keys(T, eid, rec, d)
  local out = {}
  local function add(k) out[#out + 1] = k end
  for _, s in ipairs({ "payload", "result", "tags", "lease:current", "lease:history",
    "claim_grant", "attempts" }) do add(keys.exec(T, eid, s)) end
  for _, i in ipairs(attempt_indexes(rec.attempts, d.attempt_ids)) do
    add(keys.attempt(T, eid, i)); add(keys.attempt(T, eid, i, "usage"))
    add(keys.attempt(T, eid, i, "policy")); add(keys.stream(T, eid, i)); add(keys.stream_meta(T, eid, i))
  end
  add(keys.suspension_current(T, eid))
  for _, s in ipairs({ "deps:meta", "deps:unresolved", "deps:all_edges" }) do add(keys.exec(T, eid, s)) end
  for _, e in ipairs(d.edges) do add(keys.dep(T, eid, e)) end
  add(keys.exec(T, eid, "waitpoints"))
  for _, w in ipairs(d.waitpoints) do
    add(keys.waitpoint(T, w)); add(keys.waitpoint_signals(T, w)); add(keys.waitpoint_condition(T, w))
  end
  add(keys.exec(T, eid, "signals"))
  for _, g in ipairs(d.signals) do add(keys.signal(T, g)); add(keys.signal_payload(T, g)) end
  if rec.flow_id ~= "" then
    add(keys.flow(T, rec.flow_id, "member:" .. eid))
    add(keys.flow_out(T, rec.flow_id, eid)); add(keys.flow_in(T, rec.flow_id, eid))
  end
  return out
end

-- DEL in chunks of at most `chunk` keys, one pipelined write; true | nil, err.
local function delete_keys(ctx, list, chunk)
  local cmds = {}
  for i = 1, #list, chunk do
    local c = { "DEL" }
    for j = i, math.min(i + chunk - 1, #list) do c[#c + 1] = list[j] end
    cmds[#cmds + 1] = c
  end
  if #cmds == 0 then return true end
  local res = ctx.redis:pipeline(cmds)
  local err = util.first_err(res)
  if err then return nil, err end
  return true
end

-- Last step: flow membership, then core+policy, then the indexes (a failure before
-- DEL core leaves the record in place, so the next pass redoes everything).
local function unlink(ctx, eid, rec, lane)
  local T = ctx.tag
  local cmds = {}
  if rec.flow_id ~= "" then cmds[1] = { "SREM", keys.flow_members(T, rec.flow_id), eid } end
  cmds[#cmds + 1] = { "DEL", keys.core(T, eid), keys.policy(T, eid) }
  cmds[#cmds + 1] = { "ZREM", keys.lane(T, lane, "terminal"), eid }
  cmds[#cmds + 1] = { "SREM", keys.all_executions(T), eid }
  local err = util.first_err(ctx.redis:pipeline(cmds))
  if err then return nil, err end
  return true
end

-- purge(E) -> "purged" | "not_due" | nil, err
local function purge(ctx, eid, score, lane, now)
  local rec, err = read_record(ctx, eid)
  if not rec then return nil, err end
  local done = rec.exists and util.uint(rec.completed_at or "") or (not rec.exists and score)
  if not done then
    return nil, "core has no usable completed_at (" .. tostring(rec.completed_at) .. "), not purged"
  end
  if now < done + retention_of(rec.policy, ctx.config.retention_ms) then return "not_due" end
  local d, derr = discover(ctx, eid)
  if not d then return nil, derr end
  if not rec.exists or not rec.attempts or rec.attempts > ctx.config.max_attempts then
    if rec.exists and rec.attempts_text then
      ctx.log:warn("unusable total_attempt_count, deleting the attempts that exist",
        { execution_id = eid, total_attempt_count = rec.attempts_text })
    end
    rec.attempts, derr = probe_attempts(ctx, eid)
    if not rec.attempts then return nil, derr end
  end
  local ok, delerr = delete_keys(ctx, owned_keys(ctx.tag, eid, rec, d), ctx.config.chunk)
  if not ok then return nil, delerr end
  ok, delerr = unlink(ctx, eid, rec, lane)
  if not ok then return nil, delerr end
  ctx.log:debug("purged", { execution_id = eid, attempts = rec.attempts,
    waitpoints = #d.waitpoints, signals = #d.signals })
  return "purged"
end

-- trim(ctx, st, eid, score, set) -> kept, processed, errors
local function trim(ctx, st, eid, score, set)
  local res, err = purge(ctx, eid, score, set.lane, st.now)
  if res == "purged" then return false, 1, 0 end
  if res == nil then
    ctx.log:warn("retention purge failed", { execution_id = eid, error = err })
    return true, 0, 1
  end
  return true, 0, 0
end

return walker.scanner {
  name = "retention_trimmer",
  interval = 60,
  defaults = { batch = 20, scan = 200, retention_ms = 86400000, chunk = 500, max_attempts = 10000 },
  bounds = {
    scan = { integer = true, min = 1, max = 100000 },
    retention_ms = { integer = true, min = 0, max = 3650 * 86400000 },
    chunk = { integer = true, min = 1, max = 100000 },
    max_attempts = { integer = true, min = 1, max = 10000000 },
  },
  order = { { "batch", "scan" } },
  sets = walker.lanes("terminal"),
  due = true, -- completion time <= now; the retention itself is checked per record
  limit = function(ctx) return ctx.config.scan end,
  most = function(ctx) return ctx.config.batch end,
  item = trim,
}
