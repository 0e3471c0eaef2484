-- budget_reset (spec 20 §A.5) over the §C recipes, through h:once.
local S = require "spec.helpers.env"
local FX = require "ff.fixtures_flow"
local I, K = FX.ids, FX.keys

local HOUR = 3600000
local h

S.suite(function(e) h = e.r end, S.SECTION_C)

local function once(name) return S.cycle(h, name) end

local function break_key(key) S.break_key(h, key) end

describe("budget_reset", function()
  it("a page of 20 due budgets costs the round trips of one: the resets in one pipeline", function()
    local now = S.now(h)
    S.page_costs_one(h, "budget_reset", function(i)
      local b = ("11111111-1111-4111-8111-%012x"):format(i + 1)
      FX.budget_reset(h, now, { bid = b })
      return b
    end, function(b) assert.equal("1", S.hgetall(h, K.budget(nil, b)).reset_count) end)
  end)

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
