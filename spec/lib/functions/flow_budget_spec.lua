-- scanhost's ff_unblock_execution, ff_resolve_dependency and ff_reset_budget
-- (spec 20 §B) against a real redis-server: exact state and replies for the main
-- paths and every rejection, plus the issue-4 fixes (B2, B3, B5, validate-before-write).
local S = require "spec.helpers.env"
local FX = require "ff.fixtures_flow"
local keys = require "ff.keys"
local I, K = FX.ids, FX.keys

local NOW = 1713600000000
local env, srv, h

local function unblock_keys(set)
  return { K.core(I.E1), K.lane(set), K.lane("eligible") }
end

local function unblock(set, now, reason)
  return h:fcall("ff_unblock_execution", unblock_keys(set), { I.E1, tostring(now), reason })
end

-- KEYS of ff_resolve_dependency for child E1, edge d1, attempt index `a`.
local function resolve_keys(a)
  a = a or "0"
  return {
    K.core(I.E1), K.exec(I.E1, "deps:meta"), K.exec(I.E1, "deps:unresolved"),
    K.exec(I.E1, "dep:d1"), K.lane("eligible"), K.lane("terminal"),
    K.lane("blocked:dependencies"), keys.attempt(I.tag, I.E1, a),
    keys.stream_meta(I.tag, I.E1, a), K.exec(I.E1, "payload"), K.exec(I.U, "result"),
  }
end

local function resolve(outcome, now, a)
  return h:fcall("ff_resolve_dependency", resolve_keys(a), { "d1", outcome, tostring(now) })
end

local function reset_budget(now)
  return h:fcall("ff_reset_budget", { K.budget(), K.budget("usage"), K.budget_resets() },
    { I.B, tostring(now) })
end

S.suite(function(e) env, srv, h = e, e.srv, e.r end, S.SECTION_C)

