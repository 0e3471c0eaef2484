-- Case 7: leaks. bin/scanhost runs under valgrind (memcheck, no
-- suppressions) through a daemon session that exercises every fault path
-- (drain, reloads with broken and valid scripts, config reloads, a runaway scan, Redis
-- killed and restarted, a stall past command_timeout, the function library
-- flushed, SIGTERM), then --once, --check and the error exits, and a TLS
-- session (drain, a resumed session, server restart, refused certificate), and a Redis Cluster
-- session (drain, CLUSTER FAILOVER, a MOVED slot, SIGTERM). Every run must
-- end with zero memcheck errors and zero definitely/indirectly lost bytes.
-- The C unit tests (ASan + LeakSanitizer) must pass leak-free as well; the
-- tracker's bound under 100,000 failing items is tests/unit/test_tracker_bounded.c.
local FX = require "tests.faults.helpers.fx"
local P = FX.P

local VG = "valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 "
  .. "--log-file=%s"

local COUNTER = [[
return { name = "counter", family = "execution", interval = 0.1,
  scan = function(ctx, p) local ok = ctx.redis:call("INCR", "leak:n") return ok and 1 or 0, ok and 0 or 1 end }
]]

local function verdict(path)
  local s = P.read(path) or ""
  local errors = tonumber(s:match("ERROR SUMMARY: (%d+) errors")) or -1
  local definite = s:match("definitely lost: ([%d,]+) bytes") or "0"
  local indirect = s:match("indirectly lost: ([%d,]+) bytes") or "0"
  return errors, definite:gsub(",", ""), indirect:gsub(",", ""), s
end

-- short_runs(dir, prefix, { { args, exit status }, ... }): each run under
-- valgrind ends with its exit status, 0 errors and 0 bytes lost.
local function short_runs(dir, prefix, runs)
  for i, r in ipairs(runs) do
    local path = ("%s/%s-%d.txt"):format(dir, prefix, i)
    local rc = P.run(r[1], VG:format(path))
    assert.are.equal(r[2], rc, r[1])
    local e, d, ind, t = verdict(path)
    assert.are.same({ 0, "0", "0" }, { e, d, ind }, r[1] .. "\n" .. t)
  end
end

