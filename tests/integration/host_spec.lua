-- The daemon end to end, against a private redis-server: scripts writing to
-- Redis, reload, broken scripts, raising scanners, Redis restarts, shutdown,
-- --once / --check exit codes and the function library guard.
local RS = require "spec.helpers.redis_server"
local P = require "tests.integration.helpers.proc"

local COUNTER = [[
return {
  name = "%s", family = "execution", interval = 0.1,
  scan = function(ctx, p)
    local ok, err = ctx.redis:call("HINCRBY", "itest:%s", "%s", 1)
    if not ok then return 0, 1 end
    return 1, 0
  end,
}
]]

local function counter(name, field)
  return COUNTER:format(name, name, field or "v1")
end

local RAISER = [[
return { name = "raiser", family = "execution", interval = 0.1,
  scan = function(ctx, p) local t = nil; return t.field end }
]]

describe("scanhost daemon", function()
  local srv, dir, sdir, proc

  local function hget(key, field)
    local out = srv:cli(("HGET %s %s"):format(key, field)):gsub("%s+$", "")
    return tonumber(out)
  end

  local function start(extra, env)
    P.sh("mkdir -p " .. dir .. "/nofunctions") -- an empty library: no server functions needed
    proc = P.start(dir, ("--scanners %s --functions %s/nofunctions --redis %s --partitions 2 --log-level debug %s")
      :format(sdir, dir, srv.url, extra or ""), env)
    return proc
  end

  before_each(function()
    srv = RS.start()
    dir = P.tmpdir()
    sdir = dir .. "/scanners"
    P.sh("mkdir -p " .. sdir)
  end)

  after_each(function()
    if proc then proc:stop() end
    proc = nil
    srv:stop()
    P.sh("rm -rf " .. dir)
  end)

  it("runs a scanner that writes to Redis, every partition every cycle", function()
    P.write(sdir .. "/counter.lua", counter("counter"))
    start()
    assert.truthy(P.wait_for(function() return (hget("itest:counter", "v1") or 0) >= 6 end, 5))
    assert.truthy(proc:wait_log('scanner=counter msg="scan cycle complete" partitions=2 processed=2 skipped=0 errors=0'))
  end)

  it("SIGUSR1 applies a changed script, starts new ones and stops removed ones", function()
    P.write(sdir .. "/counter.lua", counter("counter", "v1"))
    P.write(sdir .. "/other.lua", counter("other", "v1"))
    start()
    assert.truthy(P.wait_for(function() return hget("itest:counter", "v1") end, 5))
    P.write(sdir .. "/counter.lua", counter("counter", "v2"))
    P.write(sdir .. "/newcomer.lua", counter("newcomer", "v1"))
    os.remove(sdir .. "/other.lua")
    proc:signal("USR1")
    assert.truthy(P.wait_for(function() return hget("itest:counter", "v2") end, 5))
    assert.truthy(P.wait_for(function() return hget("itest:newcomer", "v1") end, 5))
    assert.truthy(proc:wait_log("scanner=other msg=\"scanner stopped: its script was removed\""))
    local v1 = hget("itest:counter", "v1")
    local other = hget("itest:other", "v1")
    P.sleep(0.5)
    assert.are.equal(v1, hget("itest:counter", "v1")) -- the old version no longer runs
    assert.are.equal(other, hget("itest:other", "v1"))
  end)

  it("keeps the old version running when the new one has a syntax error", function()
    P.write(sdir .. "/counter.lua", counter("counter", "v1"))
    start()
    assert.truthy(P.wait_for(function() return hget("itest:counter", "v1") end, 5))
    P.write(sdir .. "/counter.lua", "return { name = 'counter', scan = function( end }")
    proc:signal("USR1")
    assert.truthy(proc:wait_log("script failed to load; the previous version keeps running"))
    assert.truthy(proc:output():find("counter.lua:1:", 1, true))
    local before = hget("itest:counter", "v1")
    assert.truthy(P.wait_for(function() return hget("itest:counter", "v1") > before + 2 end, 5))
    -- a fixed file is picked up by the next reload
    P.write(sdir .. "/counter.lua", counter("counter", "v3"))
    proc:signal("USR1")
    assert.truthy(P.wait_for(function() return hget("itest:counter", "v3") end, 5))
  end)

  it("logs a raising scanner with a traceback while another keeps running", function()
    P.write(sdir .. "/raiser.lua", RAISER)
    P.write(sdir .. "/counter.lua", counter("counter"))
    start()
    assert.truthy(proc:wait_log('scanner=raiser partition=1 msg="scan%(%) raised an error"'))
    assert.truthy(proc:output():find("attempt to index local 't'", 1, true))
    assert.truthy(proc:output():find("stack traceback:", 1, true))
    assert.truthy(proc:wait_log('scanner=raiser msg="scan cycle complete" partitions=2 processed=0 skipped=0 errors=2'))
    local before = hget("itest:counter", "v1") or 0
    assert.truthy(P.wait_for(function() return (hget("itest:counter", "v1") or 0) > before + 4 end, 5))
  end)

  it("a script that fails at its first load stays off and is reported", function()
    P.write(sdir .. "/broken.lua", "error('top-level failure')")
    P.write(sdir .. "/counter.lua", counter("counter"))
    start()
    assert.truthy(proc:wait_log("script failed to load; scanner stays off"))
    assert.truthy(proc:output():find("top-level failure", 1, true))
    assert.truthy(P.wait_for(function() return hget("itest:counter", "v1") end, 5))
  end)

  it("reconnects after Redis is killed and restarted, and continues", function()
    P.write(sdir .. "/counter.lua", counter("counter"))
    start()
    assert.truthy(P.wait_for(function() return hget("itest:counter", "v1") end, 5))
    local port = srv.port
    P.sh("kill -9 " .. srv:pid())
    assert.truthy(proc:wait_log("unavailable", 5))
    P.sleep(0.5)
    srv = RS.start({ port = port })
    assert.truthy(P.wait_for(function() return proc:count("connected to redis at") >= 2 end, 10))
    assert.truthy(P.wait_for(function() return (hget("itest:counter", "v1") or 0) >= 4 end, 10))
  end)

  it("exits 0 within 2 s of SIGTERM", function()
    P.write(sdir .. "/counter.lua", counter("counter"))
    start()
    assert.truthy(P.wait_for(function() return hget("itest:counter", "v1") end, 5))
    local t0 = P.now()
    proc:signal("TERM")
    local rc = proc:wait_exit(5)
    assert.are.equal(0, rc)
    assert.is_true(P.now() - t0 < 2)
    assert.truthy(proc:output():find("scanhost stopped (exit 0)", 1, true))
  end)

  it("--once runs one cycle and exits 0, or 1 when a scanner reported errors", function()
    P.write(sdir .. "/counter.lua", counter("counter"))
    local rc, out = P.run(("--once --scanners %s --redis %s --partitions 3"):format(sdir, srv.url))
    assert.are.equal(0, rc)
    assert.truthy(out:find("scanner=counter partitions=3 processed=3 skipped=0 errors=0 elapsed_ms=%d+"))
    assert.are.equal(3, hget("itest:counter", "v1"))
    P.write(sdir .. "/raiser.lua", RAISER)
    rc, out = P.run(("--once --scanners %s --redis %s --partitions 3"):format(sdir, srv.url))
    assert.are.equal(1, rc)
    assert.truthy(out:find("scanner=raiser partitions=3 processed=0 skipped=0 errors=3", 1, true))
    assert.are.equal(6, hget("itest:counter", "v1"))
    rc, out = P.run(("--once --only counter --scanners %s --redis redis://127.0.0.1:1"):format(sdir))
    assert.are.equal(1, rc) -- nothing listens there
    assert.truthy(out:find("could not reach redis", 1, true))
  end)

  -- issue 9: the summary stayed logfmt under --log-format json
  it("--once --log-format json: every line, the summary included, is JSON with typed counts", function()
    P.write(sdir .. "/counter.lua", counter("counter"))
    local p = io.popen(("./bin/scanhost --once --log-format json --scanners %s --redis %s --partitions 3 2>/dev/null")
      :format(sdir, srv.url))
    local stdout = p:read("*a")
    p:close()
    local json = require "ff.json"
    local v = assert(json.decode((stdout:gsub("\n$", ""))), stdout)
    assert.equal("counter", v.scanner)
    assert.equal("3", v.processed.text)
    assert.equal(json.Number, getmetatable(v.processed))
    assert.equal("0", v.skipped.text)
    assert.equal("0", v.errors.text)
    local rc, out = P.run(("--once --log-format json --scanners %s --redis %s --partitions 3"):format(sdir, srv.url))
    assert.are.equal(0, rc)
    for line in out:gmatch("[^\n]+") do
      if not line:match("^rc=") then assert.truthy(json.decode(line), line) end
    end
  end)

  it("--check validates without Redis and names the bad key", function()
    P.write(sdir .. "/counter.lua", counter("counter"))
    local rc, out = P.run(("--check --scanners %s --redis redis://127.0.0.1:1"):format(sdir))
    assert.are.equal(0, rc)
    assert.truthy(out:find("scanner=counter family=execution interval=0.1 partitions=256", 1, true))
    P.write(dir .. "/bad.lua", "return { partitions = 0 }")
    rc, out = P.run(("--check -c %s/bad.lua --scanners %s"):format(dir, sdir))
    assert.are.equal(2, rc)
    assert.truthy(out:find("partitions: must be an integer in 1..65535", 1, true))
    P.write(dir .. "/bad.lua", "return { scanners = { counter = { batch = 5 } } }")
    rc, out = P.run(("--check -c %s/bad.lua --scanners %s"):format(dir, sdir))
    assert.are.equal(2, rc)
    assert.truthy(out:find("scanners.counter.batch: unknown option", 1, true))
    P.write(sdir .. "/broken.lua", "return {")
    rc, out = P.run(("--check --scanners %s"):format(sdir))
    assert.are.equal(2, rc)
    assert.truthy(out:find("broken.lua", 1, true))
    rc, out = P.run("--partitions nope")
    assert.are.equal(2, rc)
    assert.truthy(out:find("--partitions: must be an integer", 1, true))
  end)

  it("never replaces a library it did not create, and uses FlowFabric's when present", function()
    P.write(sdir .. "/counter.lua", counter("counter"))
    local foreign = "#!lua name=scanhost\nredis.register_function('foreign_fn', function() return 1 end)"
    P.write(dir .. "/foreign.lua", foreign)
    srv:cli("-x FUNCTION LOAD < " .. dir .. "/foreign.lua")
    local fdir = dir .. "/functions"
    P.sh("mkdir -p " .. fdir)
    P.write(fdir .. "/00-test.lua", "redis.register_function('scanhost_ping', function() return 'pong' end)\n")
    local rc, out = P.run(("--once --scanners %s --functions %s --redis %s --partitions 1"):format(sdir, fdir, srv.url))
    assert.are.equal(0, rc)
    assert.truthy(out:find("scanhost did not create it; leaving it untouched", 1, true))
    assert.truthy(srv:cli("FUNCTION LIST WITHCODE"):find("foreign_fn", 1, true))
    assert.is_nil(srv:cli("FUNCTION LIST"):find("scanhost_ping", 1, true))
    -- our own library is loaded when the name is free, and replaced only on a version change
    srv:cli("FUNCTION DELETE scanhost")
    rc, out = P.run(("--once --scanners %s --functions %s --redis %s --partitions 1"):format(sdir, fdir, srv.url))
    assert.truthy(out:find("loading scanhost's 'scanhost' version", 1, true))
    assert.are.equal("pong", (srv:cli("FCALL scanhost_ping 0"):gsub("%s+$", "")))
    rc, out = P.run(("--once --scanners %s --functions %s --redis %s --partitions 1"):format(sdir, fdir, srv.url))
    assert.truthy(out:find("is already loaded", 1, true))
    P.write(fdir .. "/00-test.lua", "redis.register_function('scanhost_ping', function() return 'pong2' end)\n")
    rc, out = P.run(("--once --scanners %s --functions %s --redis %s --partitions 1"):format(sdir, fdir, srv.url))
    assert.truthy(out:find("replacing it with", 1, true))
    assert.are.equal("pong2", (srv:cli("FCALL scanhost_ping 0"):gsub("%s+$", "")))
    -- FlowFabric's library present: used, nothing loaded
    srv:cli("FUNCTION FLUSH")
    P.write(dir .. "/ff.lua", "#!lua name=flowfabric\nredis.register_function('ff_version', function() return '5' end)")
    srv:cli("-x FUNCTION LOAD < " .. dir .. "/ff.lua")
    rc, out = P.run(("--once --scanners %s --functions %s --redis %s --partitions 1"):format(sdir, fdir, srv.url))
    assert.truthy(out:find("FlowFabric's function library 'flowfabric' is loaded", 1, true))
    assert.is_nil(srv:cli("FUNCTION LIST"):find("scanhost_ping", 1, true))
  end)

  it("library_level picks the contract of its own library; a change replaces the loaded one", function()
    P.write(sdir .. "/counter.lua", counter("counter"))
    local function once(level)
      local conf = dir .. "/level.lua"
      P.write(conf, level and ("return { library_level = %s }"):format(level) or "return {}")
      return P.run(("--once -c %s --scanners %s --redis %s --partitions 1"):format(conf, sdir, srv.url))
    end
    local function ff_version()
      return (srv:cli("FCALL ff_version 0"):gsub("%s+$", ""))
    end
    local rc, out = once(nil)
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("(library level 34)", 1, true), out)
    assert.are.equal("34", ff_version())
    rc, out = once(5)
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("replacing it with", 1, true), out)
    assert.are.equal("5", ff_version())
    rc, out = P.run(("--check -c %s --scanners %s"):format(dir .. "/level.lua", sdir))
    assert.truthy(out:find("library_level=5", 1, true), out)
    rc, out = once(34)
    assert.truthy(out:find("(library level 34)", 1, true), out)
    assert.are.equal("34", ff_version())
    rc, out = once(7)
    assert.are.equal(2, rc)
    assert.truthy(out:find("library_level: must be 5", 1, true), out)
    -- a library of the user's own without a level line cannot be given a level
    local fdir = dir .. "/functions"
    P.sh("mkdir -p " .. fdir)
    P.write(fdir .. "/00-test.lua", "redis.register_function('scanhost_ping', function() return 'pong' end)\n")
    P.write(dir .. "/level.lua", "return { library_level = 5 }")
    rc, out = P.run(("--check -c %s --scanners %s --functions %s"):format(dir .. "/level.lua", sdir, fdir))
    assert.are.equal(2, rc)
    assert.truthy(out:find("library_level: " .. fdir .. " has no line", 1, true), out)
  end)
