-- quota_reconciler (spec 20 §A.7) over the §C recipes, through h:once.
local S = require "spec.helpers.env"
local FX = require "ff.fixtures_flow"
local I, K = FX.ids, FX.keys

local HOUR = 3600000
local h

S.suite(function(e) h = e.r end, S.SECTION_C)

local function once(name) return S.cycle(h, name) end

local function break_key(key) S.break_key(h, key) end

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
