-- dependency_reconciler (spec 20 §A.3) over the §C recipes, through h:once.
local S = require "spec.helpers.env"
local FX = require "ff.fixtures_flow"
local keys = require "ff.keys"
local I, K = FX.ids, FX.keys

local DAY = 86400000
local env, h

S.suite(function(e) env, h = e, e.r end, S.SECTION_C)

local function once(name) return S.cycle(h, name) end

local function eid(i) return string.format("{fp:24}:00000000-0000-4000-8000-%012d", i) end

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
      env:flush()
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
      env:flush()
      FX.dependency(h, S.now(h), { upstream = { lifecycle_phase = "terminal", terminal_outcome = bad } })
      local before = S.dump(h)
      assert.same({ 0, 1 }, once("dependency_reconciler"))
      assert.same(before, S.dump(h))
    end
  end)

  it("a failing TIME is an error and changes nothing", function()
    FX.dependency(h, S.now(h))
    local before = S.dump(h)
    S.deny(h, "time")
    local p, e = h:once("dependency_reconciler")
    S.allow_all(h)
    assert.same({ 0, 1 }, { p, e })
    assert.same(before, S.dump(h))
  end)

  it("fix D1: a failing FCALL is an error", function()
    FX.dependency(h, S.now(h))
    S.deny(h, "fcall")
    local p, e = h:once("dependency_reconciler")
    S.allow_all(h)
    assert.same({ 0, 1 }, { p, e })
    assert.equal("unsatisfied", h:call("HGET", K.exec(I.E1, "dep:d1"), "state"))
  end)

  -- a second edge d2 of E1 from upstream I.U, like d1
  local function second_edge()
    h:call("HSET", K.exec(I.E1, "deps:meta"), "unsatisfied_required_count", "2")
    h:call("SADD", K.exec(I.E1, "deps:unresolved"), "d2") -- sorted after d1
    h:call("HSET", K.exec(I.E1, "dep:d2"), "edge_id", "d2", "flow_id", I.F, "upstream_execution_id", I.U,
      "downstream_execution_id", I.E1, "dependency_kind", "success_only", "state", "unsatisfied",
      "data_passing_ref", "", "last_resolved_at", "")
  end

  it("a child's resolvable edges are all resolved in one cycle, in order", function()
    FX.dependency(h, S.now(h))
    second_edge()
    assert.same({ 2, 0 }, once("dependency_reconciler"))
    assert.equal("satisfied", h:call("HGET", K.exec(I.E1, "dep:d1"), "state"))
    assert.equal("satisfied", h:call("HGET", K.exec(I.E1, "dep:d2"), "state"))
    assert.equal("eligible_now", h:call("HGET", K.core(I.E1), "eligibility_state"))
    assert.same({}, S.zset(h, K.lane("blocked:dependencies")))
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
