-- The function library's version (FCALL ff_version 0) as the daemon reads it:
-- at start, on a timer (an in-place upgrade), shown to scanners as
-- ctx.library_version; a scanner declaring library_versions waits while the
-- loaded library is another version.
local RS = require "spec.helpers.redis_server"
local P = require "tests.integration.helpers.proc"

-- records ctx.library_version every cycle: runs with any library
local RECORDER = [[
return { name = "recorder", family = "execution", interval = 0.1,
  scan = function(ctx, p)
    local ok = ctx.redis:call("SET", "v:seen", ctx.library_version or "nil")
    return ok and 1 or 0, ok and 0 or 1
  end }
]]

-- follows only the v34 contract
local V34_ONLY = [[
return { name = "v34_only", family = "execution", interval = 0.1,
  library_versions = { "34" },
  scan = function(ctx, p)
    local ok = ctx.redis:call("INCR", "v:v34_only")
    return ok and 1 or 0, ok and 0 or 1
  end }
]]

-- a stand-in for FlowFabric's library: only ff_version, answering version
local function flowfabric(srv, dir, version)
  P.write(dir .. "/ff.lua", ("#!lua name=flowfabric\nredis.register_function('ff_version', "
    .. "function() return '%s' end)"):format(version))
  srv:cli("-x FUNCTION LOAD REPLACE < " .. dir .. "/ff.lua")
end

describe("the function library's version", function()
  local srv, dir, sdir, proc

  before_each(function()
    srv = RS.start()
    dir = P.tmpdir()
    sdir = dir .. "/scanners"
    P.sh("mkdir -p " .. sdir)
    P.write(sdir .. "/recorder.lua", RECORDER)
    P.write(sdir .. "/v34_only.lua", V34_ONLY)
  end)

  after_each(function()
    P.cleanup { proc = proc, srv = srv, dir = dir }
    proc = nil
  end)

  local function get(key)
    return (srv:cli("GET " .. key):gsub("%s+$", ""))
  end

  it("--once: ctx.library_version is the level of its own library; a scanner for another waits, exit 0", function()
    P.write(dir .. "/c.lua", "return { library_level = 5 }")
    local rc, out = P.run(("--once -c %s/c.lua --scanners %s --redis %s --partitions 2")
      :format(dir, sdir, srv.url))
    assert.are.equal(0, rc, out)
    assert.are.equal("5", get("v:seen"))
    assert.are.equal("", get("v:v34_only"))
    assert.truthy(out:find("the function library is version 5 (FlowFabric 0.1.1 contract)", 1, true), out)
    assert.truthy(out:find("scanner waits: it follows library version 34; the loaded library is version 5", 1, true), out)
    P.write(dir .. "/c.lua", "return { library_level = 34 }")
    rc, out = P.run(("--once -c %s/c.lua --scanners %s --redis %s --partitions 2")
      :format(dir, sdir, srv.url))
    assert.are.equal(0, rc, out)
    assert.are.equal("34", get("v:seen"))
    assert.are.equal("2", get("v:v34_only"))
  end)

  it("the daemon follows an upgrade in place, and waits on a version it does not know", function()
    flowfabric(srv, dir, "5")
    P.write(dir .. "/c.lua", "return { library_recheck = 0.3 }")
    proc = P.start(dir, ("-c %s/c.lua --scanners %s --redis %s --partitions 1")
      :format(dir, sdir, srv.url))
    assert.truthy(P.wait_for(function() return get("v:seen") == "5" end, 5), proc:output())
    assert.truthy(proc:wait_log("scanner=v34_only msg=\"scanner waits: it follows library version 34; the loaded library is version 5\"", 5), proc:output())
    assert.are.equal("", get("v:v34_only"))
    -- FlowFabric upgraded in place: no function goes missing
    flowfabric(srv, dir, "34")
    assert.truthy(proc:wait_log("the function library changed from version 5 to 34", 5), proc:output())
    assert.truthy(P.wait_for(function() return get("v:seen") == "34" end, 5))
    assert.truthy(P.wait_for(function() return (tonumber(get("v:v34_only")) or 0) >= 2 end, 5))
    assert.truthy(proc:output():find("the function library's version suits it; it runs", 1, true))
    -- an intermediate version: said once, the dependent scanner waits, the others go on
    flowfabric(srv, dir, "27")
    assert.truthy(proc:wait_log("the function library is version 27, neither 5", 5), proc:output())
    assert.truthy(P.wait_for(function() return get("v:seen") == "27" end, 5))
    assert.truthy(proc:wait_log("the loaded library is version 27", 5))
    local n = get("v:v34_only")
    P.sleep(0.8)
    assert.are.equal(n, get("v:v34_only"))
    assert.are.equal(1, proc:count("version 27, neither 5"))
    assert.is_true(proc:signal("TERM"))
    assert.are.equal(0, proc:wait_exit(5))
  end)

  it("refuses a malformed library_versions, naming the scanner", function()
    P.write(sdir .. "/v34_only.lua", (V34_ONLY:gsub('{ "34" }', "34")))
    local rc, out = P.run(("--check --scanners %s"):format(sdir))
    assert.are.equal(2, rc, out)
    assert.truthy(out:find("library_versions must be a list of 1..8 version strings", 1, true), out)
    assert.truthy(out:find("scanner v34_only", 1, true), out)
  end)
end)
