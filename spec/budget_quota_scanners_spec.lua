-- budget_reset, budget_reconciler and quota_reconciler (spec 20 §A.5–A.7, §C.5–C.7)
-- run for one full cycle through the test host, against a real redis-server with
-- scanhost's library: exact resulting state and (processed, errors), plus the
-- issue-4 fixes (G1, B2/B3, BR1, BR3, QR1, QR2).
local S = require "spec.helpers.fb_spec"
local FX = require "ff.fixtures_flow"
local I, K = FX.ids, FX.keys

local HOUR = 3600000
local srv, h

setup(function() srv, h = S.start() end)
teardown(function() S.stop(srv, h) end)
before_each(function() S.reset(h) end)

local function once(name)
  local p, e = h:once(name)
  return { p, e }
end

-- A key of the wrong type makes every read of it fail with WRONGTYPE: the
-- simplest way to provoke a read error on exactly one key.
local function break_key(key)
  h:call("DEL", key)
  h:call("LPUSH", key, "not-a-hash")
end

describe("budget_reset", function()
  it("resets a due budget (C.5) and schedules it on its own grid", function()
    local now = S.now(h)
    FX.budget_reset(h, now)
    assert.same({ 1, 0 }, once("budget_reset"))
    local def = S.hgetall(h, K.budget())
    assert.equal("1", def.reset_count)
    assert.equal(def.last_reset_at, def.last_updated_at)
    assert.is_true(tonumber(def.last_reset_at) >= now)
    assert.equal("", def.last_breach_at)
    assert.equal("", def.last_breach_dim)
    -- scanhost (B3): one interval after the previous schedule, not after the scan time
    assert.equal(tostring(now - 1000 + HOUR), def.next_reset_at)
    assert.same({ [I.B] = now - 1000 + HOUR }, S.zset(h, K.budget_resets()))
    assert.same({ tokens = "0", cost_cents = "0" }, S.hgetall(h, K.budget("usage")))
  end)

  it("applies a one-off reset and unschedules a budget without interval", function()
    FX.budget_reset(h, S.now(h), { interval = false })
    assert.same({ 1, 0 }, once("budget_reset"))
    assert.same({}, S.zset(h, K.budget_resets()))
    assert.is_nil(S.hgetall(h, K.budget()).next_reset_at)
  end)

  it("does nothing for a budget that is not due", function()
    FX.budget_reset(h, S.now(h), { due_in_ms = 60000 })
    local before = S.dump(h)
    assert.same({ 0, 0 }, once("budget_reset"))
    assert.same(before, S.dump(h))
  end)

  it("fix B2 + G1: a deleted budget is a skip, not recreated, and leaves the schedule", function()
    FX.budget_reset(h, S.now(h), { no_definition = true })
    assert.same({ 0, 0 }, once("budget_reset"))
    assert.is_false(S.exists(h, K.budget()))
    assert.same({}, S.zset(h, K.budget_resets()))
  end)

  it("fix G1/B5: a refused budget is a skip and does not hide the due budgets behind it", function()
    local now = S.now(h)
    -- 25 budgets with an invalid interval, due earlier than the valid one
    for i = 1, 25 do
      local bid = string.format("00000000-0000-4000-8000-%012d", i)
      h:call("ZADD", K.budget_resets(), now - 100000 + i, bid)
      -- keys are on the scanned partition, whatever the id hashes to
      h:call("HSET", "ff:budget:{b:31}:" .. bid, "reset_interval_ms", "hourly")
    end
    FX.budget_reset(h, now)
    local p1, e1 = h:once("budget_reset")
    local p2, e2 = h:once("budget_reset")
    assert.same({ 0, 0, 1, 0 }, { p1, e1, p2, e2 })
    assert.equal("1", h:call("HGET", K.budget(), "reset_count"))
    assert.equal("hourly", h:call("HGET", "ff:budget:{b:31}:00000000-0000-4000-8000-000000000001",
      "reset_interval_ms"))
  end)

  it("counts a failing FCALL as an error", function()
    FX.budget_reset(h, S.now(h))
    break_key(K.budget())
    assert.same({ 0, 1 }, once("budget_reset"))
  end)
end)

