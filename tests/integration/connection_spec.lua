-- The connection handshake (issue 9 item 7) and URLs (item 9), end to end:
-- "connected" is logged only after AUTH/SELECT/PING succeeded; credentials,
-- a database index or a server that is not Redis are configuration errors
-- named in one line (--once: exit 1, bad database: exit 2), logged once per
-- reconnect attempt by the daemon; the final --once error names the cause;
-- URLs with percent-encoded secrets, IPv6 hosts, unix sockets with
-- credentials and query parameters; the password is never printed.
local RS = require "spec.helpers.redis_server"
local P = require "tests.integration.helpers.proc"
local FX = require "tests.faults.helpers.fx"

local COUNTER = P.counter("conn:counter")

-- The lines logged at level=error.
local function errors(out)
  return P.lines(out, "level=error")
end

describe("connection handshake", function()
  local srv, dir, sdir, proc, fake_pid

  before_each(function()
    dir = P.tmpdir()
    sdir = dir .. "/scanners"
    P.sh("mkdir -p " .. sdir)
    P.write(sdir .. "/counter.lua", COUNTER)
    P.write(dir .. "/fast.lua", "return { connect_timeout = 1 }")
  end)

  after_each(function()
    P.cleanup({ proc = proc, srv = srv, dir = dir, pids = { fake_pid } })
    proc, srv, fake_pid = nil, nil, nil
  end)

  local function once(url, extra)
    return P.run(("--once --scanners %s --partitions 2 --redis '%s' %s"):format(sdir, url, extra or ""))
  end

  it("a wrong password: --once exit 1, one line naming the cause, password absent", function()
    srv = RS.start({ password = "Right-s3cret" })
    local rc, out = once(("redis://:Wr0ng-s3cret@127.0.0.1:%d"):format(srv.port))
    assert.are.equal(1, rc, out)
    local e = errors(out)
    assert.are.equal(1, #e, out)
    assert.truthy(e[1]:find("refused our credentials", 1, true), out)
    assert.truthy(e[1]:find("WRONGPASS", 1, true), out)
    assert.is_nil(out:find("Wr0ng", 1, true))
    assert.is_nil(out:find("connected to redis", 1, true), out)
    assert.is_nil(out:find("scanner=counter partitions=", 1, true), out) -- no summary, no cycle
  end)

  it("no password for a server that requires one (NOAUTH): exit 1, one line", function()
    srv = RS.start({ password = "Right-s3cret" })
    local rc, out = once(("redis://127.0.0.1:%d"):format(srv.port))
    assert.are.equal(1, rc, out)
    local e = errors(out)
    assert.are.equal(1, #e, out)
    assert.truthy(e[1]:find("requires a password (NOAUTH", 1, true), out)
    assert.is_nil(out:find("connected to redis", 1, true), out)
  end)

  it("a database index the server refuses: exit 2, one line", function()
    srv = RS.start()
    local rc, out = once(("redis://127.0.0.1:%d/16"):format(srv.port))
    assert.are.equal(2, rc, out)
    local e = errors(out)
    assert.are.equal(1, #e, out)
    assert.truthy(e[1]:find("refused the database index (SELECT 16 failed: ERR DB index is out of range)",
      1, true), out)
  end)

  it("a frozen server never counts as connected; --once names the timeout", function()
    srv = RS.start()
    assert.is_true(srv:kill("STOP"))
    local rc, out = once(srv.url, "-c " .. dir .. "/fast.lua")
    assert.are.equal(1, rc, out)
    assert.is_nil(out:find("connected to redis", 1, true), out)
    assert.truthy(out:find("could not reach redis at " .. srv.url .. " within 1 s: timed out waiting for "
      .. "the server to answer the connection handshake", 1, true), out)
    -- the daemon waits for it without claiming a connection, then connects
    proc = P.start(dir, ("-c %s/fast.lua --scanners %s --partitions 2 --redis %s"):format(dir, sdir, srv.url))
    assert.truthy(proc:wait_log("unavailable %(timed out waiting for the server", 10), proc:output())
    assert.is_nil(proc:output():find("connected to redis", 1, true))
    assert.is_true(srv:kill("CONT"))
    assert.truthy(proc:wait_log("connected to redis at", 15), "no connection after SIGCONT:\n" .. proc:output())
    assert.truthy(P.wait_for(function() return srv:cli("HGET conn:counter n"):match("%d+") end, 10),
      "the counter scanner did not run")
  end)

  it("a listener that is not Redis is a protocol error, named in one line", function()
    local portfile = dir .. "/fake.port"
    local p = io.popen(("luajit tests/integration/helpers/fake_server.lua %s "
      .. "'HTTP/1.1 400 Bad Request\\r\\nContent-Length: 0\\r\\n\\r\\n' >/dev/null 2>&1 & echo $!"):format(portfile))
    fake_pid = p:read("*l")
    p:close()
    local port = P.wait_for(function() return tonumber(P.read(portfile) or "") end, 5)
    assert.truthy(port, "the fake server did not start")
    local rc, out = once(("redis://127.0.0.1:%d"):format(port))
    assert.are.equal(1, rc, out)
    local e = errors(out)
    assert.are.equal(1, #e, out)
    assert.truthy(e[1]:find('does not speak the Redis protocol (Protocol error, got \\"H\\" as reply type byte)',
      1, true), out)
    assert.is_nil(out:find("connected to redis", 1, true), out)
  end)

  it("the final --once error names the cause: refused, missing unix socket", function()
    local rc, out = once("redis://127.0.0.1:1", "-c " .. dir .. "/fast.lua")
    assert.are.equal(1, rc, out)
    assert.truthy(out:find("could not reach redis at redis://127.0.0.1:1 within 1 s: connect to "
      .. "127.0.0.1:1 failed: Connection refused (ECONNREFUSED)", 1, true), out)
    rc, out = once("unix://" .. dir .. "/no.sock", "-c " .. dir .. "/fast.lua")
    assert.are.equal(1, rc, out)
    assert.truthy(out:find("failed: No such file or directory (ENOENT)", 1, true), out)
  end)

  it("a host name is looked up off the loop: localhost connects, an unknown name is the cause", function()
    srv = RS.start()
    local rc, out = once(("redis://localhost:%d"):format(srv.port))
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("connected to redis at redis://localhost:" .. srv.port, 1, true), out)
    rc, out = once("redis://no-such-host.invalid:6390", "-c " .. dir .. "/fast.lua")
    assert.are.equal(1, rc, out)
    assert.truthy(out:find("could not reach redis at redis://no-such-host.invalid:6390 within 1 s: "
      .. "cannot resolve no-such-host.invalid: ", 1, true), out)
  end)

  it("a daemon refused by the server logs it once per backoff step and recovers", function()
    srv = RS.start({ password = "Right-s3cret" })
    proc = P.start(dir, ("--scanners %s --partitions 2 --redis redis://:Wr0ng-s3cret@127.0.0.1:%d")
      :format(sdir, srv.port))
    assert.truthy(proc:wait_log("refused our credentials", 5), proc:output())
    local t0 = P.now()
    P.sleep(4)
    local out = proc:output()
    local lines = FX.count_lines(out, "refused our credentials")
    -- backoff 0.1 s doubling (with jitter down to half) over ~4 s: at most 8
    -- attempts, and nothing per partition or per scanner
    assert.is_true(lines >= 2 and lines <= 8 + math.ceil(P.now() - t0 - 4), ("%d lines:\n%s"):format(lines, out))
    assert.are.equal(lines, #errors(out), out)
    assert.is_nil(out:find("connected to redis", 1, true))
    assert.is_nil(out:find("Wr0ng", 1, true))
    -- the server's password changes to the one configured: the daemon gets in
    srv:cli("CONFIG SET requirepass Wr0ng-s3cret")
    srv.password = "Wr0ng-s3cret"
    assert.truthy(proc:wait_log("connected to redis at", 15), proc:output())
    assert.truthy(P.wait_for(function() return srv:cli("HGET conn:counter n"):match("%d+") end, 10))
    proc:signal("TERM")
    assert.are.equal(0, proc:wait_exit(10))
  end)
end)

describe("redis URLs", function()
  local srv, dir

  before_each(function()
    dir = P.tmpdir()
    P.write(dir .. "/counter.lua", COUNTER)
  end)

  after_each(function()
    P.cleanup({ srv = srv, dir = dir })
    srv = nil
  end)

  local function once(url)
    return P.run(("--once --scanners %s --partitions 2 --redis '%s'"):format(dir, url))
  end

  it("percent-decodes the user name and password; never prints them", function()
    srv = RS.start({ password = "p/w@x%y:z" })
    local rc, out = once(("redis://:p%%2Fw%%40x%%25y%%3Az@127.0.0.1:%d/0"):format(srv.port))
    assert.are.equal(0, rc, out)
    assert.is_nil(out:find("p/w", 1, true))
    assert.is_nil(out:find("p%2Fw", 1, true))
    assert.truthy(out:find("redis://:***@127.0.0.1:" .. srv.port, 1, true))
    -- an ACL user
    srv:cli("ACL SETUSER scan%20ner on '>pass/word' '~*' '&*' '+@all'")
    rc, out = once(("redis://scan%%2520ner:pass%%2Fword@127.0.0.1:%d"):format(srv.port))
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("redis://scan%2520ner:***@127.0.0.1:", 1, true), out)
  end)

  it("unix sockets carry credentials and query parameters", function()
    local sock = dir .. "/redis.sock"
    srv = RS.start({ password = "Sock-s3cret", args = "--unixsocket " .. sock .. " --unixsocketperm 700" })
    srv:cli("-n 2 SET marker two")
    local rc, out = once(("unix://:Sock-s3cret@%s"):format(sock))
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("connected to redis at unix://:***@" .. sock, 1, true), out)
    rc, out = once(("unix://%s?db=2&password=Sock-s3cret"):format(sock))
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("connected to redis at unix://:***@" .. sock .. "?db=2", 1, true), out)
    assert.truthy(srv:cli("-n 2 HGET conn:counter n"):match("2"), "the scanner did not run in db 2")
    assert.is_nil(out:find("Sock-s3cret", 1, true))
    rc, out = once(("redis://127.0.0.1:%d?password=Sock-s3cret&db=2"):format(srv.port))
    assert.are.equal(0, rc, out)
    assert.is_nil(out:find("Sock-s3cret", 1, true))
  end)

  it("connects to an IPv6 address in brackets", function()
    local v6 = (P.read("/proc/net/if_inet6") or ""):find("00000000000000000000000000000001", 1, true)
    if not v6 then
      pending("this machine has no IPv6 loopback")
      return
    end
    srv = RS.start({ args = "--bind 127.0.0.1 ::1" })
    local rc, out = once(("redis://[::1]:%d"):format(srv.port))
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("connected to redis at redis://[::1]:" .. srv.port, 1, true), out)
  end)

  it("a malformed URL is exit 2 at start, without the password", function()
    for _, url in ipairs({ "redis://user:Pw-s3cret@[::1", "redis://:Pw-s3cret@127.0.0.1:6379/x",
      "redis://:Pw%zzs3cret@h", "redis://::1:6379", "unix://:Pw-s3cret@relative/path",
      "redis://h:6379?pasword=Pw-s3cret", "redis://:Pw-s3cret@h?password=Pw-s3cret" }) do
      local rc, out = P.run(("--scanners %s --redis '%s'"):format(dir, url)) -- the daemon, too
      assert.are.equal(2, rc, url .. "\n" .. out)
      assert.truthy(out:find("--redis: ", 1, true), out)
      assert.is_nil(out:find("s3cret", 1, true), out)
    end
  end)
end)
