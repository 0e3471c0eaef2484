-- select() narrowing a cycle to the partitions with work, runaway scripts
-- being stopped while others keep their schedule, and the library re-check
-- after a FUNCTION FLUSH.
local RS = require "spec.helpers.redis_server"
local P = require "tests.integration.helpers.proc"

local SELECTIVE = [[
return { name = "selective", family = "execution", interval = 0.1,
  select = function(ctx, partitions)
    local cmds = {}
    for i, p in ipairs(partitions) do cmds[i] = { "GET", "work:" .. ctx:tag_for(p) } end
    local res = ctx.redis:pipeline(cmds)
    local want = {}
    for i, p in ipairs(partitions) do
      if res[i] then want[p] = res[i] end
    end
    return want
  end,
  scan = function(ctx, p, work)
    ctx.redis:call("RPUSH", "scanned", ctx.tag .. "=" .. tostring(work))
    return 1, 0
  end }
]]

local RUNAWAY = [[
return { name = "runaway", family = "execution", interval = 0.1,
  scan = function(ctx, p)
    if p == 1 then while true do end end
    return 0, 0
  end }
]]

local COUNTER = [[
return { name = "counter", family = "execution", interval = 0.1,
  scan = function(ctx, p) ctx.redis:call("INCR", "counter") return 1, 0 end }
]]

describe("scanhost core features", function()
  local srv, dir, proc
  before_each(function()
    srv = RS.start()
    dir = P.tmpdir()
  end)
  after_each(function()
    if proc then proc:stop() end
    proc = nil
    srv:stop()
    P.sh("rm -rf " .. dir)
  end)

  it("select() decides which partitions scan() visits and hands them its data", function()
    P.write(dir .. "/selective.lua", SELECTIVE)
    srv:cli("SET work:{fp:3} three")
    srv:cli("SET work:{fp:300} big")
    local rc, out = P.run(("--once --scanners %s --redis %s --partitions 400"):format(dir, srv.url))
    assert.are.equal(0, rc)
    assert.truthy(out:find("scanner=selective partitions=400 processed=2 skipped=0 errors=0", 1, true))
    assert.are.equal("{fp:3}=three\n{fp:300}=big", (srv:cli("LRANGE scanned 0 -1"):gsub("%s+$", "")))
  end)

  it("stops a runaway scanner within its bound while another keeps its schedule", function()
    P.write(dir .. "/runaway.lua", RUNAWAY)
    P.write(dir .. "/counter.lua", COUNTER)
    P.write(dir .. "/cfg.lua", "return { scan_timeout = 0.5 }")
    proc = P.start(dir, ("-c %s/cfg.lua --scanners %s --redis %s --partitions 2"):format(dir, dir, srv.url))
    assert.truthy(proc:wait_log("runaway script: ran for more than 0.5 s without yielding", 5))
    assert.truthy(proc:wait_log("scanner stopped: its script ran away", 5))
    -- the other scanner keeps running (it may not have run yet when the runaway was stopped)
    local function counter() return tonumber((srv:cli("GET counter"):gsub("%s+$", ""))) end
    assert.truthy(P.wait_for(counter, 5), "counter never ran")
    local c1 = counter()
    assert.truthy(P.wait_for(function() return counter() > c1 end, 5), "counter stopped")
    assert.are.equal(1, proc:count("runaway script: ran for more")) -- stopped, not retried
    -- a fixed version brings it back on reload
    P.write(dir .. "/runaway.lua", (RUNAWAY:gsub("while true do end", "ctx.redis:call('SET', 'fixed', 1)")))
    proc:signal("USR1")
    assert.truthy(P.wait_for(function() return srv:cli("GET fixed"):find("1") end, 5))
  end)

  it("aborts a script whose top level never returns, at load", function()
    P.write(dir .. "/spin.lua", "while true do end")
    P.write(dir .. "/counter.lua", COUNTER)
    P.write(dir .. "/cfg.lua", "return { scan_timeout = 0.3 }")
    local rc, out = P.run(("--check -c %s/cfg.lua --scanners %s"):format(dir, dir))
    assert.are.equal(2, rc)
    assert.truthy(out:find("spin.lua", 1, true))
    assert.truthy(out:find("runaway script", 1, true))
  end)

  it("reloads its own library once after it was flushed, and goes on", function()
    P.write(dir .. "/caller.lua", [[
return { name = "caller", family = "execution", interval = 0.1,
  scan = function(ctx, p)
    local r, err = ctx.redis:fcall("scanhost_ping", {}, {})
    if not r then return 0, 1 end
    ctx.redis:call("INCR", "pings")
    return 1, 0
  end }
]])
    local fdir = dir .. "/functions"
    P.sh("mkdir -p " .. fdir)
    P.write(fdir .. "/00-ping.lua", "redis.register_function('scanhost_ping', function() return 'pong' end)\n")
    proc = P.start(dir, ("--scanners %s --functions %s --redis %s --partitions 1"):format(dir, fdir, srv.url))
    assert.truthy(P.wait_for(function() return srv:cli("GET pings"):find("%d") end, 5))
    srv:cli("FUNCTION FLUSH")
    assert.truthy(proc:wait_log("a server%-side function is missing; checking the function library again", 5))
    local before = tonumber((srv:cli("GET pings"):gsub("%s+$", "")))
    assert.truthy(P.wait_for(function()
      return tonumber((srv:cli("GET pings"):gsub("%s+$", ""))) > before + 3 end, 5))
    assert.are.equal(1, proc:count("checking the function library again"))
  end)

  it("pauses cycles with backoff while Redis answers BUSY, then recovers", function()
    srv:stop()
    srv = RS.start({ args = "--lua-time-limit 50" })
    P.write(dir .. "/counter.lua", COUNTER)
    proc = P.start(dir, ("--scanners %s --redis %s --partitions 1"):format(dir, srv.url))
    assert.truthy(P.wait_for(function() return srv:cli("GET counter"):find("%d") end, 5))
    -- a script that never ends: every other client gets BUSY until SCRIPT KILL
    P.sh(("redis-cli -p %d EVAL 'while true do end' 0 >/dev/null 2>&1 &"):format(srv.port))
    assert.truthy(proc:wait_log("redis cannot serve now %(BUSY", 5))
    P.sleep(0.5)
    local pauses = proc:count("pausing new cycles")
    assert.is_true(pauses >= 1 and pauses < 12) -- backing off, not hammering every 100 ms
    assert.truthy(srv:cli("SCRIPT KILL"):find("OK", 1, true))
    -- the script stops at its next hook check: until then GET may still answer BUSY
    local function counter() return tonumber((srv:cli("GET counter"):gsub("%s+$", ""))) end
    assert.truthy(P.wait_for(counter, 5), "redis still BUSY after SCRIPT KILL")
    local before = counter()
    assert.truthy(P.wait_for(function() return (counter() or 0) > before + 3 end, 10))
  end)
end)
