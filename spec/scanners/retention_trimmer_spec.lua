-- retention_trimmer (spec 20 §A.2) over the §C recipes, through h:once.
local S = require "spec.helpers.env"
local FX = require "ff.fixtures_flow"
local keys = require "ff.keys"
local I, K = FX.ids, FX.keys

local DAY = 86400000
local h

S.suite(function(e) h = e.r end, S.SECTION_C)

local function once(name) return S.cycle(h, name) end

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
    local env2 = S.start(S.SECTION_C)
    local srv2, h2 = env2.srv, env2.r
    finally(function() env2:stop() end)
    for _, bad in ipairs({ "", "x!", "10001", ("9"):rep(40) }) do
      env2:flush()
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
