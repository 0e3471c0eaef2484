-- unblock scanner (spec 20 §A.1, §C.1) through the test host against a real
-- redis-server with scanhost's library: every §C.1 case with exact state and
-- (processed, errors), plus the issue-4 fixes U1, U2, U4, U6/BR3 and G1.
local S = require "spec.helpers.env"
local FX = require "ff.fixtures_flow"
local I, K = FX.ids, FX.keys

local env, srv, h

-- A fresh host per test: the worker-caps snapshot lives as long as the scanner's
-- Lua state, and each case needs its own view of the workers.
before_each(function() env = S.start(S.SECTION_C, { library_level = 5 }); srv, h = env.srv, env.r end) -- 0.1.1 fixtures
after_each(function() env:stop() end)

local function once()
  local p, e = h:once("unblock")
  return { p, e }
end

local function assert_unblocked(set, now)
  local core = S.hgetall(h, K.core(I.E1))
  assert.equal("eligible_now", core.eligibility_state)
  assert.equal("waiting_for_worker", core.blocking_reason)
  assert.equal("", core.blocking_detail)
  assert.equal("waiting", core.public_state)
  assert.equal("unowned", core.ownership_state)
  assert.equal("none", core.terminal_outcome)
  assert.equal("pending_first_attempt", core.attempt_state)
  assert.equal(core.last_transition_at, core.last_mutation_at)
  assert.is_true(tonumber(core.last_transition_at) >= now)
  assert.same({}, S.zset(h, K.lane(set)))
  assert.same({ [I.E1] = 1000 }, S.zset(h, K.lane("eligible")))
end

local function assert_still_blocked(set, before)
  assert.same(before, S.dump(h))
  assert.is_not_nil(S.zset(h, K.lane(set))[I.E1])
end

describe("unblock / budget", function()
  it("unblocks when usage is under the hard limit (C.1)", function()
    local now = S.now(h)
    FX.unblock_budget(h, now)
    assert.same({ 1, 0 }, once())
    assert_unblocked("blocked:budget", now)
  end)

  it("unblocks without budget_ids", function()
    local now = S.now(h)
    FX.unblock_budget(h, now, { no_budget_ids = true })
    assert.same({ 1, 0 }, once())
    assert_unblocked("blocked:budget", now)
  end)

  it("keeps it blocked at the limit (usage >= hard limit, shared rule U6/BR3)", function()
    FX.unblock_budget(h, S.now(h), { usage = 100 })
    local before = S.dump(h)
    assert.same({ 0, 0 }, once())
    assert_still_blocked("blocked:budget", before)
  end)

  it("fix U2: removes a member whose reason changed, touching nothing else", function()
    FX.unblock_budget(h, S.now(h), { core = { blocking_reason = "paused_by_flow_cancel" } })
    local core_before = S.hgetall(h, K.core(I.E1))
    assert.same({ 0, 0 }, once())
    assert.same({}, S.zset(h, K.lane("blocked:budget")))
    assert.same({}, S.zset(h, K.lane("eligible")))
    assert.same(core_before, S.hgetall(h, K.core(I.E1)))
  end)

  it("fix U2: removes a member whose core is gone", function()
    FX.unblock_budget(h, S.now(h), { no_core = true })
    assert.same({ 0, 0 }, once())
    assert.same({}, S.zset(h, K.lane("blocked:budget")))
    assert.is_false(S.exists(h, K.core(I.E1)))
  end)

  it("fix G1: a rejection is a skip, not processed, and changes nothing", function()
    FX.unblock_budget(h, S.now(h), { core = { eligibility_state = "eligible_now" } })
    local before = S.dump(h)
    assert.same({ 0, 0 }, once())
    assert.same(before, S.dump(h))
  end)

  it("fix U4: an unreadable budget keeps the execution blocked and is an error", function()
    FX.unblock_budget(h, S.now(h))
    h:call("DEL", K.budget("limits"))
    h:call("LPUSH", K.budget("limits"), "x")
    local before = S.dump(h)
    assert.same({ 0, 1 }, once())
    assert_still_blocked("blocked:budget", before)
  end)

  it("fix U4: an unreadable core keeps the execution blocked and is an error", function()
    FX.unblock_budget(h, S.now(h))
    local before = S.dump(h)
    S.deny(h, "hmget")
    local p, e = h:once("unblock")
    S.allow_all(h)
    assert.same({ 0, 1 }, { p, e })
    assert_still_blocked("blocked:budget", before)
  end)

  it("a failing TIME keeps the cleared execution blocked and is one error", function()
    FX.unblock_budget(h, S.now(h))
    local before = S.dump(h)
    S.deny(h, "time")
    local p, e = h:once("unblock")
    S.allow_all(h)
    assert.same({ 0, 1 }, { p, e })
    assert_still_blocked("blocked:budget", before)
  end)

  it("fix G1: a failing FCALL is an error", function()
    FX.unblock_budget(h, S.now(h))
    S.deny(h, "fcall")
    local p, e = h:once("unblock")
    S.allow_all(h)
    assert.same({ 0, 1 }, { p, e })
  end)

  it("fix U1: a member behind more than a batch of still-blocked ones is reached", function()
    local now = S.now(h)
    FX.unblock_budget(h, now)  -- E1 blocked at now-5000, budget within limits
    -- 150 executions blocked earlier on an exhausted budget
    local full = "33333333-3333-4333-8333-333333333333"
    local bt = "{b:" .. require("ff.partition").budget_partition(full, 32) .. "}"
    h:call("HSET", "ff:budget:" .. bt .. ":" .. full .. ":limits", "hard:tokens", "10")
    h:call("HSET", "ff:budget:" .. bt .. ":" .. full .. ":usage", "tokens", "10")
    for i = 1, 150 do
      local eid = string.format("{fp:24}:00000000-0000-4000-8000-%012d", i)
      h:call("HSET", K.core(eid), "lifecycle_phase", "runnable", "eligibility_state", "blocked_by_budget",
        "blocking_reason", "waiting_for_budget", "budget_ids", full, "created_at", "1")
      h:call("ZADD", K.lane("blocked:budget"), now - 100000 + i, eid)
    end
    local p1 = h:once("unblock")
    local p2 = h:once("unblock")
    assert.equal(1, p1 + p2)
    assert.same({ [I.E1] = 1000 }, S.zset(h, K.lane("eligible")))
    assert.equal(150, h:call("ZCARD", K.lane("blocked:budget")))
  end)
end)