describe("ff_unblock_execution", function()
  it("unblocks a budget-blocked execution (C.1 main case)", function()
    FX.unblock_budget(h, NOW)
    assert.same({ 1, "OK", "unblocked" }, unblock("blocked:budget", NOW, "waiting_for_budget"))
    local core = S.hgetall(h, K.core(I.E1))
    assert.same({
      execution_id = I.E1, lane_id = "default", lifecycle_phase = "runnable",
      ownership_state = "unowned", eligibility_state = "eligible_now",
      blocking_reason = "waiting_for_worker", blocking_detail = "", terminal_outcome = "none",
      attempt_state = "pending_first_attempt", public_state = "waiting", priority = "0",
      created_at = "1000", budget_ids = I.B,
      last_transition_at = tostring(NOW), last_mutation_at = tostring(NOW),
    }, core)
    assert.same({}, S.zset(h, K.lane("blocked:budget")))
    assert.same({ [I.E1] = 1000 }, S.zset(h, K.lane("eligible")))
  end)

  it("defaults an absent attempt_state and keeps an empty one", function()
    FX.unblock_budget(h, NOW, { core = { attempt_state = false } })
    assert.same({ 1, "OK", "unblocked" }, unblock("blocked:budget", NOW, "waiting_for_budget"))
    assert.equal("pending_first_attempt", h:call("HGET", K.core(I.E1), "attempt_state"))
    env:flush()
    FX.unblock_budget(h, NOW, { core = { attempt_state = "" } })
    assert.same({ 1, "OK", "unblocked" }, unblock("blocked:budget", NOW, "waiting_for_budget"))
    assert.equal("", h:call("HGET", K.core(I.E1), "attempt_state"))
  end)

  it("scores by created_at - priority * 10^12", function()
    FX.unblock_route(h, NOW, { core = { priority = "5" } })
    assert.same({ 1, "OK", "unblocked" }, unblock("blocked:route", NOW, ""))
    assert.same({ [I.E1] = 1000 - 5 * 1e12 }, S.zset(h, K.lane("eligible")))
  end)

  local function assert_rejected(code, set, reason)
    local before = S.dump(h)
    assert.same({ 0, code }, unblock(set, NOW, reason))
    assert.same(before, S.dump(h))
  end

  it("rejects a missing core and leaves the member", function()
    FX.unblock_budget(h, NOW, { no_core = true })
    assert_rejected("execution_not_found", "blocked:budget", "waiting_for_budget")
  end)

  it("rejects a non-runnable phase", function()
    FX.unblock_budget(h, NOW, { core = { lifecycle_phase = "active" } })
    assert_rejected("execution_not_eligible", "blocked:budget", "waiting_for_budget")
  end)

  it("rejects an execution that is not blocked (eligible_now)", function()
    FX.unblock_budget(h, NOW, { core = { eligibility_state = "eligible_now" } })
    assert_rejected("execution_not_eligible", "blocked:budget", "waiting_for_budget")
  end)

  it("rejects blocked_by_lane_state (paused_by_policy)", function()
    FX.unblock_budget(h, NOW, { core = { eligibility_state = "blocked_by_lane_state" } })
    assert_rejected("execution_not_eligible", "blocked:budget", "")
  end)

  it("rejects a different blocking reason, and an empty ARGV[3] disables the check", function()
    FX.unblock_budget(h, NOW, { core = { blocking_reason = "paused_by_flow_cancel" } })
    assert_rejected("execution_not_eligible", "blocked:budget", "waiting_for_budget")
    assert.same({ 1, "OK", "unblocked" }, unblock("blocked:budget", NOW, ""))
  end)

  it("accepts blocked_by_operator", function()
    FX.unblock_budget(h, NOW, { core = { eligibility_state = "blocked_by_operator" } })
    assert.same({ 1, "OK", "unblocked" }, unblock("blocked:budget", NOW, nil))
  end)

  it("fix: a non-numeric created_at is refused before any write", function()
    FX.unblock_budget(h, NOW, { core = { created_at = "" } })
    local before = S.dump(h)
    assert.same({ 0, "invalid_state", "created_at" },
      unblock("blocked:budget", NOW, "waiting_for_budget"))
    assert.same(before, S.dump(h))
  end)

  it("fix: a non-numeric priority or now_ms is refused before any write", function()
    FX.unblock_budget(h, NOW, { core = { priority = "high" } })
    local before = S.dump(h)
    assert.same({ 0, "invalid_state", "priority" },
      unblock("blocked:budget", NOW, "waiting_for_budget"))
    assert.same({ 0, "invalid_argument", "now_ms" },
      unblock("blocked:budget", "soon", "waiting_for_budget"))
    assert.same(before, S.dump(h))
  end)
end)

