-- retention_trimmer, dependency_reconciler and flow_projector (spec 20 §A.2–A.4,
-- §C.2–C.4) through the test host against a real redis-server with scanhost's
-- library: exact state and (processed, errors) for every §C case, plus the
-- issue-4 fixes R1–R6, D1/D2/G1, F1/F2/F7.
local S = require "spec.helpers.fb_spec"
local FX = require "ff.fixtures_flow"
local keys = require "ff.keys"
local I, K = FX.ids, FX.keys

local DAY = 86400000
local srv, h

setup(function() srv, h = S.start() end)
teardown(function() S.stop(srv, h) end)
before_each(function() S.reset(h) end)

local function once(name)
  local p, e = h:once(name)
  return { p, e }
end

local function eid(i) return string.format("{fp:24}:00000000-0000-4000-8000-%012d", i) end

describe("retention_trimmer", function()
  it("purges an execution past the default retention, every key (C.2)", function()
    FX.retention(h, S.now(h))
    assert.same({ 1, 0 }, once("retention_trimmer"))
    assert.same({}, S.dump(h))
  end)

  it("does not touch an execution completed 1 h ago", function()
    FX.retention(h, S.now(h), { age_ms = 3600000 })
    local before = S.dump(h)
    assert.same({ 0, 0 }, once("retention_trimmer"))
    assert.same(before, S.dump(h))
  end)

  it("keeps an execution whose own retention (48 h) is not over", function()
    FX.retention(h, S.now(h), { policy = '{"stream_policy":{"retention_ttl_ms":172800000}}' })
    local before = S.dump(h)
    assert.same({ 0, 0 }, once("retention_trimmer"))
    assert.same(before, S.dump(h))
  end)

  it("fix R1: honours a per-execution retention shorter than 24 h", function()
    FX.retention(h, S.now(h), { age_ms = 3600000, policy = '{"stream_policy":{"retention_ttl_ms":1000}}' })
    assert.same({ 1, 0 }, once("retention_trimmer"))
    assert.same({}, S.dump(h))
  end)

  it("only honours a JSON unsigned integer retention (R7 kept)", function()
    FX.retention(h, S.now(h), { age_ms = 3600000, policy = '{"stream_policy":{"retention_ttl_ms":1000.0}}' })
    local before = S.dump(h)
    assert.same({ 0, 0 }, once("retention_trimmer"))
    assert.same(before, S.dump(h))
  end)

  it("fix R1: 25 long-retention executions ahead do not block a due one", function()
    local now = S.now(h)
    for i = 1, 25 do
      local e = eid(i)
      h:call("ZADD", K.lane("terminal"), now - 2 * DAY + i, e)
      h:call("HSET", K.core(e), "completed_at", tostring(now - 2 * DAY + i))
      h:call("SET", K.exec(e, "policy"), '{"stream_policy":{"retention_ttl_ms":999999999999}}')
    end
    FX.retention(h, now)
    assert.same({ 1, 0 }, once("retention_trimmer"))
    assert.is_false(S.exists(h, K.core(I.E1)))
    assert.equal(25, h:call("ZCARD", K.lane("terminal")))
  end)

  it("fix R2: a core without completed_at is reported and nothing is deleted", function()
    FX.retention(h, S.now(h), { completed_at = "" })
    local before = S.dump(h)
    assert.same({ 0, 1 }, once("retention_trimmer"))
    assert.same(before, S.dump(h))
  end)

  it("finishes an interrupted purge when the core is already gone", function()
    FX.retention(h, S.now(h), { no_core = true })
    assert.same({ 1, 0 }, once("retention_trimmer"))
    assert.same({}, S.dump(h))
  end)

  it("fix R3: a discovery error is an error and deletes nothing", function()
    FX.retention(h, S.now(h))
    h:call("DEL", K.exec(I.E1, "waitpoints"))
    h:call("HSET", K.exec(I.E1, "waitpoints"), "w1", "1")
    local before = S.dump(h)
    assert.same({ 0, 1 }, once("retention_trimmer"))
    assert.same(before, S.dump(h))
  end)

  it("fix R4: deletes attempts listed in :attempts beyond total_attempt_count", function()
    FX.retention(h, S.now(h))
    h:call("ZADD", K.exec(I.E1, "attempts"), 1, "0", 2, "1")
    h:call("HSET", keys.attempt(I.tag, I.E1, 1), "attempt_state", "ended_failure")
    h:call("HSET", keys.attempt(I.tag, I.E1, 1, "usage"), "tokens", "1")
    assert.same({ 1, 0 }, once("retention_trimmer"))
    assert.same({}, S.dump(h))
  end)

  -- found by tests/faults/malformed_flow_spec.lua: a huge count built an endless
  -- key list (the scanner ran away and stopped for good); "" orphaned attempt 0.
  -- A host of its own, so a runaway cannot stop the scanner for later tests.
  it("fix: an unusable total_attempt_count deletes the attempts that exist", function()
    local srv2, h2 = S.start()
    finally(function() S.stop(srv2, h2) end)
    for _, bad in ipairs({ "", "x!", "10001", ("9"):rep(40) }) do
      S.reset(h2)
      FX.retention(h2, S.now(h2))
      h2:call("HSET", K.core(I.E1), "total_attempt_count", bad)
      h2:call("HSET", keys.attempt(I.tag, I.E1, 1), "attempt_state", "ended_failure")
      assert.same({ 1, 0, 0 }, { h2:once("retention_trimmer") })
      assert.same({}, S.dump(h2))
    end
  end)

  it("fix R6: a purged execution leaves its flow", function()
    FX.retention(h, S.now(h))
    h:call("HSET", K.core(I.E1), "flow_id", I.F)
    h:call("SADD", K.flow("members"), I.E1, I.E2)
    h:call("SADD", keys.flow_out(I.tag, I.F, I.E1), "edge1")
    assert.same({ 1, 0 }, once("retention_trimmer"))
    assert.same({ [K.flow("members")] = { I.E2 } }, S.dump(h))
  end)
end)

