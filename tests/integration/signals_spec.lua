-- Issue 9, item 10: SIGHUP reloads the config and every scanner (options,
-- intervals and enabled flags at the next cycle boundary; keys that need a
-- restart refused and kept), SIGUSR1 reloads the scanners, SIGUSR2 and
-- SIGPIPE are ignored, and every signal received is logged.
local RS = require "spec.helpers.redis_server"
local P = require "tests.integration.helpers.proc"

-- Counts its cycles per option value: HINCRBY sig:<name> <field> 1 on
-- partition 0 of every cycle.
local COUNTER = [[
return { name = "%s", family = "execution", interval = 0.1, defaults = { field = "v1" },
  scan = function(ctx, p)
    if p == 0 then ctx.redis:call("HINCRBY", "sig:%s", ctx.config.field, 1) end
    return 1, 0
  end }
]]

describe("signals", function()
  local srv, dir, sdir, proc

  local function hget(key, field)
    return tonumber((srv:cli(("HGET %s %s"):format(key, field)):gsub("%s+$", "")))
  end

  local function config(body)
    P.write(dir .. "/c.lua", ("return { redis = %q, partitions = 2, scanners_dir = %q, %s }")
      :format(srv.url, sdir, body or ""))
  end

  local function grows(key, field, timeout)
    local before = hget(key, field) or 0
    return P.wait_for(function() return (hget(key, field) or 0) > before + 1 end, timeout or 5)
  end

  before_each(function()
    srv = RS.start()
    dir = P.tmpdir()
    sdir = dir .. "/scanners"
    P.sh("mkdir -p " .. sdir .. " " .. dir .. "/nofunctions")
    P.write(sdir .. "/a.lua", COUNTER:format("a", "a"))
    P.write(sdir .. "/b.lua", COUNTER:format("b", "b"))
  end)
  after_each(function()
    if proc then proc:stop() end
    proc = nil
    srv:stop()
    P.sh("rm -rf " .. dir)
  end)

  local function start()
    proc = P.start(dir, ("-c %s/c.lua --functions %s/nofunctions"):format(dir, dir))
    assert.truthy(P.wait_for(function() return hget("sig:a", "v1") and hget("sig:b", "v1") end, 10),
      "the scanners never ran")
  end

  it("SIGHUP applies new options, intervals and enabled flags at the next cycle", function()
    config()
    start()
    config("scanners = { a = { field = 'v2', interval = 0.2 }, b = { enabled = false } }")
    assert.is_true(proc:signal("HUP"))
    assert.truthy(proc:wait_log("SIGHUP: reloading the config and every scanner", 5), "SIGHUP not logged")
    assert.truthy(proc:wait_log("SIGHUP: config .* applied", 5), "config not applied")
    assert.truthy(P.wait_for(function() return hget("sig:a", "v2") end, 5), "a's new option never used")
    assert.truthy(proc:wait_log('scanner=b msg="scanner disabled by the config; it stops"', 5))
    local v1 = hget("sig:a", "v1")
    local b = hget("sig:b", "v1")
    assert.truthy(grows("sig:a", "v2"))
    assert.are.equal(v1, hget("sig:a", "v1")) -- the old option is gone
    assert.are.equal(b, hget("sig:b", "v1"))  -- b is off
    -- and back on
    config("scanners = { a = { field = 'v2', interval = 0.2 } }")
    assert.is_true(proc:signal("HUP"))
    assert.truthy(grows("sig:b", "v1"), "b did not come back")
  end)

  it("SIGHUP refuses changes that need a restart and keeps the running values", function()
    config()
    start()
    local other = RS.start()
    finally(function() other:stop() end)
    P.write(dir .. "/c.lua", ("return { redis = %q, partitions = 8, scanners_dir = %q,"
      .. " library_level = 5, scanners = { a = { field = 'v3' } } }"):format(other.url, sdir))
    assert.is_true(proc:signal("HUP"))
    assert.truthy(proc:wait_log("SIGHUP: partitions changed from 2 to 8; that needs a restart, keeping 2", 5))
    assert.truthy(proc:wait_log("SIGHUP: library_level changed; that needs a restart, keeping the default", 5))
    assert.truthy(proc:wait_log("SIGHUP: redis changed in the config; that needs a restart", 5))
    -- the rest of the config applies, against the running server
    assert.truthy(P.wait_for(function() return hget("sig:a", "v3") end, 5))
    assert.truthy(proc:wait_log('scanner=a msg="scan cycle complete" partitions=2 ', 5))
    assert.are.equal("", (other:cli("KEYS sig:*"):gsub("%s+$", "")))
  end)

  it("SIGHUP that only adds a seed node to redis needs a restart too", function()
    config()
    start()
    P.write(dir .. "/c.lua", ("return { redis = { %q, 'redis://127.0.0.1:1' }, partitions = 2,"
      .. " scanners_dir = %q, scanners = { a = { field = 'v4' } } }"):format(srv.url, sdir))
    assert.is_true(proc:signal("HUP"))
    assert.truthy(proc:wait_log("SIGHUP: redis changed in the config; that needs a restart", 5))
    assert.truthy(proc:wait_log("SIGHUP: config .* applied", 5), "config not applied")
    assert.truthy(P.wait_for(function() return hget("sig:a", "v4") end, 5))
    -- the same file again: refused again, as the daemon still runs on the one URL
    assert.is_true(proc:signal("HUP"))
    assert.truthy(P.wait_for(function()
      local _, n = proc:output():gsub("config [^\n]* applied", "")
      return n == 2
    end, 5))
    local _, refusals = proc:output():gsub("redis changed in the config", "")
    assert.are.equal(2, refusals)
  end)

  it("SIGHUP with a broken config or a bad option changes nothing", function()
    config("scanners = { a = { field = 'v1' } }")
    start()
    P.write(dir .. "/c.lua", "return { partitions = ")
    assert.is_true(proc:signal("HUP"))
    assert.truthy(proc:wait_log("SIGHUP: the new config is refused %(", 5))
    config("scanners = { a = { field = 'v2', bacth = 1 } }")
    assert.is_true(proc:signal("HUP"))
    assert.truthy(proc:wait_log("scanners.a.bacth: unknown option", 5))
    assert.truthy(proc:wait_log("SIGHUP: the new config is refused %(see above%)", 5))
    config("scanners = { nobody = { interval = 1 } }")
    assert.is_true(proc:signal("HUP"))
    assert.truthy(proc:wait_log("scanners.nobody: no scanner of that name", 5))
    -- still the old config, still running
    assert.truthy(grows("sig:a", "v1"))
    assert.is_nil(hget("sig:a", "v2"))
  end)

  it("SIGUSR1 reloads the scanners; SIGUSR2 and SIGPIPE are ignored; every signal is logged", function()
    config()
    start()
    P.write(sdir .. "/a.lua", COUNTER:format("a", "a"):gsub('field = "v1"', 'field = "u1"'))
    assert.is_true(proc:signal("USR1"))
    assert.truthy(proc:wait_log("SIGUSR1: reloading scanners", 5))
    assert.truthy(P.wait_for(function() return hget("sig:a", "u1") end, 5), "SIGUSR1 did not reload")
    for _, sig in ipairs({ "USR2", "PIPE" }) do
      assert.is_true(proc:signal(sig))
      assert.truthy(proc:wait_log("SIG" .. sig .. ": ignored", 5), "SIG" .. sig .. " not logged")
    end
    assert.truthy(grows("sig:b", "v1"), "the daemon stopped working")
    assert.is_nil(proc:wait_exit(0.2))
    assert.is_true(proc:signal("TERM"))
    assert.are.equal(0, proc:wait_exit(10))
    assert.truthy(proc:output():find("SIGTERM: stopping", 1, true))
  end)

  it("SIGUSR1 reloads a scanner whose required module changed, and only that one", function()
    -- scanner a takes its option's default from a module on lua_path
    local lib = dir .. "/lib"
    P.sh("mkdir -p " .. lib .. "/sigmod")
    P.write(lib .. "/sigmod/field.lua", 'return "m1"\n')
    P.write(sdir .. "/a.lua", 'local field = require "sigmod.field"\n'
      .. COUNTER:format("a", "a"):gsub('field = "v1"', "field = field"))
    config(("lua_path = %q"):format(lib))
    proc = P.start(dir, ("-c %s/c.lua --functions %s/nofunctions"):format(dir, dir))
    assert.truthy(P.wait_for(function() return hget("sig:a", "m1") and hget("sig:b", "v1") end, 10),
      "the scanners never ran")
    P.write(lib .. "/sigmod/field.lua", 'return "m2"\n')
    assert.is_true(proc:signal("USR1"))
    assert.truthy(P.wait_for(function() return hget("sig:a", "m2") end, 5),
      "a changed module did not reload the scanner that requires it")
    assert.truthy(proc:wait_log('scanner=a msg="script reloaded', 5), "a's reload not logged")
    -- b requires nothing that changed: it keeps running its loaded version
    local function b_loads() return select(2, proc:output():gsub('scanner=b msg="script ', "")) end
    local before = b_loads()
    assert.are.equal(1, before)
    local m1 = hget("sig:a", "m1")
    assert.truthy(grows("sig:a", "m2"))
    assert.truthy(grows("sig:b", "v1"))
    assert.are.equal(m1, hget("sig:a", "m1")) -- the old module's value is gone
    assert.are.equal(before, b_loads())
  end)
end)
