-- delayed_promoter (spec 10 §A.2) over the spec 10 §C recipes: one full cycle (h:once)
-- compared with the state the exact §A call leaves (spec/helpers/exec_cases.lua).
local env_mod = require "spec.helpers.env"
local cases = require "spec.helpers.exec_cases"
local F = require "ff.fixtures"
local K = require "ff.keys"

local hgetall, zscore = env_mod.hgetall, env_mod.zscore
local promote = cases.promote

describe("delayed_promoter", function()
  local r
  local T, E = F.T, F.E
  local once, case, unchanged = cases.suite(function(env) r = env.r end)

  local D = F.delayed_promoter
  it("acting case: promotes with the scanner's now", function()
    assert.same({ 1, "OK", "promoted" }, case(D.acting, "delayed_promoter", promote("default"), { 1, 0, 0 }))
    local c = hgetall(r, K.core(T, E))
    assert.equal("eligible_now", c.eligibility_state)
    assert.equal(1000, zscore(r, K.lane(T, "default", "eligible"), E))
    assert.is_nil(zscore(r, K.lane(T, "default", "delayed"), E))
  end)
  it("no-op: not yet due (index)", function() unchanged(D.not_yet_due_index, "delayed_promoter", { 0, 0, 0 }) end)
  -- counts: a reply that changed nothing is skipped; one that removed a
  -- dead index entry ("_cleaned") changed something
  for _, c in ipairs({ { "not_yet_due_record", "not_yet_due", { 0, 0, 1 } },
    { "already_terminal", "not_runnable_cleaned", { 1, 0, 0 } },
    { "not_delayed", "not_delayed_cleaned", { 1, 0, 0 } }, { "missing_core", "not_found_cleaned", { 1, 0, 0 } } }) do
    it("no-op: " .. c[1], function()
      assert.same({ 1, "OK", c[2] }, case(D[c[1]], "delayed_promoter", promote("default"), c[3]))
    end)
  end
  it("other lane: never scanned unless configured", function()
    unchanged(D.other_lane, "delayed_promoter", { 0, 0, 0 })
    assert.same({ 1, "OK", "promoted" },
      case(D.other_lane, "delayed_promoter", promote("blue"), { 1, 0, 0 }, { lanes = { "default", "blue" } }))
  end)
  it("fix: an empty delay_until is promoted (quirk 8)", function()
    assert.same({ 1, "OK", "promoted" }, case(D.empty_delay_until, "delayed_promoter", promote("default"), { 1, 0, 0 }))
    assert.equal(1000, zscore(r, K.lane(T, "default", "eligible"), E))
  end)
end)