describe("ff_resolve_dependency", function()
  it("satisfies the edge and promotes the child (C.3 main case)", function()
    FX.dependency(h, NOW)
    assert.same({ 1, "OK", "satisfied", "" }, resolve("success", NOW))
    local dep = S.hgetall(h, K.exec(I.E1, "dep:d1"))
    assert.equal("satisfied", dep.state)
    assert.equal(tostring(NOW), dep.last_resolved_at)
    assert.same({}, S.smembers(h, K.exec(I.E1, "deps:unresolved")))
    assert.same({ unsatisfied_required_count = "0", last_dependency_update_at = tostring(NOW) },
      S.hgetall(h, K.exec(I.E1, "deps:meta")))
    local core = S.hgetall(h, K.core(I.E1))
    assert.equal("eligible_now", core.eligibility_state)
    assert.equal("waiting_for_worker", core.blocking_reason)
    assert.equal("", core.blocking_detail)
    assert.equal("waiting", core.public_state)
    assert.equal("runnable", core.lifecycle_phase)
    assert.equal("unowned", core.ownership_state)
    assert.equal("pending_first_attempt", core.attempt_state)
    assert.equal(tostring(NOW), core.last_transition_at)
    assert.equal(tostring(NOW), core.last_mutation_at)
    assert.same({}, S.zset(h, K.lane("blocked:dependencies")))
    assert.same({ [I.E1] = 1000 }, S.zset(h, K.lane("eligible")))
  end)

  it("copies the upstream result when the edge passes data", function()
    FX.dependency(h, NOW, { data_passing_ref = "r1", upstream_result = "out" })
    assert.same({ 1, "OK", "satisfied", "data_injected" }, resolve("success", NOW))
    assert.equal("out", h:call("GET", K.exec(I.E1, "payload")))
  end)

  it("leaves the payload alone when the upstream has no result", function()
    FX.dependency(h, NOW, { data_passing_ref = "r1" })
    h:call("SET", K.exec(I.E1, "payload"), "mine")
    assert.same({ 1, "OK", "satisfied", "" }, resolve("success", NOW))
    assert.equal("mine", h:call("GET", K.exec(I.E1, "payload")))
  end)

  it("does not promote while other edges remain", function()
    FX.dependency(h, NOW)
    h:call("HSET", K.exec(I.E1, "deps:meta"), "unsatisfied_required_count", "2")
    assert.same({ 1, "OK", "satisfied", "" }, resolve("success", NOW))
    assert.equal("1", h:call("HGET", K.exec(I.E1, "deps:meta"), "unsatisfied_required_count"))
    assert.equal("blocked_by_dependencies", h:call("HGET", K.core(I.E1), "eligibility_state"))
    assert.same({ [I.E1] = 1000 }, S.zset(h, K.lane("blocked:dependencies")))
  end)

  it("skips the child on an impossible edge (C.3 impossible variant)", function()
    FX.dependency(h, NOW, { upstream = { lifecycle_phase = "terminal", terminal_outcome = "failed" } })
    assert.same({ 1, "OK", "impossible", "child_skipped" }, resolve("failed", NOW))
    assert.equal("impossible", h:call("HGET", K.exec(I.E1, "dep:d1"), "state"))
    assert.same({ unsatisfied_required_count = "0", impossible_required_count = "1",
      last_dependency_update_at = tostring(NOW) }, S.hgetall(h, K.exec(I.E1, "deps:meta")))
    local core = S.hgetall(h, K.core(I.E1))
    assert.equal("terminal", core.lifecycle_phase)
    assert.equal("skipped", core.terminal_outcome)
    assert.equal("skipped", core.public_state)
    assert.equal("not_applicable", core.eligibility_state)
    assert.equal("none", core.blocking_reason)
    assert.equal("none", core.attempt_state)
    assert.equal(tostring(NOW), core.completed_at)
    assert.same({}, S.zset(h, K.lane("blocked:dependencies")))
    assert.same({ [I.E1] = NOW }, S.zset(h, K.lane("terminal")))
  end)

  it("ends a running attempt of a skipped child", function()
    FX.dependency(h, NOW, { core = { attempt_state = "running_attempt", current_attempt_index = "0" } })
    h:call("HSET", keys.stream_meta(I.tag, I.E1, 0), "started_at", "1")
    assert.same({ 1, "OK", "impossible", "child_skipped" }, resolve("cancelled", NOW))
    assert.equal("attempt_terminal", h:call("HGET", K.core(I.E1), "attempt_state"))
    assert.same({ attempt_state = "ended_cancelled", ended_at = tostring(NOW),
      failure_reason = "dependency_impossible" }, S.hgetall(h, keys.attempt(I.tag, I.E1, 0)))
    assert.same({ started_at = "1", closed_at = tostring(NOW), closed_reason = "dependency_impossible" },
      S.hgetall(h, keys.stream_meta(I.tag, I.E1, 0)))
  end)

  it("answers already_resolved and changes nothing", function()
    FX.dependency(h, NOW, { dep = { state = "satisfied" } })
    local before = S.dump(h)
    assert.same({ 1, "OK", "already_resolved" }, resolve("success", NOW))
    assert.same(before, S.dump(h))
  end)

  it("rejects a missing dependency record", function()
    FX.dependency(h, NOW)
    h:call("DEL", K.exec(I.E1, "dep:d1"))
    local before = S.dump(h)
    assert.same({ 0, "invalid_dependency" }, resolve("success", NOW))
    assert.same(before, S.dump(h))
  end)

  it("consumes the edge even when the child core is gone (0.1.1 behaviour)", function()
    FX.dependency(h, NOW)
    h:call("DEL", K.core(I.E1))
    assert.same({ 1, "OK", "satisfied", "" }, resolve("success", NOW))
    assert.equal("0", h:call("HGET", K.exec(I.E1, "deps:meta"), "unsatisfied_required_count"))
  end)

  it("fix: a non-numeric created_at on a promotable child changes nothing", function()
    FX.dependency(h, NOW, { core = { created_at = "soon" } })
    local before = S.dump(h)
    assert.same({ 0, "invalid_state", "created_at" }, resolve("success", NOW))
    assert.same(before, S.dump(h))
  end)

  it("fix: a non-integer counter or now_ms changes nothing", function()
    FX.dependency(h, NOW)
    h:call("HSET", K.exec(I.E1, "deps:meta"), "unsatisfied_required_count", "one")
    local before = S.dump(h)
    assert.same({ 0, "invalid_state", "unsatisfied_required_count" }, resolve("success", NOW))
    assert.same({ 0, "invalid_state", "unsatisfied_required_count" }, resolve("failed", NOW))
    assert.same({ 0, "invalid_argument", "now_ms" }, resolve("success", "later"))
    assert.same(before, S.dump(h))
  end)

  -- found by tests/faults/malformed_flow_spec.lua: HINCRBY refused the counter
  -- after the edge was already marked and removed from deps:unresolved
  it("fix: a counter HINCRBY would refuse (huge, zero-padded) changes nothing", function()
    for _, bad in ipairs({ ("9"):rep(40), "01", "-0" }) do
      env:flush()
      FX.dependency(h, NOW)
      h:call("HSET", K.exec(I.E1, "deps:meta"), "unsatisfied_required_count", bad)
      local before = S.dump(h)
      assert.same({ 0, "invalid_state", "unsatisfied_required_count" }, resolve("success", NOW))
      assert.same({ 0, "invalid_state", "unsatisfied_required_count" }, resolve("failed", NOW))
      assert.same(before, S.dump(h))
    end
  end)

  -- found by tests/faults/malformed_flow_spec.lua: the index member is the core's
  -- execution_id, so a corrupt one put a foreign member into eligible/terminal
  it("fix: an execution_id that does not name the core changes nothing", function()
    for _, bad in ipairs({ "", "x!", I.E2 }) do
      env:flush()
      FX.dependency(h, NOW, { core = { execution_id = bad } })
      local before = S.dump(h)
      assert.same({ 0, "invalid_state", "execution_id" }, resolve("success", NOW))
      assert.same({ 0, "invalid_state", "execution_id" }, resolve("failed", NOW))
      assert.same(before, S.dump(h))
    end
  end)
end)

