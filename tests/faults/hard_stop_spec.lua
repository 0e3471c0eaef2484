-- Case 10 (issue 9): what the count hook cannot stop, and memory.
--  * a scan stuck inside a C function (string.find on a pathological
--    pattern): the watchdog ends the process within scan_timeout + 2 s,
--    naming the scanner and the partition; SIGTERM ends it within
--    shutdown_timeout + 1 s even while it is stuck;
--  * an endless __gc finalizer: --check, --once and a daemon's shutdown end
--    anyway, naming the scanner;
--  * a config file that never returns (a Lua loop, or stuck in C): exit 2
--    naming the file;
--  * a scanner over lua_memory_mb: stopped with a log line, its state
--    discarded (replies of the request it had in flight drained), the
--    other scanner goes on, RSS stays bounded, and a reload brings it back.
local FX = require "tests.faults.helpers.fx"
local P = FX.P

local COUNTER = [[
return { name = "counter", family = "execution", interval = 0.1,
  scan = function(ctx, p) ctx.redis:call("INCR", "hard:counter") return 1, 0 end }
]]

local STUCK = [[
return { name = "stuck", family = "execution", interval = 0.1,
  scan = function(ctx, p)
    ctx.redis:call("INCR", "hard:stuck")
    if p == 1 then string.rep("a", 4000):find(".-.-.-.-b") end
    return 1, 0
  end }
]]

-- the finalizer runs when the state is closed (the proxy stays referenced)
local FINALIZER = [[
KEEP = newproxy(true)
getmetatable(KEEP).__gc = function() while true do end end
return { name = "fin", family = "execution", interval = 0.1,
  scan = function(ctx, p) return 1, 0 end }
]]