describe("dependency_reconciler", function()
  it("resolves a satisfied edge and promotes the child (C.3)", function()
    local now = S.now(h)
    FX.dependency(h, now)
    assert.same({ 1, 0 }, once("dependency_reconciler"))
    local dep = S.hgetall(h, K.exec(I.E1, "dep:d1"))
    assert.equal("satisfied", dep.state)
    assert.is_true(tonumber(dep.last_resolved_at) >= now)
    assert.same({}, S.smembers(h, K.exec(I.E1, "deps:unresolved")))
    local meta = S.hgetall(h, K.exec(I.E1, "deps:meta"))
    assert.equal("0", meta.unsatisfied_required_count)
    assert.equal(dep.last_resolved_at, meta.last_dependency_update_at)
    local core = S.hgetall(h, K.core(I.E1))
    assert.equal("eligible_now", core.eligibility_state)
    assert.equal("waiting_for_worker", core.blocking_reason)
    assert.equal("waiting", core.public_state)
    assert.same({}, S.zset(h, K.lane("blocked:dependencies")))
    assert.same({ [I.E1] = 1000 }, S.zset(h, K.lane("eligible")))
  end)

  it("passes data from the upstream result", function()
    FX.dependency(h, S.now(h), { data_passing_ref = "r1", upstream_result = "out" })
    assert.same({ 1, 0 }, once("dependency_reconciler"))
    assert.equal("out", h:call("GET", K.exec(I.E1, "payload")))
  end)

  it("skips the child when the upstream failed", function()
    FX.dependency(h, S.now(h), { upstream = { lifecycle_phase = "terminal", terminal_outcome = "failed" } })
    assert.same({ 1, 0 }, once("dependency_reconciler"))
    local core = S.hgetall(h, K.core(I.E1))
    assert.equal("terminal", core.lifecycle_phase)
    assert.equal("skipped", core.terminal_outcome)
    assert.equal("skipped", core.public_state)
    assert.equal("not_applicable", core.eligibility_state)
    assert.equal("none", core.blocking_reason)
    assert.equal("none", core.attempt_state)
    local meta = S.hgetall(h, K.exec(I.E1, "deps:meta"))
    assert.equal("0", meta.unsatisfied_required_count)
    assert.equal("1", meta.impossible_required_count)
    assert.same({}, S.zset(h, K.lane("blocked:dependencies")))
    assert.same({ [I.E1] = tonumber(core.completed_at) }, S.zset(h, K.lane("terminal")))
  end)

  it("does nothing while the upstream runs, without an upstream id, or with nothing unresolved", function()
    local variants = {
      { upstream = { lifecycle_phase = "active", terminal_outcome = "none" } },
      { upstream = { lifecycle_phase = "terminal", terminal_outcome = "none" } },
      { dep = { upstream_execution_id = false } },
      { empty_unresolved = true },
    }
    for _, v in ipairs(variants) do
      S.reset(h)
      FX.dependency(h, S.now(h), v)
      local before = S.dump(h)
      assert.same({ 0, 0 }, once("dependency_reconciler"))
      assert.same(before, S.dump(h))
    end
  end)

  it("fix G1: already_resolved changes nothing and is not counted as processed", function()
    FX.dependency(h, S.now(h), { dep = { state = "satisfied" } })
    local before = S.dump(h)
    assert.same({ 0, 0 }, once("dependency_reconciler"))
    assert.same(before, S.dump(h))
  end)

  -- found by tests/faults/malformed_flow_spec.lua: an unknown outcome was passed
  -- on, and the function skipped the child for good as if the upstream had failed
  it("fix: an upstream with an unknown terminal_outcome is an error and changes nothing", function()
    for _, bad in ipairs({ "x!", "SUCCESS", ("9"):rep(40) }) do
      S.reset(h)
      FX.dependency(h, S.now(h), { upstream = { lifecycle_phase = "terminal", terminal_outcome = bad } })
      local before = S.dump(h)
      assert.same({ 0, 1 }, once("dependency_reconciler"))
      assert.same(before, S.dump(h))
    end
  end)

  it("fix D1: a failing FCALL is an error", function()
    FX.dependency(h, S.now(h))
    S.deny(h, "fcall")
    local p, e = h:once("dependency_reconciler")
    S.allow_all(h)
    assert.same({ 0, 1 }, { p, e })
    assert.equal("unsatisfied", h:call("HGET", K.exec(I.E1, "dep:d1"), "state"))
  end)

  it("fix D2: edges resolved before a failing edge of the same child still count", function()
    FX.dependency(h, S.now(h))
    h:call("HSET", K.exec(I.E1, "deps:meta"), "unsatisfied_required_count", "2")
    h:call("SADD", K.exec(I.E1, "deps:unresolved"), "d2") -- sorted after d1
    h:call("LPUSH", K.exec(I.E1, "dep:d2"), "broken")     -- HGET fails: WRONGTYPE
    assert.same({ 1, 1 }, once("dependency_reconciler"))
    assert.equal("satisfied", h:call("HGET", K.exec(I.E1, "dep:d1"), "state"))
  end)
end)