end)

describe("make install", function()
  it("installs a binary that finds its scripts, library and config without flags", function()
    local dir = P.tmpdir()
    assert.is_true(P.sh(("make -s install PREFIX=%s >/dev/null 2>&1"):format(dir)))
    local p = io.popen(("cd / && %s/bin/scanhost --check 2>&1; echo rc=$?"):format(dir))
    local out = p:read("*a")
    p:close()
    assert.truthy(out:find("rc=0", 1, true))
    assert.truthy(out:find("scanner=lease_expiry family=execution interval=1.5 partitions=256 enabled=true file="
      .. dir .. "/share/scanhost/scanners/lease_expiry.lua", 1, true))
    assert.truthy(out:find("config=" .. dir .. "/etc/scanhost/scanhost.lua", 1, true))
    P.sh("rm -rf " .. dir)
  end)

  -- issue 9: a second install rm -rf'd the scanners directory and
  -- overwrote the config.
  it("installing again keeps every file the user added or changed", function()
    local dir = P.tmpdir()
    local function install()
      local p = io.popen(("make -s install PREFIX=%s 2>&1; echo rc=$?"):format(dir))
      local out = p:read("*a")
      p:close()
      assert.truthy(out:find("rc=0", 1, true), out)
      return out
    end
    install()
    local share, etc = dir .. "/share/scanhost", dir .. "/etc/scanhost"
    -- the user's own config, scanner files and a local edit of a stock scanner
    local conf = "return { partitions = 8, scanners = { mine = { interval = 3 } } }\n"
    P.write(etc .. "/scanhost.lua", conf)
    P.write(etc .. "/scanners.d/mine.lua", counter("mine"))
    P.write(share .. "/scanners/extra.lua", counter("extra"))
    local stock = P.read(share .. "/scanners/unblock.lua")
    P.write(share .. "/scanners/unblock.lua", stock .. "\n-- local tweak\n")
    local out = install()
    assert.are.equal(conf, P.read(etc .. "/scanhost.lua"))
    assert.are.equal(counter("mine"), P.read(etc .. "/scanners.d/mine.lua"))
    assert.are.equal(counter("extra"), P.read(share .. "/scanners/extra.lua"))
    assert.are.equal(stock .. "\n-- local tweak\n", P.read(share .. "/scanners/unblock.lua"))
    assert.are.equal(stock, P.read(share .. "/scanners/unblock.lua.new"))
    assert.truthy(out:find("kept " .. share .. "/scanners/unblock.lua", 1, true), out)
    -- a stock file nobody touched is upgraded in place
    P.write(share .. "/scanners/lease_expiry.lua", "-- an older version\n")
    P.sh(("sed -i 's|^[^ ]* scanners/lease_expiry.lua$|%s scanners/lease_expiry.lua|' %s/.installed"):format(
      (io.popen("cksum < " .. share .. "/scanners/lease_expiry.lua | cut -d' ' -f1-2 | tr ' ' '-'"):read("*l")), share))
    install()
    assert.are.equal(P.read("scanners/lease_expiry.lua"), P.read(share .. "/scanners/lease_expiry.lua"))
    -- stock files the last install shipped and this one does not: removed
    -- when untouched (a retired scanner must not go on running), kept with a
    -- line when the user changed them
    local function shipped(rel, text)
      P.write(share .. "/" .. rel, text)
      P.sh(("echo \"$(cksum < %s/%s | cut -d' ' -f1-2 | tr ' ' '-') %s\" >> %s/.installed"):format(share, rel, rel, share))
    end
    shipped("scanners/retired.lua", counter("retired"))
    shipped("lua-lib/ff/retired.lua", "return {}\n")
    shipped("scanners/retired_edited.lua", counter("retired_edited"))
    P.write(share .. "/scanners/retired_edited.lua", counter("retired_edited") .. "-- mine\n")
    out = install()
    assert.is_nil(io.open(share .. "/scanners/retired.lua"))
    assert.is_nil(io.open(share .. "/lua-lib/ff/retired.lua"))
    assert.truthy(out:find("removed " .. share .. "/scanners/retired.lua (no longer shipped)", 1, true), out)
    assert.are.equal(counter("retired_edited") .. "-- mine\n", P.read(share .. "/scanners/retired_edited.lua"))
    assert.truthy(out:find("kept " .. share .. "/scanners/retired_edited.lua (changed locally; no longer shipped", 1, true), out)
    out = install() -- said again at every install while it is there
    assert.truthy(out:find("kept " .. share .. "/scanners/retired_edited.lua (changed locally; no longer shipped", 1, true), out)
    P.sh("rm " .. share .. "/scanners/retired_edited.lua")
    -- the installed binary loads the user's directory too and uses the user's config
    local p = io.popen(("cd / && %s/bin/scanhost --check 2>&1; echo rc=$?"):format(dir))
    local check = p:read("*a")
    p:close()
    assert.truthy(check:find("rc=0", 1, true), check)
    assert.truthy(check:find("scanner=mine family=execution interval=3 partitions=8 enabled=true file="
      .. etc .. "/scanners.d/mine.lua", 1, true), check)
    assert.truthy(check:find("scanner=extra ", 1, true), check)
    P.sh("rm -rf " .. dir)
  end)
end)

