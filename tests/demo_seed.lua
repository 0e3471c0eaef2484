-- Seeds the demo workload into a fresh Redis: for every stock scanner, due
-- items built from the fixture recipes (spec 10 §C / 20 §C), spread over the
-- partitions, through the host's own bindings. Loads scanhost's function
-- library first, with the host's loader.
--   luajit tests/demo_seed.lua PORT [ITEMS_PER_SCANNER]
package.path = "lua-lib/?.lua;lua-lib/?/init.lua;tests/lua/?.lua;./?.lua;" .. package.path -- tests/lua: the fixtures
package.cpath = "build/?.so;" .. package.cpath
local F = require "ff.fixtures"
local FF = require "ff.fixtures_flow"

local port = assert(tonumber(arg[1]), "usage: demo_seed.lua PORT [ITEMS]")
local items = tonumber(arg[2]) or 40
local h = require("scanhost_test").new({ redis = "redis://127.0.0.1:" .. port, partitions = 256,
  budget_partitions = 32, quota_partitions = 32 })
assert(h:load_library())

local EXEC_RECIPES = {
  { F.lease_expiry, "acting" }, { F.delayed_promoter, "acting" },
  { F.attempt_timeout, "acting" }, { F.execution_deadline, "acting" },
  { F.suspension_timeout, "acting" }, { F.pending_wp_expiry, "acting" },
  { F.index_reconciler, "inconsistent" },
}
local seeded = 0
for k, recipe in ipairs(EXEC_RECIPES) do
  for i = 1, items do
    -- a different partition per item (and per scanner) so the items are independent
    recipe[1][recipe[2]](h, { n = (i * 7 + k * 31) % 256, i = k })
    seeded = seeded + 1
  end
end

local t = h:call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, build in ipairs({ FF.unblock_budget, FF.retention, FF.dependency, FF.flow,
                         FF.budget_reset, FF.budget_reconcile, FF.quota_reconcile }) do
  build(h, now)
  seeded = seeded + 1
end
h:close()
print(("demo: seeded %d items for 14 scanners"):format(seeded))
