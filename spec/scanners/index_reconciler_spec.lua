-- index_reconciler (spec 10 §A.7) over the spec 10 §C recipes: one full cycle (h:once)
-- compared with the state the exact §A call leaves (spec/helpers/exec_cases.lua).
local env_mod = require "spec.helpers.env"
local cases = require "spec.helpers.exec_cases"
local F = require "ff.fixtures"
local K = require "ff.keys"

local dump = env_mod.dump

describe("index_reconciler", function()
  local env, r
  local T = F.T
  local once, case, unchanged = cases.suite(function(e) env, r = e, e.r end)

  local R = F.index_reconciler
  it("consistent case: nothing found", function() unchanged(R.consistent, "index_reconciler", { 0, 0, 0 }) end)
  it("inconsistent case: one found, nothing written", function()
    unchanged(R.inconsistent, "index_reconciler", { 1, 0, 0 })
  end)
  it("missing core: one found every cycle", function()
    env:flush()
    R.missing_core(r)
    local before = dump(r)
    -- one host: a fresh one is another instance, which leaves the partition
    -- to the first until its claim expires (issue 14)
    local h = env.new_host()
    for cycle = 1, 2 do assert.same({ 1, 0, 0 }, { h:once("index_reconciler") }, "cycle " .. cycle) end
    h:close()
    assert.same(before, dump(r))
  end)
  it("not-checked case: treated as consistent", function()
    unchanged(R.not_checked, "index_reconciler", { 0, 0, 0 })
  end)
  it("walks every SSCAN page and every expected index", function()
    env:flush()
    for i = 1, 250 do
      local o = { i = i }
      if i % 2 == 0 then R.inconsistent(r, o) else R.consistent(r, o) end
    end
    local c = R.inconsistent(r, { i = 300, fields = { lifecycle_phase = "terminal", lane_id = "blue" } })
    F.zadd(r, K.lane(T, "blue", "terminal"), "5", c.eid)
    R.inconsistent(r, { i = 301, fields = { lifecycle_phase = "suspended" } })
    assert.same({ 126, 0, 0 }, { once("index_reconciler") })
  end)
end)
