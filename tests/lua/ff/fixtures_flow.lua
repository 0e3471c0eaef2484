-- ff.fixtures_flow: the fixture recipes of spec 20 §C (unblock, retention, dependency,
-- flow projector, budget reset/reconciler, quota reconciler) as plain Redis commands.
-- Every builder takes `r` (anything with r:call(cmd, ...): ctx.redis, the test host),
-- `now` (server ms, the recipe's NOW) and an optional opts table selecting the
-- variant; it returns the ids table. Ids and partitions are the ones §C names
-- (256 flow, 32 budget, 32 quota partitions). Every builder also takes an
-- optional id in opts (eid / fid / bid / qid, default the §C id) so a second,
-- independent instance can sit in the same partition (fault-suite neighbours).
local M = {}

M.ids = {
  tag = "{fp:24}", btag = "{b:31}", qtag = "{q:18}", lane = "default",
  E1 = "{fp:24}:aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
  E2 = "{fp:24}:bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb",
  U = "{fp:24}:cccccccc-cccc-4ccc-8ccc-cccccccccccc",
  B = "11111111-1111-4111-8111-111111111111",
  Q = "22222222-2222-4222-8222-222222222222",
  F = "550e8400-e29b-41d4-a716-446655440000",
}
local I = M.ids
M.counts = { flow = 256, budget = 32, quota = 32 }

-- Keys the recipes touch, bound to the §C partitions (built with ff.keys).
local keys = require "ff.keys"
local K = {}
M.keys = K
function K.core(eid) return keys.core(I.tag, eid) end
function K.exec(eid, suffix) return keys.exec(I.tag, eid, suffix) end
function K.lane(suffix) return keys.lane(I.tag, I.lane, suffix) end
function K.all_executions() return keys.all_executions(I.tag) end
function K.flow_index() return keys.flow_index(I.tag) end
function K.flow(suffix, fid) return keys.flow(I.tag, fid or I.F, suffix) end
function K.budget(suffix, bid)
  local k = keys.budget(I.btag, bid or I.B)
  return suffix and (k .. ":" .. suffix) or k
end
function K.budget_resets() return keys.budget_resets(I.btag) end
function K.budget_policies() return keys.budget_policies(I.btag) end
function K.quota(suffix, qid)
  local k = keys.quota(I.qtag, qid or I.Q)
  return suffix and (k .. ":" .. suffix) or k
end
function K.quota_policies() return keys.quota_policies(I.qtag) end

-- Generic builders of ff.fixtures: call (raises on a failed command) and hset
-- (map written in sorted field order).
local FX = require "ff.fixtures"
local call, hset_map = FX.call, FX.hset

-- Copy of base with extra on top; a value of false removes the field.
local function merge(base, extra)
  local out = FX.merge(base, extra)
  for k, v in pairs(out) do
    if v == false then out[k] = nil end
  end
  return out
end

---------------------------------------------------------------------------
-- C.1 unblock
---------------------------------------------------------------------------

-- Common E1 core of C.1 plus `fields` (a field set to false is omitted);
-- eid defaults to E1.
function M.blocked_core(r, fields, eid)
  eid = eid or I.E1
  hset_map(r, K.core(eid), merge({
    execution_id = eid, lane_id = "default", lifecycle_phase = "runnable",
    ownership_state = "unowned", terminal_outcome = "none",
    attempt_state = "pending_first_attempt", priority = "0", created_at = "1000",
    public_state = "rate_limited",
  }, fields))
end

-- opts: usage (tokens, default 50), core (extra/overriding core fields),
-- no_budget_ids, no_core, eid (default E1).
function M.unblock_budget(r, now, opts)
  opts = opts or {}
  if not opts.no_core then
    M.blocked_core(r, merge({
      eligibility_state = "blocked_by_budget", blocking_reason = "waiting_for_budget",
      budget_ids = (not opts.no_budget_ids) and I.B or false,
    }, opts.core), opts.eid)
  end
  call(r, "ZADD", K.lane("blocked:budget"), now - 5000, opts.eid or I.E1)
  if not opts.no_budget_ids then
    call(r, "HSET", K.budget("limits"), "hard:tokens", "100", "soft:tokens", "80")
    call(r, "HSET", K.budget("usage"), "tokens", tostring(opts.usage or 50))
  end
  return I
end

-- opts: window (list of {member, age_ms}; default the recipe's x1/x2/x3),
-- cap, counter, no_definition, core, eid (default E1).
function M.unblock_quota(r, now, opts)
  opts = opts or {}
  M.blocked_core(r, merge({
    eligibility_state = "blocked_by_quota", blocking_reason = "waiting_for_quota",
    quota_policy_id = I.Q,
  }, opts.core), opts.eid)
  call(r, "ZADD", K.lane("blocked:quota"), now - 5000, opts.eid or I.E1)
  if opts.no_definition then return I end
  call(r, "HSET", K.quota(), "max_requests_per_window", "3", "requests_per_window_seconds", "60",
    "active_concurrency_cap", tostring(opts.cap or 0))
  local window = opts.window or { { "x1", 120000 }, { "x2", 1000 }, { "x3", 500 } }
  for _, m in ipairs(window) do
    call(r, "ZADD", K.quota("window:requests_per_window"), now - m[2], m[1])
  end
  if opts.counter then call(r, "SET", K.quota("concurrency"), tostring(opts.counter)) end
  return I
end

-- opts: required (default "gpu,linux"), workers (map id → caps; default w1 = gpu,linux),
-- core, eid (default E1).
function M.unblock_route(r, now, opts)
  opts = opts or {}
  M.blocked_core(r, merge({
    eligibility_state = "blocked_by_route", blocking_reason = "waiting_for_capable_worker",
    required_capabilities = opts.required or "gpu,linux",
  }, opts.core), opts.eid)
  call(r, "ZADD", K.lane("blocked:route"), now - 5000, opts.eid or I.E1)
  for w, caps in pairs(opts.workers or { w1 = "gpu,linux" }) do
    call(r, "SADD", keys.WORKERS, w)
    call(r, "SET", keys.worker_caps(w), caps)
  end
  return I
end

---------------------------------------------------------------------------
-- C.2 retention_trimmer
---------------------------------------------------------------------------

-- Every key the C.2 recipe creates for E1 (the trimmer must delete all of them).
function M.retention_keys()
  return {
    K.core(I.E1), K.exec(I.E1, "policy"), K.exec(I.E1, "payload"), K.exec(I.E1, "result"),
    keys.attempt(I.tag, I.E1, 0), keys.stream_meta(I.tag, I.E1, 0),
    K.exec(I.E1, "deps:all_edges"), K.exec(I.E1, "dep:d1"), K.exec(I.E1, "waitpoints"),
    keys.waitpoint(I.tag, "w1"), K.exec(I.E1, "signals"), keys.signal(I.tag, "s1"),
  }
end

-- opts: age_ms (default 25 h), policy (JSON text, default "{}"), no_core,
-- completed_at (override; "" for the empty variant), eid (default E1).
function M.retention(r, now, opts)
  opts = opts or {}
  local e, t = opts.eid or I.E1, I.tag
  local done = now - (opts.age_ms or 90000000)
  call(r, "ZADD", K.lane("terminal"), done, e)
  if not opts.no_core then
    hset_map(r, K.core(e), {
      execution_id = e, lifecycle_phase = "terminal", terminal_outcome = "success",
      public_state = "completed", completed_at = opts.completed_at or tostring(done),
      total_attempt_count = "1",
    })
  end
  call(r, "SET", K.exec(e, "policy"), opts.policy or "{}")
  call(r, "SET", K.exec(e, "payload"), "p")
  call(r, "SET", K.exec(e, "result"), "r")
  call(r, "HSET", keys.attempt(t, e, 0), "attempt_state", "ended_success")
  call(r, "HSET", keys.stream_meta(t, e, 0), "closed_at", "1")
  call(r, "SADD", K.exec(e, "deps:all_edges"), "d1")
  call(r, "HSET", K.exec(e, "dep:d1"), "state", "satisfied")
  call(r, "SADD", K.exec(e, "waitpoints"), "w1")
  call(r, "HSET", keys.waitpoint(t, "w1"), "state", "closed")
  call(r, "ZADD", K.exec(e, "signals"), 1, "s1")
  call(r, "HSET", keys.signal(t, "s1"), "name", "x")
  call(r, "SADD", K.all_executions(), e)
  return I
end

---------------------------------------------------------------------------
-- C.3 dependency_reconciler
---------------------------------------------------------------------------

-- opts: upstream (map of upstream core fields; default terminal/success),
-- data_passing_ref, upstream_result, dep (extra/overriding dep fields),
-- empty_unresolved, core (extra child core fields), eid (child, default E1).
function M.dependency(r, now, opts)
  opts = opts or {}
  local e = opts.eid or I.E1
  hset_map(r, K.core(e), merge({
    execution_id = e, lane_id = "default", lifecycle_phase = "runnable",
    ownership_state = "unowned", terminal_outcome = "none",
    eligibility_state = "blocked_by_dependencies", blocking_reason = "waiting_for_children",
    attempt_state = "pending_first_attempt", public_state = "waiting_children",
    priority = "0", created_at = "1000", current_attempt_index = "",
  }, opts.core))
  call(r, "ZADD", K.lane("blocked:dependencies"), 1000, e)
  if not opts.empty_unresolved then call(r, "SADD", K.exec(e, "deps:unresolved"), "d1") end
  hset_map(r, K.exec(e, "dep:d1"), merge({
    edge_id = "d1", flow_id = I.F, upstream_execution_id = I.U, downstream_execution_id = e,
    dependency_kind = "success_only", state = "unsatisfied",
    data_passing_ref = opts.data_passing_ref or "", last_resolved_at = "",
  }, opts.dep))
  call(r, "HSET", K.exec(e, "deps:meta"), "unsatisfied_required_count", "1")
  hset_map(r, K.core(I.U), opts.upstream or { lifecycle_phase = "terminal", terminal_outcome = "success" })
  if opts.upstream_result then call(r, "SET", K.exec(I.U, "result"), opts.upstream_result) end
  return I
end

---------------------------------------------------------------------------
-- C.4 flow_projector
---------------------------------------------------------------------------

-- opts: states (map eid → public_state; default E1 completed, E2 active),
-- no_core, no_members, fid (default F).
function M.flow(r, now, opts)
  opts = opts or {}
  local f = opts.fid or I.F
  call(r, "SADD", K.flow_index(), f)
  if not opts.no_core then
    call(r, "HSET", K.flow("core", f), "flow_id", f, "public_flow_state", "open")
  end
  if opts.no_members then return I end
  for eid, state in pairs(opts.states or { [I.E1] = "completed", [I.E2] = "active" }) do
    call(r, "SADD", K.flow("members", f), eid)
    call(r, "HSET", K.core(eid), "public_state", state)
  end
  return I
end

---------------------------------------------------------------------------
-- C.5 budget_reset
---------------------------------------------------------------------------

-- opts: due_in_ms (score offset from now, default −1000), interval (text; false =
-- field absent; default "3600000"), no_definition, bid (default B).
function M.budget_reset(r, now, opts)
  opts = opts or {}
  local b = opts.bid or I.B
  call(r, "ZADD", K.budget_resets(), now + (opts.due_in_ms or -1000), b)
  if not opts.no_definition then
    local def = { budget_id = b, reset_count = "0" }
    if opts.interval ~= false then def.reset_interval_ms = opts.interval or "3600000" end
    hset_map(r, K.budget(nil, b), def)
  end
  call(r, "HSET", K.budget("usage", b), "tokens", "42", "cost_cents", "7")
  return I
end

---------------------------------------------------------------------------
-- C.6 budget_reconciler
---------------------------------------------------------------------------

-- opts: usage (tokens, default 150), breached_at, interval (default "0"),
-- no_limits, no_definition, bid (default B).
function M.budget_reconcile(r, now, opts)
  opts = opts or {}
  local b = opts.bid or I.B
  call(r, "SADD", K.budget_policies(), b)
  if not opts.no_definition then
    call(r, "HSET", K.budget(nil, b), "budget_id", b, "reset_interval_ms", opts.interval or "0")
  end
  if not opts.no_limits then
    call(r, "HSET", K.budget("limits", b), "hard:tokens", "100", "soft:tokens", "80")
  end
  call(r, "HSET", K.budget("usage", b), "tokens", tostring(opts.usage or 150))
  if opts.breached_at then call(r, "HSET", K.budget("usage", b), "breached_at", opts.breached_at) end
  return I
end

---------------------------------------------------------------------------
-- C.7 quota_reconciler
---------------------------------------------------------------------------

-- opts: cap (default "5"), window (list {member, age_ms}; default E1 2 min, E2 1 s),
-- admitted (list, default E1 E2), guards (list of members with a live guard;
-- default E2), counter (default "7"), no_definition, qid (default Q).
function M.quota_reconcile(r, now, opts)
  opts = opts or {}
  local q = opts.qid or I.Q
  call(r, "SADD", K.quota_policies(), q)
  if opts.no_definition then return I end
  call(r, "HSET", K.quota(nil, q), "quota_policy_id", q, "requests_per_window_seconds", "60",
    "max_requests_per_window", "10", "active_concurrency_cap", opts.cap or "5")
  for _, m in ipairs(opts.window or { { I.E1, 120000 }, { I.E2, 1000 } }) do
    call(r, "ZADD", K.quota("window:requests_per_window", q), now - m[2], m[1])
  end
  for _, e in ipairs(opts.admitted or { I.E1, I.E2 }) do
    call(r, "SADD", K.quota("admitted_set", q), e)
  end
  for _, e in ipairs(opts.guards or { I.E2 }) do
    call(r, "SET", K.quota("admitted:" .. e, q), "1", "PX", 60000)
  end
  call(r, "SET", K.quota("concurrency", q), opts.counter or "7")
  return I
end

return M
