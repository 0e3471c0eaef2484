-- Case 6: a scan() that never yields. It is detected within scan_timeout
-- (plus one hook period), that scanner is stopped and reported, every other
-- scanner keeps its schedule, and the fixed file restarts it on SIGUSR1.
-- Variants: a plain `while true do end`, a numeric loop LuaJIT would compile
-- to a trace, a loop that catches the runaway error with pcall and keeps
-- spinning, and a runaway at file top level (load time).
local FX = require "tests.faults.helpers.fx"
local P = FX.P

local SCAN_TIMEOUT = 1

local COUNTER = [[
return { name = "counter", family = "execution", interval = 0.2,
  scan = function(ctx, p)
    if p == 0 then
      local t = ctx:now_ms()
      ctx.redis:call("RPUSH", "runaway:ticks", t)
    end
    return 1, 0
  end }
]]

local RUNAWAYS = {
  plain = "while true do end",
  traced = "local x = 0; for i = 1, math.huge do x = (x + i) %% 7 end",
  pcall_swallow = "while true do pcall(function() while true do end end) end",
}

local FIXED = [[
return { name = "spin", family = "execution", interval = 0.2,
  scan = function(ctx, p) ctx.redis:call("INCR", "runaway:fixed") return 1, 0 end }
]]

local function spin(body)
  return ([[
return { name = "spin", family = "execution", interval = 0.2,
  scan = function(ctx, p)
    ctx.redis:call("INCR", "runaway:entered")
    %s
    return 1, 0
  end }
]]):format(body)
end

describe("fault 6: runaway scan()", function()
  local srv, dir, sdir, proc, current

  before_each(function()
    srv = FX.RS.start({})
    dir = P.tmpdir()
    sdir = dir .. "/scanners"
    P.sh("mkdir -p " .. sdir)
    P.write(sdir .. "/counter.lua", COUNTER)
  end)

  after_each(function()
    FX.finish("runaway_" .. tostring(current), proc, srv, dir)
    proc = nil
  end)

  local function ticks()
    local out = srv:cli("LRANGE runaway:ticks 0 -1")
    return FX.numbers(out)
  end

  -- the counter's cycle starts over a window: max gap between ticks (ms)
  local function max_gap(t, from)
    local gap = 0
    for i = 2, #t do
      if t[i - 1] >= from then gap = math.max(gap, t[i] - t[i - 1]) end
    end
    return gap
  end

  for name, body in pairs(RUNAWAYS) do
    it(name .. ": detected within the bound, stopped once, others keep their schedule", function()
      current = name
      P.write(sdir .. "/spin.lua", spin(body:gsub("%%%%", "%%")))
      local conf = FX.config(dir, ("scan_timeout = %d,"):format(SCAN_TIMEOUT))
      local t0 = P.now()
      proc = P.start(dir, ("-c %s --scanners %s --redis %s --partitions 2"):format(conf, sdir, srv.url))
      local detected = proc:wait_log("runaway script: ran for more than", SCAN_TIMEOUT + 4)
      local t_detect = P.now() - t0
      assert.is_true(FX.alive(proc.pid), "scanhost died")
      assert.truthy(detected, "runaway not detected within " .. (SCAN_TIMEOUT + 4) .. " s")
      -- the stop is reported however the abort arrived (before or after a yield)
      assert.truthy(proc:wait_log("its script ran away", 1),
        "runaway detected but the scanner stop is never reported")
      local server_now = FX.numbers(srv:cli("TIME"))
      local detect_ms = server_now[1] * 1000 + math.floor(server_now[2] / 1000)
      P.sleep(2)
      -- stopped: entered exactly once, reported once
      assert.are.equal(1, FX.numbers(srv:cli("GET runaway:entered"))[1])
      assert.are.equal(1, proc:count("its script ran away"))
      -- the counter kept its 0.2 s schedule after the detection
      local t = ticks()
      local after = 0
      for _, v in ipairs(t) do if v >= detect_ms then after = after + 1 end end
      assert.is_true(after >= 7, "counter cycles in the 2 s after detection: " .. after)
      assert.is_true(max_gap(t, detect_ms) <= 450, "counter gap after detection: " .. max_gap(t, detect_ms))
      -- a fixed file restarts it
      P.write(sdir .. "/spin.lua", FIXED)
      proc:signal("USR1")
      assert.truthy(P.wait_for(function() return (FX.numbers(srv:cli("GET runaway:fixed"))[1] or 0) >= 3 end, 5))
      assert.are.equal(0, FX.term(proc))
      print(("# fault 6 (%s): detected after %.2f s (scan_timeout=%d), counter ticks after=%d, max gap=%d ms"):format(
        name, t_detect, SCAN_TIMEOUT, after, max_gap(t, detect_ms)))
    end)
  end

  it("top-level runaway at load: reported, the other scanners start", function()
    current = "toplevel"
    P.write(sdir .. "/spin.lua", "while true do end")
    local conf = FX.config(dir, ("scan_timeout = %d,"):format(SCAN_TIMEOUT))
    proc = P.start(dir, ("-c %s --scanners %s --redis %s --partitions 2"):format(conf, sdir, srv.url))
    assert.truthy(proc:wait_log("spin.lua", SCAN_TIMEOUT + 4))
    assert.truthy(P.wait_for(function() return #ticks() >= 5 end, 5))
    assert.is_true(FX.alive(proc.pid))
    assert.are.equal(0, FX.term(proc))
  end)
end)