describe("budget_reconciler", function()
  it("marks a breached budget once (C.6)", function()
    local now = S.now(h)
    FX.budget_reconcile(h, now)
    assert.same({ 1, 0 }, once("budget_reconciler"))
    local usage = S.hgetall(h, K.budget("usage"))
    assert.equal("150", usage.tokens)
    assert.is_true(tonumber(usage.breached_at) >= now)
    assert.same({ 0, 0 }, once("budget_reconciler"))
  end)

  it("clears a stale marker", function()
    FX.budget_reconcile(h, S.now(h), { usage = 50, breached_at = "123" })
    assert.same({ 1, 0 }, once("budget_reconciler"))
    assert.same({ tokens = "50" }, S.hgetall(h, K.budget("usage")))
  end)

  it("fix BR3: usage equal to the hard limit is a breach (same rule as unblock)", function()
    FX.budget_reconcile(h, S.now(h), { usage = 100 })
    assert.same({ 1, 0 }, once("budget_reconciler"))
    assert.is_not_nil(S.hgetall(h, K.budget("usage")).breached_at)
  end)

  it("skips resetting budgets and budgets without limits", function()
    FX.budget_reconcile(h, S.now(h), { interval = "60000" })
    local before = S.dump(h)
    assert.same({ 0, 0 }, once("budget_reconciler"))
    assert.same(before, S.dump(h))
    S.reset(h)
    FX.budget_reconcile(h, S.now(h), { no_limits = true })
    before = S.dump(h)
    assert.same({ 0, 0 }, once("budget_reconciler"))
    assert.same(before, S.dump(h))
  end)

  it("prunes the index entry of a deleted definition", function()
    FX.budget_reconcile(h, S.now(h), { no_definition = true })
    assert.same({ 0, 0 }, once("budget_reconciler"))
    assert.same({}, S.smembers(h, K.budget_policies()))
  end)

  it("fix BR1: a read error is an error and never prunes the budget", function()
    FX.budget_reconcile(h, S.now(h))
    break_key(K.budget())
    assert.same({ 0, 1 }, once("budget_reconciler"))
    assert.same({ I.B }, S.smembers(h, K.budget_policies()))
    assert.is_nil(S.hgetall(h, K.budget("usage")).breached_at)
  end)

  it("fix BR1: a usage or limits read error changes nothing", function()
    FX.budget_reconcile(h, S.now(h), { usage = 50, breached_at = "123" })
    break_key(K.budget("limits"))
    local before = S.dump(h)
    assert.same({ 0, 1 }, once("budget_reconciler"))
    assert.same(before, S.dump(h))
  end)
end)

describe("quota_reconciler", function()
  it("trims the window, prunes expired admissions and fixes the counter (C.7)", function()
    FX.quota_reconcile(h, S.now(h))
    assert.same({ 1, 0 }, once("quota_reconciler"))
    assert.same({ I.E2 }, (function()
      local z = S.zset(h, K.quota("window:requests_per_window"))
      local out = {}
      for m in pairs(z) do out[#out + 1] = m end
      return out
    end)())
    assert.same({ I.E2 }, S.smembers(h, K.quota("admitted_set")))
    assert.equal("1", h:call("GET", K.quota("concurrency")))
  end)

  it("does nothing when everything is consistent", function()
    FX.quota_reconcile(h, S.now(h), { window = { { I.E2, 1000 } }, admitted = { I.E2 }, counter = "1" })
    local before = S.dump(h)
    assert.same({ 0, 0 }, once("quota_reconciler"))
    assert.same(before, S.dump(h))
  end)

  it("leaves counter and admitted set alone without a concurrency cap", function()
    FX.quota_reconcile(h, S.now(h), { cap = "0", window = { { I.E2, 1000 } } })
    local before = S.dump(h)
    assert.same({ 0, 0 }, once("quota_reconciler"))
    assert.same(before, S.dump(h))
  end)

  it("ignores a policy id without a definition and keeps it indexed", function()
    FX.quota_reconcile(h, S.now(h), { no_definition = true })
    assert.same({ 0, 0 }, once("quota_reconciler"))
    assert.same({ I.Q }, S.smembers(h, K.quota_policies()))
  end)

  it("fix QR1: walks large policy indexes page by page and counts every admitted member", function()
    local now = S.now(h)
    local admitted = {}
    for i = 1, 250 do admitted[i] = string.format("{fp:24}:00000000-0000-4000-8000-%012d", i) end
    FX.quota_reconcile(h, now, { window = {}, admitted = admitted, guards = admitted, counter = "0" })
    for i = 1, 300 do h:call("SADD", K.quota_policies(), "ghost-" .. i) end
    assert.same({ 1, 0 }, once("quota_reconciler"))
    assert.equal("250", h:call("GET", K.quota("concurrency")))
    assert.equal(250, h:call("SCARD", K.quota("admitted_set")))
  end)

  it("fix QR2: a failed guard check removes nothing and keeps the counter", function()
    FX.quota_reconcile(h, S.now(h), { window = { { I.E2, 1000 } } })
    local before = S.dump(h)
    S.deny(h, "exists")
    local p, e = h:once("quota_reconciler")
    S.allow_all(h)
    assert.same({ 0, 1 }, { p, e })
    assert.same(before, S.dump(h))
  end)

  it("a failed admitted-set walk is an error and keeps the counter", function()
    FX.quota_reconcile(h, S.now(h), { window = { { I.E2, 1000 } } })
    break_key(K.quota("admitted_set"))
    assert.same({ 0, 1 }, once("quota_reconciler"))
    assert.equal("7", h:call("GET", K.quota("concurrency")))
  end)
end)