describe("fault 7: leaks", function()
  local srv, dir, proc

  before_each(function()
    srv = FX.RS.start({ aof = true })
    dir = P.tmpdir()
  end)

  after_each(function()
    -- valgrind's own reports, for a failure seen only on another machine
    P.sh(("mkdir -p build/test-logs/faults && cp %s/vg-*.txt build/test-logs/faults/ 2>/dev/null"):format(dir))
    FX.finish("leaks", proc, srv, dir)
    proc = nil
  end)

  it("the daemon under valgrind through every fault path: 0 errors, 0 bytes lost", function()
    assert.truthy(P.sh("command -v valgrind >/dev/null"), "valgrind is not installed")
    local now = FX.server_ms(srv)
    FX.seed_delayed(srv, 4, 40, function(n, i) return now + 200 * i end, dir)
    local sdir = dir .. "/scanners"
    FX.copy_scanners({ "delayed_promoter", "lease_expiry" }, sdir)
    P.write(sdir .. "/counter.lua", COUNTER)
    P.write(sdir .. "/spin.lua", [[
return { name = "spin", family = "execution", interval = 0.5,
  scan = function(ctx, p) ctx.redis:call("PING") while true do end end }
]])
    local conf = FX.config(dir, [[
  command_timeout = 1, connect_timeout = 3, scan_timeout = 1,
  scanners = { delayed_promoter = { interval = 0.2 } },
]])
    local vlog = dir .. "/vg-daemon.txt"
    proc = P.start(dir, ("-c %s --scanners %s --redis %s --partitions 4"):format(conf, sdir, srv.url),
      VG:format(vlog))
    assert.truthy(proc:wait_log("connected to redis at", 30), "never connected")
    assert.truthy(proc:wait_log("runaway script", 30), "runaway scan not reported")
    -- reloads: broken, then valid
    P.write(sdir .. "/counter.lua", "return { name = 'counter', scan = function( end }")
    proc:signal("USR1")
    assert.truthy(proc:wait_log("failed to load", 20), "broken script not reported")
    P.write(sdir .. "/counter.lua", COUNTER .. "\n-- v2\n")
    P.write(sdir .. "/spin.lua", COUNTER:gsub("counter", "spin"))
    proc:signal("USR1")
    assert.truthy(P.wait_for(function() return proc:count("SIGUSR1: reloading") >= 2 end, 20), "second reload not seen")
    -- a config reload (SIGHUP): one applied, one refused
    FX.config(dir, [[
  command_timeout = 1, connect_timeout = 3, scan_timeout = 1, lua_memory_mb = 64,
  scanners = { delayed_promoter = { interval = 0.3 } },
]])
    proc:signal("HUP")
    assert.truthy(proc:wait_log("SIGHUP: config .* applied", 30), "SIGHUP not applied")
    P.write(conf, "return { partitions = ")
    proc:signal("HUP")
    assert.truthy(proc:wait_log("SIGHUP: the new config is refused", 30), "broken config not refused")
    FX.config(dir, [[
  command_timeout = 1, connect_timeout = 3, scan_timeout = 1,
  scanners = { delayed_promoter = { interval = 0.2 } },
]]) -- as before, for the short runs below
    -- Redis killed and restarted
    srv:kill("KILL")
    assert.truthy(P.wait_for(function() return not FX.alive(srv:pid()) end, 5), "redis survived SIGKILL")
    assert.is_true(srv:restart(20))
    assert.truthy(P.wait_for(function() return proc:count("connected to redis at") >= 3 end, 30), "no reconnect")
    -- a stall past command_timeout
    srv:kill("STOP")
    P.sleep(2.5)
    srv:kill("CONT")
    assert.truthy(proc:wait_log("timed out", 20), "stall not timed out")
    -- the function library flushed, then due work arrives: the first FCALL
    -- meets "Function not found" however long the steps above took
    srv:cli("FUNCTION FLUSH")
    FX.seed_delayed(srv, 4, 50, function() return FX.server_ms(srv) end, dir, 41)
    assert.truthy(P.wait_for(function() return srv:cli("FUNCTION LIST"):find("ff_promote_delayed", 1, true) end, 30), "library not reloaded")
    assert.truthy(P.wait_for(function() return FX.delayed_done(srv, 4, 50) == 200 end, 40), "drain incomplete")
    assert.are.equal(0, FX.term(proc, 60))
    local errors, definite, indirect, text = verdict(vlog)
    assert.are.same({ 0, "0", "0" }, { errors, definite, indirect }, text)
    -- short runs: --once, --check, and the error exits
    local runs = {
      { ("--once -c %s --scanners %s --redis %s --partitions 4"):format(conf, sdir, srv.url), 0 },
      { ("--check -c %s --scanners %s"):format(conf, sdir), 0 },
      { ("--check --partitions 0 --scanners %s"):format(sdir), 2 },
      { ("--once --scanners %s --redis redis://127.0.0.1:1"):format(sdir), 1 },
      { ("--once --scanners %s --redis 'redis://:pw@127.0.0.1:bad'"):format(sdir), 2 },
    }
    short_runs(dir, "vg", runs)
    print(("# fault 7: valgrind runs=%d, memcheck errors=0, definitely lost=0, indirectly lost=0"):format(#runs + 1))
  end)

  it("a TLS session under valgrind: drain, resumed session, server restart, refused certificate: 0 bytes lost", function()
    assert.truthy(P.sh("command -v valgrind >/dev/null"), "valgrind is not installed")
    srv:stop()
    srv = FX.RS.start({ tls = {}, password = "Leak-s3cret" })
    local now = FX.server_ms(srv)
    FX.seed_delayed(srv, 4, 20, function() return now - 1000 end, dir)
    local sdir = dir .. "/scanners"
    FX.copy_scanners({ "delayed_promoter" }, sdir)
    P.write(sdir .. "/counter.lua", COUNTER)
    local tls = "--cacert " .. srv.tls.ca
    local vlog = dir .. "/vg-tls-daemon.txt"
    proc = P.start(dir, ("--scanners %s --redis %s %s --partitions 4"):format(sdir, srv.url, tls),
      VG:format(vlog))
    assert.truthy(proc:wait_log("connected to redis at", 30), "never connected")
    assert.truthy(P.wait_for(function() return FX.delayed_done(srv, 4, 20) == 80 end, 30), "drain incomplete")
    srv:cli("CLIENT KILL TYPE normal") -- a reconnect that resumes the TLS session
    assert.truthy(proc:wait_log("connected to redis at .*, resumed%)", 30), "no resumed session")
    srv:kill("KILL")
    assert.truthy(P.wait_for(function() return not FX.alive(srv:pid()) end, 5), "redis survived SIGKILL")
    assert.is_true(srv:restart(20))
    assert.truthy(P.wait_for(function() return proc:count("connected to redis at") >= 2 end, 30), "no reconnect")
    assert.are.equal(0, FX.term(proc, 60))
    local errors, definite, indirect, text = verdict(vlog)
    assert.are.same({ 0, "0", "0" }, { errors, definite, indirect }, text)
    local other = FX.RS.make_ca(dir, "other-ca")
    short_runs(dir, "vg-tls", {
      { ("--once --scanners %s --redis %s %s"):format(sdir, srv.url, tls), 0 },
      { ("--once --scanners %s --redis %s --cacert %s"):format(sdir, srv.url, other.cert), 1 },
      { ("--check --scanners %s --redis %s --cacert %s/missing.crt"):format(sdir, srv.url, dir), 2 },
    })
    print("# fault 7: TLS under valgrind: daemon session + 3 short runs, 0 errors, 0 bytes lost")
  end)

  it("a cluster session under valgrind: drain, failover, moved slot, SIGTERM: 0 bytes lost", function()
    assert.truthy(P.sh("command -v valgrind >/dev/null"), "valgrind is not installed")
    local C = require "spec.helpers.redis_cluster"
    local cl = C.start({ primaries = 3, replicas = 1 })
    local ok, err = pcall(function()
      assert.truthy(cl:wait_synced(20), "replicas did not sync")
      local function seed(first, per)
        local rec = C.recorder()
        local now = FX.server_ms(cl.nodes[1])
        for n = 0, 7 do
          for i = first, per do
            local d = tostring(now - 1000)
            FX.F.delayed_promoter.acting(rec, { n = n, i = i, score = d, fields = { delay_until = d } })
          end
        end
        cl:pipe(rec)
      end
      seed(1, 20)
      local sdir = dir .. "/scanners"
      FX.copy_scanners({ "delayed_promoter" }, sdir)
      local vlog = dir .. "/vg-cluster-daemon.txt"
      proc = P.start(dir, ("--scanners %s --redis %s --partitions 8"):format(sdir, cl.url), VG:format(vlog))
      assert.truthy(proc:wait_log("scan cycle complete", 60), "never drained")
      local victim = cl:owner(C.slot("{fp:0}"))
      local replica = assert(cl:replica_of(victim))
      replica:cli("CLUSTER FAILOVER")
      assert.truthy(P.wait_for(function() return cl:owner(C.slot("{fp:0}")) == replica end, 10), "no failover")
      seed(21, 40)
      assert.truthy(P.wait_for(function()
        local n = 0
        for _, out in ipairs(cl:eval_each("return #redis.call('KEYS', 'ff:idx:*:lane:default:delayed')", function() return {} end)) do
          n = n + (tonumber(out:match("%d+")) or 0)
        end
        return n == 0
      end, 60), "drain after the failover incomplete")
      assert.are.equal(0, FX.term(proc, 60))
      local errors, definite, indirect, text = verdict(vlog)
      assert.are.same({ 0, "0", "0" }, { errors, definite, indirect }, text)
      short_runs(dir, "vg-cluster", {
        { ("--once --scanners %s --redis %s --partitions 8"):format(sdir, cl.url), 0 },
      })
    end)
    cl:stop()
    assert(ok, err)
    print("# fault 7: a cluster under valgrind: daemon session through a failover + --once, 0 errors, 0 bytes lost")
  end)

  it("the C unit tests pass under ASan with LeakSanitizer and no leak", function()
    local p = io.popen("ls build/unit/test_* 2>/dev/null")
    local n = 0
    for bin in p:lines() do
      local h = io.popen(bin .. " 2>&1; echo rc=$?")
      local out = h:read("*a")
      h:close()
      local rc = tonumber(out:match("rc=(%d+)%s*$"))
      assert.are.equal(0, rc, bin .. "\n" .. out)
      assert.is_nil(out:find("LeakSanitizer", 1, true), bin .. "\n" .. out)
      n = n + 1
    end
    p:close()
    assert.is_true(n >= 5, "unit binaries missing (make unit)")
    print(("# fault 7: %d unit binaries under ASan/LSan, 0 leaks"):format(n))
  end)
end)
