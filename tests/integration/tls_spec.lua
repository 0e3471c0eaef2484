-- TLS to Redis (issue 10), end to end against a real `redis-server
-- --tls-port` (no plain port) whose CA and certificates the spec makes with
-- the openssl CLI: a verified connection draining real items, the password
-- over TLS, a certificate from another CA, host name checks and --sni,
-- mutual TLS, the TLS server restarted under a running daemon, a dropped
-- connection resuming its session (and one that failed at the TLS level
-- not), TLS records cut at every byte, unusable CA/cert/key files (exit 2,
-- also --check) and --insecure.
local RS = require "spec.helpers.redis_server"
local P = require "tests.integration.helpers.proc"
local FX = require "tests.faults.helpers.fx"

local COUNTER = P.counter("tls:counter")

-- The lines logged at level=error.
local function errors(out)
  return P.lines(out, "level=error")
end

describe("TLS", function()
  local srv, dir, sdir, proc, proxy_pid

  local function scanhost(mode, url, extra)
    return P.run(("%s --scanners %s --partitions 4 --redis '%s' %s"):format(mode, sdir, url, extra or ""))
  end

  -- --once with the test CA (and extra flags)
  local function once(url, extra)
    return scanhost("--once", url, ("--cacert %s %s"):format(srv.tls.ca, extra or ""))
  end

  before_each(function()
    dir = P.tmpdir()
    sdir = dir .. "/scanners"
    FX.copy_scanners({ "delayed_promoter" }, sdir)
    P.write(sdir .. "/counter.lua", COUNTER)
  end)

  after_each(function()
    P.cleanup({ proc = proc, srv = srv, dir = dir, pids = { proxy_pid } })
    proc, srv, proxy_pid = nil, nil, nil
  end)

  it("a verified connection with a password: --once drains real items", function()
    srv = RS.start({ tls = {}, password = "Tls-s3cret-pw" })
    local now = FX.server_ms(srv)
    FX.seed_delayed(srv, 4, 25, function() return now - 1000 end, dir)
    local rc, out = once(srv.url)
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("connected to redis at rediss://:***@127.0.0.1:" .. srv.port .. " (TLSv1.3 ", 1, true), out)
    assert.truthy(out:find("scanner=delayed_promoter partitions=4 processed=100 skipped=0 errors=0", 1, true), out)
    assert.are.equal(100, FX.delayed_done(srv, 4, 25))
    assert.is_nil(out:find("Tls-s3cret", 1, true))
    -- the CA from the config file works the same
    P.write(dir .. "/tls.lua", ("return { tls = { cacert = %q } }"):format(srv.tls.ca))
    rc, out = scanhost("--once", srv.url, "-c " .. dir .. "/tls.lua")
    assert.are.equal(0, rc, out)
  end)

  it("refuses a certificate from another CA (and by default, the system store's)", function()
    srv = RS.start({ tls = {} })
    local other = RS.make_ca(dir, "other-ca")
    local rc, out = scanhost("--once", srv.url, "--cacert " .. other.cert)
    assert.are.equal(1, rc, out)
    local e = errors(out)
    assert.are.equal(1, #e, out)
    assert.truthy(e[1]:find("certificate verify failed: ", 1, true), out)
    assert.is_nil(out:find("connected to redis", 1, true))
    rc, out = scanhost("--once", srv.url, "") -- no --cacert: the system CA store
    assert.are.equal(1, rc, out)
    assert.truthy(out:find("certificate verify failed: self-signed certificate in certificate chain", 1, true), out)
  end)

  it("checks the host name; --sni names the one the certificate carries", function()
    srv = RS.start({ tls = { san = "DNS:redis.test" } })
    local rc, out = once(srv.url)
    assert.are.equal(1, rc, out)
    assert.truthy(out:find("certificate verify failed: IP address mismatch (the certificate does not "
      .. "name 127.0.0.1; --sni NAME sets the name to check)", 1, true), out)
    rc, out = once(("rediss://localhost:%d"):format(srv.port))
    assert.are.equal(1, rc, out)
    assert.truthy(out:find("certificate verify failed: hostname mismatch", 1, true), out)
    rc, out = once(srv.url, "--sni redis.test")
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("connected to redis at", 1, true), out)
    rc, out = once(srv.url, "--sni other.test")
    assert.are.equal(1, rc, out)
  end)

  it("mutual TLS: refused without a client certificate, served with one", function()
    srv = RS.start({ tls = { auth_clients = "yes" } })
    local rc, out = once(srv.url)
    assert.are.equal(1, rc, out)
    assert.is_nil(out:find("connected to redis", 1, true), out)
    assert.truthy(out:find("certificate required", 1, true) or out:find("reset", 1, true), out)
    rc, out = once(srv.url, ("--cert %s --key %s"):format(srv.tls.client_cert, srv.tls.client_key))
    assert.are.equal(0, rc, out)
    -- a client certificate from another CA is refused by the server
    local other = RS.make_ca(dir, "other-ca")
    local cert, key = RS.issue(dir, other, "stranger", "stranger")
    rc, out = once(srv.url, ("--cert %s --key %s"):format(cert, key))
    assert.are.equal(1, rc, out)
  end)

  it("a daemon survives the TLS server being killed and restarted, and keeps draining", function()
    srv = RS.start({ tls = {}, password = "Tls-s3cret-pw" })
    proc = P.start(dir, ("--scanners %s --partitions 4 --redis %s --cacert %s"):format(sdir, srv.url, srv.tls.ca))
    assert.truthy(proc:wait_log("connected to redis at", 10), proc:output())
    assert.truthy(P.wait_for(function() return srv:cli("HGET tls:counter n"):match("%d+") end, 10))
    assert.is_true(srv:kill("KILL"))
    assert.truthy(proc:wait_log("unavailable", 10), proc:output())
    assert.is_true(srv:restart(20), "the TLS server did not restart")
    assert.truthy(P.wait_for(function() return proc:count("connected to redis at") >= 2 end, 20), proc:output())
    local now = FX.server_ms(srv)
    FX.seed_delayed(srv, 4, 25, function() return now - 1000 end, dir)
    assert.truthy(P.wait_for(function() return FX.delayed_done(srv, 4, 25) == 100 end, 20),
      "items not drained after the restart:\n" .. proc:output())
    proc:signal("TERM")
    assert.are.equal(0, proc:wait_exit(10))
    assert.is_nil(proc:output():find("Tls-s3cret", 1, true))
  end)

  it("a connection the server dropped comes back by resuming its TLS session", function()
    srv = RS.start({ tls = {} })
    proc = P.start(dir, ("--scanners %s --partitions 4 --redis %s --cacert %s"):format(sdir, srv.url, srv.tls.ca))
    assert.truthy(P.wait_for(function() return srv:cli("HGET tls:counter n"):match("%d+") end, 10), proc:output())
    local first = proc:output():match("connected to redis at [^\n]*")
    assert.truthy(first and first:find("TLSv1.3", 1, true), proc:output())
    assert.falsy(first:find("resumed", 1, true), first) -- nothing to resume yet
    assert.truthy(srv:cli("CLIENT KILL TYPE normal"):match("^%d+"))
    assert.truthy(P.wait_for(function() return proc:count("connected to redis at") >= 2 end, 10), proc:output())
    local again = select(2, proc:output():match("(connected to redis at [^\n]*).-(connected to redis at [^\n]*)"))
    assert.truthy(again and again:find("TLSv1.3 [%w_]+, resumed"), proc:output())
    local n = tonumber(srv:cli("HGET tls:counter n"):match("%d+"))
    assert.truthy(P.wait_for(function() return tonumber(srv:cli("HGET tls:counter n"):match("%d+")) > n end, 10),
      "no cycle after the reconnect:\n" .. proc:output())
    -- a server restarted has other ticket keys: a full handshake, and it still connects
    assert.is_true(srv:kill("KILL"))
    assert.is_true(srv:restart(20), "the TLS server did not restart")
    assert.truthy(P.wait_for(function() return proc:count("connected to redis at") >= 3 end, 20), proc:output())
    proc:signal("TERM")
    assert.are.equal(0, proc:wait_exit(10))
  end)

  -- proxy(flags) -> the port of a delayproxy in front of srv (flags: its options)
  local function proxy(flags)
    assert.truthy(P.sh("mkdir -p build/bench && cc -O2 -o build/bench/delayproxy tests/bench/delayproxy.c -lev"),
      "cannot build the proxy")
    local port
    for _ = 1, 10 do
      port = 30000 + math.random(0, 9999)
      local p = io.popen(("build/bench/delayproxy --listen %d --upstream 127.0.0.1:%d --delay-ms 0 "
        .. "%s >/dev/null 2>&1 & echo $!"):format(port, srv.port, flags))
      proxy_pid = p:read("*l")
      p:close()
      -- listening (not merely started: a loaded machine may take a while to bind)
      local listening = P.wait_for(function()
        return P.sh(("ss -ltn 'sport = :%d' | grep -q LISTEN"):format(port))
          or not P.sh("kill -0 " .. proxy_pid .. " 2>/dev/null")
      end, 5)
      if listening and P.sh("kill -0 " .. proxy_pid .. " 2>/dev/null") then return port end
    end
    error("the proxy never listened")
  end

  it("a connection that fails at the TLS level forgets its session: the next is a full handshake", function()
    srv = RS.start({ tls = {} })
    -- every connection gets one corrupted record, after its handshake and tickets
    local port = proxy("--corrupt-after 6000")
    proc = P.start(dir, ("--scanners %s --partitions 4 --redis rediss://127.0.0.1:%d --cacert %s")
      :format(sdir, port, srv.tls.ca))
    assert.truthy(P.wait_for(function() return proc:count("connected to redis at") >= 3 end, 60), proc:output())
    local out = proc:output()
    assert.truthy(out:find("bad record mac", 1, true), out)
    for line in out:gmatch("connected to redis at [^\n]*") do
      assert.truthy(line:find("TLSv1.3", 1, true), line)
      assert.falsy(line:find("resumed", 1, true), line)
    end
    proc:signal("TERM")
    assert.are.equal(0, proc:wait_exit(10))
  end)

  it("TLS records cut at every byte (a proxy forwarding one byte at a time)", function()
    srv = RS.start({ tls = {} })
    local port = proxy("--chunk 1")
    local now = FX.server_ms(srv)
    FX.seed_delayed(srv, 4, 10, function() return now - 1000 end, dir)
    local rc, out = once(("rediss://127.0.0.1:%d"):format(port))
    assert.are.equal(0, rc, out)
    assert.are.equal(40, FX.delayed_done(srv, 4, 10))
  end)

  it("unusable CA, certificate or key files: exit 2 naming the option, also in --check", function()
    local url = "rediss://127.0.0.1:1"
    P.write(dir .. "/garbage.pem", "not a certificate\n")
    local tls = RS.make_ca(dir, "ca")
    local cert, key = RS.issue(dir, tls, "client", "client")
    local _, other_key = RS.issue(dir, tls, "other", "other")
    local cases = {
      { "--cacert " .. dir .. "/missing.crt", "--cacert: cannot read " .. dir .. "/missing.crt: No such file" },
      { "--cacert " .. dir, "--cacert: cannot read " .. dir .. ": not a regular file" },
      { "--cacert " .. dir .. "/garbage.pem", "--cacert: no usable CA certificate in" },
      { ("--cert %s/missing.crt --key %s"):format(dir, key), "--cert: cannot read" },
      { ("--cert %s --key %s/missing.key"):format(cert, dir), "--key: cannot read" },
      { ("--cert %s/garbage.pem --key %s"):format(dir, key), "--cert: no usable certificate in" },
      { ("--cert %s --key %s/garbage.pem"):format(cert, dir), "--key: no usable private key in" },
      { ("--cert %s --key %s"):format(cert, other_key), "--key: no usable private key in" },
      { "--cert " .. cert, "--cert: a client certificate needs both --cert and --key" },
    }
    for _, c in ipairs(cases) do
      for _, mode in ipairs({ "--check", "--once" }) do
        local rc, out = scanhost(mode, url, c[1])
        assert.are.equal(2, rc, mode .. " " .. c[1] .. "\n" .. out)
        assert.truthy(out:find(c[2], 1, true), mode .. " " .. c[1] .. "\n" .. out)
        assert.is_nil(out:find("BEGIN", 1, true)) -- no key material
      end
    end
    -- from the config file, named by its key
    P.write(dir .. "/tls.lua", ("return { tls = { cacert = %q } }"):format(dir .. "/missing.crt"))
    local rc, out = scanhost("--check", url, "-c " .. dir .. "/tls.lua")
    assert.are.equal(2, rc, out)
    assert.truthy(out:find("tls.cacert: cannot read", 1, true), out)
    P.write(dir .. "/tls.lua", "return { tls = { cacrt = 'x' } }")
    rc, out = scanhost("--check", url, "-c " .. dir .. "/tls.lua")
    assert.are.equal(2, rc, out)
    assert.truthy(out:find("tls.cacrt: unknown TLS option", 1, true), out)
    -- TLS options with a plain URL
    rc, out = scanhost("--check", "redis://127.0.0.1:1", "--cacert " .. tls.cert)
    assert.are.equal(2, rc, out)
    assert.truthy(out:find("--cacert: TLS options need a rediss:// URL", 1, true), out)
    rc, out = scanhost("--once", "redis://127.0.0.1:1", "--insecure")
    assert.are.equal(2, rc, out)
    assert.truthy(out:find("--insecure: TLS options need a rediss:// URL", 1, true), out)
  end)

  it("OpenSSL is mapped only for rediss://, from the module next to the binary or installed", function()
    srv = RS.start({ tls = {} })
    local plain = RS.start()
    finally(function() plain:stop() end)
    local function maps_after_connect(url, extra)
      proc = P.start(dir, ("--scanners %s --partitions 4 --redis %s %s"):format(sdir, url, extra or ""))
      assert.truthy(proc:wait_log("connected to redis at", 10), proc:output())
      local maps = P.read("/proc/" .. proc.pid .. "/maps") or ""
      proc:stop()
      proc = nil
      return maps
    end
    local maps = maps_after_connect(plain.url)
    assert.is_nil(maps:find("libssl", 1, true), "a plain connection mapped OpenSSL")
    assert.is_nil(maps:find("libcrypto", 1, true), "a plain connection mapped OpenSSL")
    maps = maps_after_connect(srv.url, "--cacert " .. srv.tls.ca)
    assert.truthy(maps:find("/bin/scanhost-tls.so", 1, true), maps)
    assert.truthy(maps:find("libssl", 1, true), maps)
    -- an installed binary finds the module under PREFIX/lib/scanhost
    local prefix = dir .. "/prefix"
    assert.is_true(P.sh(("make -s install PREFIX=%s >/dev/null 2>&1"):format(prefix)))
    local p = io.popen(("cd / && %s/bin/scanhost --once --scanners %s --partitions 4 --redis %s --cacert %s 2>&1; echo rc=$?")
      :format(prefix, sdir, srv.url, srv.tls.ca))
    local out = p:read("*a")
    p:close()
    assert.truthy(out:find("rc=0", 1, true), out)
    assert.truthy(out:find("connected to redis at rediss://", 1, true), out)
  end)

  it("--insecure skips verification and says so at start", function()
    srv = RS.start({ tls = { san = "DNS:redis.test" } })
    local rc, out = scanhost("--once", srv.url, "--insecure")
    assert.are.equal(0, rc, out)
    assert.truthy(out:find('level=warn msg="--insecure: TLS certificate verification is off', 1, true), out)
    assert.truthy(out:find("connected to redis at", 1, true), out)
  end)
end)
