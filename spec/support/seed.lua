-- Seed a redis-server with one fixture recipe of spec 10 §C, e.g. to check
-- `scanhost --once` by hand:
--   luajit spec/support/seed.lua 7300 lease_expiry acting
--   luajit spec/support/seed.lua 7300 suspension_timeout acting behavior=cancel
--   luajit spec/support/seed.lua 7300 list
-- Run from the repo root after `make` (it uses the host's own bindings).
package.path = "lua-lib/?.lua;lua-lib/?/init.lua;tests/lua/?.lua;./?.lua;" .. package.path -- tests/lua: the fixtures
local F = require "ff.fixtures"

local SCANNERS = { "lease_expiry", "delayed_promoter", "attempt_timeout", "execution_deadline",
  "suspension_timeout", "pending_wp_expiry", "index_reconciler" }

local port, scanner, recipe = tonumber(arg[1]), arg[2], arg[3]
if scanner == "list" then
  for _, s in ipairs(SCANNERS) do
    local set, names = {}, {}
    local sources = s == "execution_deadline" and { F[s], F.attempt_timeout } or { F[s] }
    for _, src in ipairs(sources) do
      for k, v in pairs(src) do if type(v) == "function" then set[k] = true end end
    end
    for k in pairs(set) do names[#names + 1] = k end
    table.sort(names)
    print(s .. ": " .. table.concat(names, " "))
  end
  os.exit(0)
end
assert(port and scanner and recipe, "usage: seed.lua PORT SCANNER RECIPE [key=value ...] | seed.lua PORT list")
local opts = {}
for i = 4, #arg do
  local k, v = arg[i]:match("^([%w_]+)=(.*)$")
  assert(k, "bad option " .. arg[i])
  opts[k] = tonumber(v) or (v == "false" and false) or v
end
package.cpath = "build/?.so;" .. package.cpath
local r = require("scanhost_test").new({ redis = "redis://127.0.0.1:" .. port })
local fn = assert(F[scanner] and F[scanner][recipe], "unknown recipe " .. scanner .. "." .. recipe)
local c = fn(r, opts)
print(string.format("seeded %s.%s: tag=%s eid=%s wid=%s", scanner, recipe, c.tag, c.eid, c.wid))
r:close()