-- grows by ~2 MB per partition scan; the allocation that fails is caught
-- (pcall), then a pipeline goes out: the scanner is stopped with it in flight
local HOG = [[
local keep = {}
return { name = "hog", family = "execution", interval = 0.1,
  scan = function(ctx, p)
    pcall(function()
      for i = 1, 20000 do keep[#keep + 1] = string.rep("x", 100) .. i end
    end)
    local cmds = {}
    for i = 1, 100 do cmds[i] = { "INCR", "hard:hog" } end
    ctx.redis:pipeline(cmds)
    return 1, 0
  end }
]]

local function counter(srv, key)
  return FX.numbers(srv:cli("GET " .. key))[1] or 0
end

describe("fault 10: hard stops", function()
  local srv, dir, sdir, proc, case

  before_each(function()
    srv = FX.RS.start({})
    dir = P.tmpdir()
    sdir = dir .. "/scanners"
    P.sh("mkdir -p " .. sdir)
  end)

  after_each(function()
    FX.finish("hard_stop_" .. tostring(case), proc, srv, dir)
    proc = nil
  end)

  local function start(conf)
    proc = P.start(dir, ("-c %s --scanners %s --redis %s --partitions 2"):format(
      FX.config(dir, conf), sdir, srv.url))
    return proc
  end

  it("a scan stuck in C ends the process, naming scanner and partition", function()
    case = "stuck_c"
    P.write(sdir .. "/counter.lua", COUNTER)
    P.write(sdir .. "/stuck.lua", STUCK)
    local t0 = P.now()
    start("scan_timeout = 1,")
    assert.truthy(P.wait_for(function() return counter(srv, "hard:stuck") >= 2 end, 10), "never entered")
    local t_stuck = P.now()
    local rc = proc:wait_exit(30)
    local took = P.now() - t_stuck
    assert.are.equal(1, rc, "exit status")
    local line = proc:output():match("[^\n]*watchdog: Lua did not return[^\n]*")
    assert.truthy(line, "no watchdog line")
    assert.truthy(line:find("scanner=stuck partition=1 ", 1, true), line)
    assert.truthy(line:find("during=scan()", 1, true), line)
    assert.truthy(counter(srv, "hard:counter") >= 1)
    print(("# fault 10 (stuck in C): exit %d %.2f s after the scan entered (scan_timeout=1, bound 3 s + start-up %.2f s)")
      :format(rc, took, t_stuck - t0))
  end)

  it("SIGTERM ends a process stuck in C within shutdown_timeout + 1 s", function()
    case = "stuck_term"
    P.write(sdir .. "/stuck.lua", STUCK)
    start("scan_timeout = 60, shutdown_timeout = 0.5,")
    assert.truthy(P.wait_for(function() return counter(srv, "hard:stuck") >= 2 end, 10), "never entered")
    P.sleep(0.3)
    local t0 = P.now()
    assert.is_true(proc:signal("TERM"))
    local rc = proc:wait_exit(20)
    local took = P.now() - t0
    assert.are.equal(1, rc, "exit status")
    -- the stop path ended it, not the 62 s watchdog
    assert.truthy(proc:output():find("watchdog: shutdown did not finish within 1.5 s", 1, true), proc:output())
    assert.is_true(took < 10, ("took %.2f s"):format(took))
    print(("# fault 10 (SIGTERM while stuck): exit %d after %.2f s (bound shutdown_timeout + 1 = 1.5 s)"):format(rc, took))
  end)

  it("an endless __gc finalizer ends --check, --once and a daemon's shutdown", function()
    case = "finalizer"
    P.write(sdir .. "/fin.lua", FINALIZER)
    local conf = FX.config(dir, "scan_timeout = 1, shutdown_timeout = 0.5,")
    local t0 = P.now()
    local rc, out = P.run(("--check -c %s --scanners %s"):format(conf, sdir))
    local t_check = P.now() - t0
    assert.are.equal(2, rc, out)
    assert.truthy(out:find('scanner=fin msg="watchdog: Lua did not return', 1, true), out)
    assert.truthy(out:find("closing its Lua state", 1, true), out)
    t0 = P.now()
    rc, out = P.run(("--once -c %s --scanners %s --redis %s --partitions 2"):format(conf, sdir, srv.url))
    local t_once = P.now() - t0
    assert.are.equal(1, rc, out)
    assert.truthy(out:find("closing its Lua state", 1, true), out)
    proc = P.start(dir, ("-c %s --scanners %s --redis %s --partitions 2"):format(conf, sdir, srv.url))
    assert.truthy(proc:wait_log("scan cycle complete", 10), "daemon never cycled")
    t0 = P.now()
    assert.is_true(proc:signal("TERM"))
    rc = proc:wait_exit(20)
    local t_term = P.now() - t0
    assert.are.equal(1, rc)
    assert.truthy(proc:output():find("closing its Lua state", 1, true), proc:output())
    print(("# fault 10 (finalizer loop): --check exit 2 in %.2f s, --once exit 1 in %.2f s, SIGTERM exit 1 in %.2f s")
      :format(t_check, t_once, t_term))
  end)

  it("a config file that never returns is refused, naming the file", function()
    case = "config_loop"
    P.write(sdir .. "/counter.lua", COUNTER)
    local times = {}
    for i, body in ipairs({ "while true do end", 'string.rep("a", 4000):find(".-.-.-.-b") return {}' }) do
      P.write(dir .. "/loop.lua", body)
      local t0 = P.now()
      local rc, out = P.run(("--check -c %s/loop.lua --scanners %s"):format(dir, sdir))
      times[i] = P.now() - t0
      assert.are.equal(2, rc, out)
      assert.truthy(out:find(dir .. "/loop.lua", 1, true), out)
    end
    print(("# fault 10 (config loop): Lua loop refused in %.2f s, stuck in C ended in %.2f s, exit 2 both")
      :format(times[1], times[2]))
  end)

  it("a scanner over lua_memory_mb is stopped and discarded; the rest goes on", function()
    case = "memory"
    P.write(sdir .. "/counter.lua", COUNTER)
    P.write(sdir .. "/hog.lua", HOG)
    proc = P.start(dir, ("-c %s --scanners %s --redis %s --partitions 2 --log-level debug"):format(
      FX.config(dir, "lua_memory_mb = 16,"), sdir, srv.url))
    local stopped = 'scanner=hog msg="scanner stopped: its Lua state went over lua_memory_mb'
    assert.truthy(proc:wait_log(stopped, 20), "hog never stopped")
    local rss = FX.rss_kb(proc.pid)
    local c0 = counter(srv, "hard:counter")
    assert.truthy(P.wait_for(function() return counter(srv, "hard:counter") > c0 + 5 end, 10), "counter stopped")
    -- its pipelines were always written whole, the one in flight when it
    -- was stopped too (its replies drained: see the debug line)
    assert.are.equal(0, counter(srv, "hard:hog") % 100)
    -- a reload brings it back (and it is stopped again)
    assert.is_true(proc:signal("USR1"))
    assert.truthy(P.wait_for(function() return proc:count(stopped) >= 2 end, 20), "not back after SIGUSR1")
    assert.is_true(FX.alive(proc.pid))
    assert.is_true(rss < 100 * 1024, "RSS " .. rss .. " kB")
    assert.is_true(proc:count("task ended with a request in flight") >= 1, "no request was in flight")
    assert.are.equal(0, FX.term(proc))
    print(("# fault 10 (memory): hog stopped at lua_memory_mb=16, RSS %d kB, back after SIGUSR1, counter kept going")
      :format(rss))
  end)
end)
