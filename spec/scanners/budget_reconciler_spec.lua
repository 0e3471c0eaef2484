-- budget_reconciler (spec 20 §A.6) over the §C recipes, through h:once.
local S = require "spec.helpers.env"
local FX = require "ff.fixtures_flow"
local I, K = FX.ids, FX.keys

local HOUR = 3600000
local env, h

S.suite(function(e) env, h = e, e.r end, S.SECTION_C)

local function once(name) return S.cycle(h, name) end

local function break_key(key) S.break_key(h, key) end

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
    env:flush()
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
