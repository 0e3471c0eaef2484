-- ff.budget: the one hard-limit breach rule.
local budget = require "ff.budget"
local json = require "ff.json"
local zwalk = require "ff.zwalk"
local sscan = require "ff.sscan"

describe("ff.budget", function()
  it("breaches at usage >= hard limit, ignoring soft, zero and non-integer limits", function()
    local limits = { ["hard:tokens"] = "100", ["soft:tokens"] = "1", ["hard:cost"] = "0",
      ["hard:x"] = "lots" }
    assert.is_nil(budget.breached_dimension(limits, { tokens = "99", cost = "5", x = "9" }))
    assert.equal("tokens", budget.breached_dimension(limits, { tokens = "100" }))
    assert.equal("tokens", budget.breached_dimension(limits, { tokens = "150" }))
    assert.is_nil(budget.breached_dimension(limits, { tokens = "junk" }))
    assert.is_nil(budget.breached_dimension({}, { tokens = "1000" }))
  end)

  it("reads reset_interval_ms: unset is 0, garbage is nil", function()
    assert.equal(0, budget.reset_interval({}))
    assert.equal(0, budget.reset_interval({ reset_interval_ms = "" }))
    assert.equal(0, budget.reset_interval({ reset_interval_ms = "00" }))
    assert.equal(60000, budget.reset_interval({ reset_interval_ms = "60000" }))
    assert.is_nil(budget.reset_interval({ reset_interval_ms = "1h" }))
  end)
end)