describe("scanhost with a password-protected Redis", function()
  local srv, dir
  before_each(function()
    srv = RS.start({ args = "--requirepass s3cretpw" })
    dir = P.tmpdir()
    P.write(dir .. "/counter.lua", counter("counter"))
  end)
  after_each(function()
    srv:stop()
    P.sh("rm -rf " .. dir)
  end)

  it("authenticates from the URL and never logs the password", function()
    local url = ("redis://:s3cretpw@127.0.0.1:%d"):format(srv.port)
    local rc, out = P.run(("--once --log-level debug --scanners %s --redis %s --partitions 2"):format(dir, url))
    assert.are.equal(0, rc, out)
    assert.is_nil(out:find("s3cretpw", 1, true))
    assert.truthy(out:find("redis://:***@127.0.0.1", 1, true))
    rc, out = P.run(("--check --scanners %s --redis %s"):format(dir, url))
    assert.are.equal(0, rc)
    assert.is_nil(out:find("s3cretpw", 1, true))
  end)

  it("a wrong password is a clear error and exit 1 (--once; the daemon retries: connection_spec)", function()
    local url = ("redis://:wrongpw@127.0.0.1:%d"):format(srv.port)
    local rc, out = P.run(("--once --scanners %s --redis %s"):format(dir, url))
    assert.are.equal(1, rc)
    assert.truthy(out:find("refused our credentials", 1, true))
    assert.is_nil(out:find("wrongpw", 1, true))
  end)
end)
