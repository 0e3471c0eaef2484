-- delayed_promoter (spec 10 §A.2) over the spec 10 §C recipes: one full cycle (h:once)
-- compared with the state the exact §A call leaves (spec/helpers/exec_cases.lua).
local env_mod = require "spec.helpers.env"
local cases = require "spec.helpers.exec_cases"
local F = require "ff.fixtures"
local K = require "ff.keys"

local hgetall, zscore, dump = env_mod.hgetall, env_mod.zscore, env_mod.dump
local mark, promote, expire = cases.mark, cases.promote, cases.expire
local expire_susp, close_wp = cases.expire_susp, cases.close_wp

describe("delayed_promoter", function()
  local env, r
  local T, E, W = F.T, F.E, F.W
  setup(function()
    env = env_mod.start({ partitions = 8 })
    r = env.r
  end)
  teardown(function() env:stop() end)
  before_each(function() env:flush() end)
  local snapshot, once, case, unchanged = cases.runner(function() return env end)

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