describe("flow_projector", function()
  local function summary() return S.hgetall(h, K.flow("summary")) end

  local function expect_summary(now, counts, state, total, sampled)
    local s = summary()
    assert.is_true(tonumber(s.last_summary_update_at) >= now)
    s.last_summary_update_at = nil
    local want = { total_members = tostring(total), sampled_members = tostring(sampled or total),
      public_flow_state = state }
    for _, st in ipairs({ "completed", "failed", "cancelled", "expired", "skipped", "active",
      "suspended", "waiting", "delayed", "rate_limited", "waiting_children" }) do
      want["members_" .. st] = tostring(counts[st] or 0)
    end
    assert.same(want, s)
  end

  it("summarises a running flow and keeps it indexed (C.4)", function()
    local now = S.now(h)
    FX.flow(h, now)
    local core = S.hgetall(h, K.flow("core"))
    assert.same({ 1, 0 }, once("flow_projector"))
    expect_summary(now, { completed = 1, active = 1 }, "running", 2)
    assert.same({ I.F }, S.smembers(h, K.flow_index()))
    assert.same(core, S.hgetall(h, K.flow("core")))
  end)

  it("derives failed / completed / blocked / open", function()
    local cases = {
      { { [I.E1] = "completed", [I.E2] = "failed" }, "failed", false },
      { { [I.E1] = "completed", [I.E2] = "completed" }, "completed", false },
      { { [I.E1] = "completed", [I.E2] = "waiting_children" }, "blocked", true },
      { { [I.E1] = "waiting", [I.E2] = "waiting" }, "open", true },
    }
    for _, c in ipairs(cases) do
      S.reset(h)
      FX.flow(h, S.now(h), { states = c[1] })
      assert.same({ 1, 0 }, once("flow_projector"))
      assert.equal(c[2], summary().public_flow_state)
      assert.equal(c[3], #S.smembers(h, K.flow_index()) == 1)
    end
  end)

  it("drops a flow without core from the index and writes nothing", function()
    FX.flow(h, S.now(h), { no_core = true })
    assert.same({ 0, 0 }, once("flow_projector"))
    assert.same({}, S.smembers(h, K.flow_index()))
    assert.is_false(S.exists(h, K.flow("summary")))
  end)

  it("writes nothing for a flow without members and keeps it", function()
    FX.flow(h, S.now(h), { no_members = true })
    assert.same({ 0, 0 }, once("flow_projector"))
    assert.same({ I.F }, S.smembers(h, K.flow_index()))
    assert.is_false(S.exists(h, K.flow("summary")))
  end)

  it("fix F1/F2: counts every member of a large flow and unindexes it when all are terminal", function()
    local now = S.now(h)
    local states = {}
    for i = 1, 120 do states[eid(i)] = (i == 7) and "failed" or "completed" end
    FX.flow(h, now, { states = states })
    assert.same({ 1, 0 }, once("flow_projector"))
    expect_summary(now, { completed = 119, failed = 1 }, "failed", 120)
    assert.same({}, S.smembers(h, K.flow_index()))
  end)

  it("fix F1: walks a flow larger than the per-cycle bound across cycles", function()
    S.stop(srv, h)
    srv, h = S.start({ scanner_config = { flow_projector = { members = 100 } } })
    local now = S.now(h)
    local states = {}
    for i = 1, 450 do states[eid(i)] = (i == 400) and "active" or "completed" end
    FX.flow(h, now, { states = states })
    local total = 0
    for _ = 1, 10 do
      total = total + h:once("flow_projector")
      if S.exists(h, K.flow("summary")) then break end
    end
    assert.equal(1, total)
    expect_summary(now, { completed = 449, active = 1 }, "running", 450)
  end)

  it("fix F7: a flow whose member ids are all invalid writes no summary", function()
    FX.flow(h, S.now(h), { states = { ["not-an-id"] = "completed" } })
    assert.same({ 0, 0 }, once("flow_projector"))
    assert.is_false(S.exists(h, K.flow("summary")))
  end)

  it("counts members whose core is gone as unknown (flow stays indexed)", function()
    local now = S.now(h)
    FX.flow(h, now, { states = { [I.E1] = "completed" } })
    h:call("SADD", K.flow("members"), I.E2)
    assert.same({ 1, 0 }, once("flow_projector"))
    expect_summary(now, { completed = 1 }, "open", 2)
    assert.same({ I.F }, S.smembers(h, K.flow_index()))
  end)
end)