describe("unblock / quota", function()
  it("trims the window and unblocks (C.1)", function()
    local now = S.now(h)
    FX.unblock_quota(h, now)
    assert.same({ 1, 0 }, once())
    assert_unblocked("blocked:quota", now)
    local w = S.zset(h, K.quota("window:requests_per_window"))
    assert.is_nil(w.x1)
    assert.is_not_nil(w.x2)
    assert.is_not_nil(w.x3)
  end)

  it("stays blocked with a full window (only trimming happens)", function()
    local now = S.now(h)
    FX.unblock_quota(h, now, { window = { { "x1", 2000 }, { "x2", 1000 }, { "x3", 500 } } })
    local before = S.dump(h)
    assert.same({ 0, 0 }, once())
    assert_still_blocked("blocked:quota", before)
  end)

  it("stays blocked at the concurrency cap, and with a negative counter (U10)", function()
    for _, counter in ipairs({ "2", "-1" }) do
      env:flush()
      local now = S.now(h)
      FX.unblock_quota(h, now, { cap = 2, counter = counter, window = {} })
      local before = S.dump(h)
      assert.same({ 0, 0 }, once())
      assert_still_blocked("blocked:quota", before)
    end
  end)

  it("unblocks when the quota has no definition", function()
    local now = S.now(h)
    FX.unblock_quota(h, now, { no_definition = true })
    assert.same({ 1, 0 }, once())
    assert_unblocked("blocked:quota", now)
  end)

  it("fix U4: an unreadable counter keeps it blocked (0.1.1 read it as 0)", function()
    FX.unblock_quota(h, S.now(h), { cap = 2, window = {} })
    h:call("HSET", K.quota("concurrency"), "x", "1")
    local before = S.dump(h)
    assert.same({ 0, 1 }, once())
    assert_still_blocked("blocked:quota", before)
  end)
end)

describe("unblock / route", function()
  it("unblocks when a worker has every capability (C.1)", function()
    local now = S.now(h)
    FX.unblock_route(h, now)
    assert.same({ 1, 0 }, once())
    assert_unblocked("blocked:route", now)
  end)

  it("checks against the union of all workers (U7)", function()
    local now = S.now(h)
    FX.unblock_route(h, now, { workers = { w1 = "gpu", w2 = "linux" } })
    assert.same({ 1, 0 }, once())
    assert_unblocked("blocked:route", now)
  end)

  it("stays blocked when a capability is missing", function()
    FX.unblock_route(h, S.now(h), { workers = { w1 = "gpu" } })
    local before = S.dump(h)
    assert.same({ 0, 0 }, once())
    assert_still_blocked("blocked:route", before)
  end)

  it("a record the function refuses as malformed stays blocked, with a warning naming the field", function()
    local env2 = S.start(S.SECTION_C, { capture_logs = true, log_level = "warn", library_level = 5 })
    local srv2, h2 = env2.srv, env2.r
    finally(function() env2:stop() end)
    FX.unblock_budget(h2, S.now(h2), { core = { priority = "x!" } })
    local before = S.dump(h2)
    assert.same({ 0, 0, 0 }, { h2:once("unblock") })
    assert.same(before, S.dump(h2))
    local warned = {}
    for _, line in ipairs(h2:logs()) do
      if line:find('msg="unblock refused: malformed data"', 1, true) then warned[#warned + 1] = line end
    end
    assert.equal(1, #warned)
    assert.matches("code=invalid_state", warned[1])
    assert.matches("field=priority", warned[1])
  end)

  it("fix U4: a caps load error keeps it blocked (0.1.1 unblocked)", function()
    FX.unblock_route(h, S.now(h))
    h:call("DEL", "ff:worker:w1:caps")
    h:call("HSET", "ff:worker:w1:caps", "gpu", "1")
    local before = S.dump(h)
    assert.same({ 0, 1 }, once())
    assert_still_blocked("blocked:route", before)
  end)
end)
