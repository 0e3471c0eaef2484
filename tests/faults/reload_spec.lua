-- Case 3: SIGUSR1 storm during a drain, alternating a broken and a valid
-- version of two scripts (the stock delayed_promoter and a marker scanner).
-- No crash, the last valid version is what runs at the end, every item is
-- promoted exactly once, and RSS does not grow with the number of reloads.
local FX = require "tests.faults.helpers.fx"
local P = FX.P

local SIGNALS = FX.pick(30, 100)
local NP, PER = 16, FX.pick(150, 300)

local MARKER = [[
-- marker version %d
return { name = "marker", family = "execution", interval = 0.1,
  scan = function(ctx, p)
    local ok = ctx.redis:call("HSET", "reload:marker", "version", "%d")
    ctx.redis:call("HINCRBY", "reload:marker:count", "%d", 1)
    return ok and 1 or 0, ok and 0 or 1
  end }
]]

local BROKEN = {
  "return { name = 'marker', scan = function( end }",       -- syntax error
  "error('broken at load time')",                            -- raises at top level
  "return { name = 'marker', family = 'nope', scan = 1 }",   -- invalid registration
}

describe("fault 3: SIGUSR1 storm with broken and valid scripts", function()
  local srv, dir, proc

  before_each(function()
    srv = FX.RS.start({})
    dir = P.tmpdir()
  end)

  after_each(function()
    FX.finish("reload", proc, srv, dir)
    proc = nil
  end)

  it(("%d reloads alternating broken/valid: no crash, last valid runs, no RSS growth"):format(SIGNALS), function()
    local now = FX.numbers(srv:cli("TIME"))[1] * 1000
    local spread = SIGNALS * 120
    FX.seed_delayed(srv, NP, PER, FX.spread(now, 300, spread, NP, PER), dir)
    local sdir = dir .. "/scanners"
    FX.copy_scanners({ "delayed_promoter" }, sdir)
    local stock = P.read(sdir .. "/delayed_promoter.lua")
    P.write(sdir .. "/marker.lua", MARKER:format(0, 0, 0))
    local conf = FX.config(dir, [[ scanners = { delayed_promoter = { interval = 0.1, batch = 10 } }, ]])
    proc = P.start(dir, ("-c %s --scanners %s --redis %s --partitions %d"):format(conf, sdir, srv.url, NP))
    assert.truthy(proc:wait_log("connected to redis at", 10))
    local rss = {}
    local last_valid = 0
    for k = 1, SIGNALS do
      if k % 2 == 1 then
        P.write(sdir .. "/marker.lua", BROKEN[(k - 1) / 2 % #BROKEN + 1])
        P.write(sdir .. "/delayed_promoter.lua", "-- broken " .. k .. "\n" .. stock .. "\n)")
      else
        P.write(sdir .. "/marker.lua", MARKER:format(k, k, k))
        P.write(sdir .. "/delayed_promoter.lua", "-- valid " .. k .. "\n" .. stock)
        last_valid = k
      end
      assert.is_true(proc:signal("USR1"))
      assert.truthy(P.wait_for(function() return proc:count("SIGUSR1: reloading scanners") >= k end, 5),
        "reload " .. k .. " not seen")
      P.sleep(0.05)
      assert.is_true(FX.alive(proc.pid), "scanhost died at reload " .. k)
      if k == 10 then rss.warm = FX.rss_kb(proc.pid) end
    end
    -- the last valid version runs: its own counter moves, no other does
    assert.truthy(P.wait_for(function()
      return (srv:cli("HGET reload:marker version"):gsub("%s+$", "")) == tostring(last_valid)
    end, 5))
    -- one HGETALL per snapshot: the version's count and the total from the same instant
    local function snapshot()
      local flat = FX.numbers(srv:cli("HGETALL reload:marker:count"))
      local mine, total = 0, 0
      for j = 1, #flat, 2 do
        total = total + flat[j + 1]
        if flat[j] == last_valid then mine = flat[j + 1] end
      end
      return mine, total
    end
    local c1, total1 = snapshot()
    P.sleep(0.6)
    local c2, total2 = snapshot()
    assert.is_true(c2 > c1)
    assert.are.equal(total2 - total1, c2 - c1) -- only the last version writes
    -- the drain completes and every item is promoted once
    local total = NP * PER
    assert.truthy(P.wait_for(function() return FX.delayed_done(srv, NP, PER) == total end, 20), "items not promoted")
    rss.final = FX.rss_kb(proc.pid)
    local out = proc:output()
    local failed = FX.count_lines(out, "failed to load")
    assert.is_true(failed >= SIGNALS / 2, "broken versions reported: " .. failed)
    -- RSS: the last reloads did not grow the process (allocator slack: 1 MB)
    assert.is_true(rss.final - rss.warm <= 1024,
      ("RSS grew from %d kB (reload 10) to %d kB (reload %d)"):format(rss.warm, rss.final, SIGNALS))
    assert.are.equal(0, FX.term(proc))
    print(("# fault 3: reloads=%d (broken=%d) items=%d promoted=%d rss_kb=%d->%d crashes=0"):format(
      SIGNALS, SIGNALS / 2, total, FX.delayed_done(srv, NP, PER), rss.warm, rss.final))
  end)
end)