describe("ff_reset_budget", function()
  local HOUR = 3600000

  it("zeroes usage and reschedules one interval after the previous schedule (C.5)", function()
    FX.budget_reset(h, NOW)          -- scheduled at NOW-1000
    local prev = NOW - 1000
    assert.same({ 1, "OK", tostring(prev + HOUR) }, reset_budget(NOW))
    assert.same({ tokens = "0", cost_cents = "0" }, S.hgetall(h, K.budget("usage")))
    assert.same({
      budget_id = I.B, reset_interval_ms = tostring(HOUR), reset_count = "1",
      last_reset_at = tostring(NOW), last_updated_at = tostring(NOW),
      last_breach_at = "", last_breach_dim = "", next_reset_at = tostring(prev + HOUR),
    }, S.hgetall(h, K.budget()))
    assert.same({ [I.B] = prev + HOUR }, S.zset(h, K.budget_resets()))
  end)

  it("applies a one-off reset when there is no interval", function()
    for _, interval in ipairs({ false, "0", "" }) do
      env:flush()
      FX.budget_reset(h, NOW, { interval = interval })
      assert.same({ 1, "OK", "0" }, reset_budget(NOW))
      assert.same({}, S.zset(h, K.budget_resets()))
      local def = S.hgetall(h, K.budget())
      assert.equal("1", def.reset_count)
      assert.is_nil(def.next_reset_at)
      assert.same({ tokens = "0", cost_cents = "0" }, S.hgetall(h, K.budget("usage")))
    end
  end)

  it("zeroes every usage field, breached_at included (B4 kept)", function()
    FX.budget_reset(h, NOW)
    h:call("HSET", K.budget("usage"), "breached_at", "123")
    reset_budget(NOW)
    assert.same({ tokens = "0", cost_cents = "0", breached_at = "0" }, S.hgetall(h, K.budget("usage")))
  end)

  it("fix B2: a deleted budget is not recreated and leaves the schedule", function()
    FX.budget_reset(h, NOW, { no_definition = true })
    assert.same({ 0, "budget_not_found" }, reset_budget(NOW))
    assert.is_false(S.exists(h, K.budget()))
    assert.same({}, S.zset(h, K.budget_resets()))
    assert.same({ tokens = "42", cost_cents = "7" }, S.hgetall(h, K.budget("usage")))
  end)

  it("fix B3: no drift - scanner latency does not shift the schedule", function()
    FX.budget_reset(h, NOW, { due_in_ms = 0 })       -- due exactly at NOW
    assert.same({ 1, "OK", tostring(NOW + HOUR) }, reset_budget(NOW + 4321))
    assert.same({ [I.B] = NOW + HOUR }, S.zset(h, K.budget_resets()))
  end)

  it("fix B3: after downtime one reset, next time on the original grid", function()
    FX.budget_reset(h, NOW, { due_in_ms = -(3 * HOUR + 1800000) }) -- 3.5 intervals overdue
    local prev = NOW - 3 * HOUR - 1800000
    assert.same({ 1, "OK", tostring(prev + 4 * HOUR) }, reset_budget(NOW))
    assert.equal("1", h:call("HGET", K.budget(), "reset_count"))
    assert.is_true(prev + 4 * HOUR > NOW)
    -- not due again until then: the next reset would land one interval later
    assert.same({ [I.B] = prev + 4 * HOUR }, S.zset(h, K.budget_resets()))
  end)

  it("fix B3: without a schedule entry it starts from next_reset_at, then from now", function()
    FX.budget_reset(h, NOW)
    h:call("ZREM", K.budget_resets(), I.B)
    h:call("HSET", K.budget(), "next_reset_at", tostring(NOW - 10))
    assert.same({ 1, "OK", tostring(NOW - 10 + HOUR) }, reset_budget(NOW))
    env:flush()
    FX.budget_reset(h, NOW)
    h:call("ZREM", K.budget_resets(), I.B)
    assert.same({ 1, "OK", tostring(NOW + HOUR) }, reset_budget(NOW))
  end)

  it("fix B5: a non-numeric interval changes nothing", function()
    FX.budget_reset(h, NOW, { interval = "hourly" })
    local before = S.dump(h)
    assert.same({ 0, "invalid_state", "reset_interval_ms" }, reset_budget(NOW))
    assert.same(before, S.dump(h))
  end)

  -- Issue 14: two instances acting on the same read of a due budget. 0.1.1's
  -- function reset it twice: reset_count 2, the usage recorded between the two
  -- calls lost, next_reset_at two intervals ahead (a period skipped).
  it("fix: a second call for the same period changes nothing, usage recorded between is kept", function()
    FX.budget_reset(h, NOW)
    local prev = NOW - 1000
    assert.same({ 1, "OK", tostring(prev + HOUR) }, reset_budget(NOW))
    h:call("HINCRBY", K.budget("usage"), "tokens", 5) -- usage after the reset
    local def, usage = S.hgetall(h, K.budget()), S.hgetall(h, K.budget("usage"))
    for _, now in ipairs({ NOW, NOW + 1, prev + HOUR - 1 }) do -- the same period
      assert.same({ 0, "not_due" }, reset_budget(now))
    end
    assert.same(def, S.hgetall(h, K.budget()))
    assert.same(usage, S.hgetall(h, K.budget("usage")))
    assert.equal("5", usage.tokens)
    assert.equal("1", def.reset_count)
    assert.same({ [I.B] = prev + HOUR }, S.zset(h, K.budget_resets()))
    -- the next period resets again, once
    assert.same({ 1, "OK", tostring(prev + 2 * HOUR) }, reset_budget(prev + HOUR))
    assert.same({ 0, "not_due" }, reset_budget(prev + HOUR))
    assert.equal("2", h:call("HGET", K.budget(), "reset_count"))
  end)

  it("fix: a one-off reset (no interval) applies once", function()
    FX.budget_reset(h, NOW, { interval = "0" })
    assert.same({ 1, "OK", "0" }, reset_budget(NOW))
    h:call("HINCRBY", K.budget("usage"), "tokens", 3)
    assert.same({ 0, "not_due" }, reset_budget(NOW + 1))
    assert.equal("3", h:call("HGET", K.budget("usage"), "tokens"))
    assert.equal("1", h:call("HGET", K.budget(), "reset_count"))
  end)

  it("fix: out of the schedule, a reset since next_reset_at is not applied again", function()
    FX.budget_reset(h, NOW)
    h:call("ZREM", K.budget_resets(), I.B)
    h:call("HSET", K.budget(), "next_reset_at", tostring(NOW - 10), "last_reset_at", tostring(NOW - 5))
    assert.same({ 0, "not_due" }, reset_budget(NOW))
    h:call("HSET", K.budget(), "next_reset_at", tostring(NOW + 10), "last_reset_at", "")
    assert.same({ 0, "not_due" }, reset_budget(NOW))
    assert.equal("0", h:call("HGET", K.budget(), "reset_count"))
  end)

  it("fix: a budget scheduled later is not reset", function()
    FX.budget_reset(h, NOW, { due_in_ms = 60000 })
    local before = S.dump(h)
    assert.same({ 0, "not_due" }, reset_budget(NOW))
    assert.same(before, S.dump(h))
  end)

  it("fix: a non-numeric now_ms or reset_count changes nothing", function()
    FX.budget_reset(h, NOW)
    local before = S.dump(h)
    assert.same({ 0, "invalid_argument", "now_ms" }, reset_budget("now"))
    h:call("HSET", K.budget(), "reset_count", "x")
    before = S.dump(h)
    assert.same({ 0, "invalid_state", "reset_count" }, reset_budget(NOW))
    assert.same(before, S.dump(h))
  end)

  -- found by tests/faults/malformed_flow_spec.lua: HINCRBY refused a huge or
  -- zero-padded reset_count after usage was zeroed, and a huge interval wrote
  -- next_reset_at "-9223372036854775808"
  it("fix: integers HINCRBY refuses or a double cannot hold change nothing", function()
    for _, c in ipairs({ { "reset_count", ("9"):rep(40) }, { "reset_count", "01" },
      { "reset_count", "-0" }, { "reset_interval_ms", ("9"):rep(40) } }) do
      env:flush()
      FX.budget_reset(h, NOW)
      h:call("HSET", K.budget(), c[1], c[2])
      local before = S.dump(h)
      assert.same({ 0, "invalid_state", c[1] }, reset_budget(NOW))
      assert.same(before, S.dump(h))
    end
  end)
end)
