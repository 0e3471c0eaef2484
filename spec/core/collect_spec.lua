-- Between cycles the host collects each scanner's Lua state (script_collect):
-- an idle scanner holds what it keeps, not the garbage of its last cycle
-- (LuaJIT lets a heap grow to twice its live size before collecting).
local E = require "spec.helpers.env"
local T = require "scanhost_test"

describe("a scanner's Lua state between cycles", function()
  local srv, dir
  E.bare(function(s, d) srv, dir = s, d end)

  it("is collected: the next cycle starts with the garbage of the last one gone", function()
    local f = assert(io.open(dir .. "/churn.lua", "w"))
    -- each scan notes (in Redis) the heap it starts with, then makes ~4 MB
    -- that is garbage when it returns
    f:write([[
return { name = "churn", family = "execution", interval = 1,
  scan = function(ctx, p)
    assert(ctx.redis:call("RPUSH", "heap_at_start", tostring(collectgarbage("count"))))
    local big = {}
    for i = 1, 60000 do big[i] = { i, tostring(i) } end
    return 0, 0
  end,
  select = function(ctx, partitions)
    local out = {}
    for _, p in ipairs(partitions) do out[p] = true end
    return out
  end }
]])
    f:close()
    local h = T.new({ redis = srv.url, scanners = dir, partitions = 1, functions = false, claims = false })
    for _ = 1, 3 do assert.same({ 0, 0, 0 }, { h:once("churn") }) end
    local starts = h:call("LRANGE", "heap_at_start", 0, -1)
    h:close()
    for i, kb in ipairs(starts) do starts[i] = tonumber(kb) end
    assert.equal(3, #starts)
    -- what the state keeps is a few hundred KB; one cycle's garbage is MBs
    for i = 2, 3 do assert.is_true(starts[i] < 1024, "cycle " .. i .. " started with " .. starts[i] .. " KB") end
  end)
end)
