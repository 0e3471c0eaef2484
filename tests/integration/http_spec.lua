-- Issue 15, end to end: bin/scanhost --http against a private redis-server,
-- driven with curl. Metrics after a drain (names, values, the exposition
-- format parsed line by line), the backlog lag growing while a scanner is
-- paused and falling after resume, readiness across a Redis stop/start, the
-- bearer token (401/403), a pause shared by two instances, and the cost of
-- the pause keys and of a scrape in Redis commands (INFO commandstats).
local RS = require "spec.helpers.redis_server"
local P = require "tests.integration.helpers.proc"
local FX = require "tests.faults.helpers.fx"
local HTTP = require "tests.integration.helpers.http"
local http, parse = HTTP.request, HTTP.parse

local TOKEN = "t0ken-for-the-http-spec"
local NP = 4 -- partitions: small, so cycles are quick

local function metric(samples, name, scanner, family)
  return samples[('%s{scanner="%s",partition_family="%s"}'):format(name, scanner, family or "execution")]
end

describe("--http", function()
  local srv, dir, procs

  before_each(function()
    srv = RS.start()
    dir = P.tmpdir()
    procs = {}
  end)

  after_each(function()
    for i, p in ipairs(procs) do
      p:stop()
      FX.keep_log(p, "http-" .. i)
    end
    srv:stop()
    P.sh("rm -rf " .. dir)
  end)

  -- start(only, env, conf) -> proc with proc.port (the port it logged)
  local function start(only, env, conf)
    local d = ("%s/d%d"):format(dir, #procs + 1)
    P.sh("mkdir -p " .. d)
    local cfg = FX.config(d, conf or "")
    local p = P.start(d, ("-c %s --redis %s --partitions %d --budget-partitions 2 "
      .. "--quota-partitions 2 --http 127.0.0.1:0 %s"):format(cfg, srv.url, NP,
      only and ("--only " .. only) or ""), env)
    procs[#procs + 1] = p
    p.port = HTTP.port_of(p)
    p.cfg = cfg
    return p
  end

  local function scrape(p)
    local code, body = http(p.port, "GET", "/metrics")
    assert.are.equal(200, code)
    return parse(body)
  end

  local function now_ms()
    return FX.numbers(srv:cli("TIME"))[1] * 1000
  end

  it("serves the metrics of a drain in the exposition format", function()
    local PER = 25
    local p = start("delayed_promoter")
    assert.truthy(P.wait_for(function() return http(p.port, "GET", "/readyz") == 200 end, 10))
    local t = now_ms()
    FX.seed_delayed(srv, NP, PER, function() return t - 1000 end, dir)
    local s
    assert.truthy(P.wait_for(function()
      s = scrape(p)
      return metric(s, "scanhost_items_processed_total", "delayed_promoter") == NP * PER
    end, 15), "the drain was not counted")
    -- a cycle after the drain saw nothing due
    assert.truthy(P.wait_for(function()
      s = scrape(p)
      return metric(s, "scanhost_backlog_items", "delayed_promoter") == 0
    end, 10))
    local samples, families = scrape(p)
    assert.are.equal(0, metric(samples, "scanhost_scan_errors_total", "delayed_promoter"))
    assert.are.equal(0, metric(samples, "scanhost_backlog_age_seconds", "delayed_promoter"))
    assert.are.equal(0, metric(samples, "scanhost_scanner_paused", "delayed_promoter"))
    assert.are.equal(0, metric(samples, "scanhost_tracker_backoff_items", "delayed_promoter"))
    local cycles = metric(samples, "scanhost_cycles_total", "delayed_promoter")
    assert.is_true(cycles >= 1)
    assert.are.equal(cycles, samples['ff_scanner_cycle_total{scanner="delayed_promoter"}'])
    -- histograms: cumulative buckets, +Inf = count
    for _, h in ipairs({ { "scanhost_cycle_duration_seconds", ',partition_family="execution"' },
                         { "ff_scanner_cycle_duration_seconds", "" } }) do
      assert.are.equal("histogram", families[h[1]])
      local prefix = ('%s_bucket{scanner="delayed_promoter"%s,le='):format(h[1], h[2])
      local last = 0
      for _, le in ipairs({ "0.005", "0.01", "0.1", "1", "60", "+Inf" }) do
        local v = samples[prefix .. '"' .. le .. '"}']
        assert.truthy(v, prefix .. le)
        assert.is_true(v >= last)
        last = v
      end
      local count = samples[('%s_count{scanner="delayed_promoter"%s}'):format(h[1], h[2])]
      assert.are.equal(last, count)
      assert.is_true(count >= cycles - 1) -- scraped a moment apart
    end
    assert.are.equal(1, samples.scanhost_redis_connected)
    assert.are.equal(1, samples.scanhost_ready)
    assert.are.equal(0, samples.scanhost_redis_reconnects_total)
    assert.is_true(samples.scanhost_redis_round_trips_total > 0)
    assert.are.equal(1, samples['scanhost_build_info{version="0.1.0"}'])
    assert.are.equal(0, samples['scanhost_reloads_total{result="ok"}'])
    assert.is_true(samples.process_resident_memory_bytes > 1e6)
    assert.is_true(samples.process_cpu_seconds_total > 0)
    assert.are.equal("counter", families.scanhost_items_processed_total)
    -- /status agrees
    local code, body = http(p.port, "GET", "/status")
    assert.are.equal(200, code)
    assert.truthy(body:find('"name":"delayed_promoter","family":"execution"', 1, true), body)
    assert.truthy(body:find('"paused":false', 1, true))
    assert.truthy(body:find('"backlog":{"items":0,"age_seconds":0.000}', 1, true), body)
    assert.are.equal(404, (http(p.port, "GET", "/nope")))
    assert.are.equal(405, (http(p.port, "PUT", "/metrics")))
  end)

  it("shows the lag growing while a scanner is paused and falling after resume", function()
    -- more than a page (batch 50) per partition: the paused scanner counts
    -- the whole backlog (ZCOUNT), it reads no page of members
    local PER = 120
    local p = start("delayed_promoter", "SCANHOST_CONTROL_TOKEN=" .. TOKEN,
      "scanners = { delayed_promoter = { interval = 0.2 } },")
    assert.truthy(P.wait_for(function() return http(p.port, "GET", "/readyz") == 200 end, 10))
    local code, body = http(p.port, "POST", "/scanners/delayed_promoter/pause", TOKEN)
    assert.are.equal(200, code, body)
    assert.truthy(body:find('"paused":true', 1, true))
    assert.truthy(p:wait_log("scanner delayed_promoter paused %(by key {scanhost}:pause:delayed_promoter%)", 5))
    local t = now_ms()
    FX.seed_delayed(srv, NP, PER, function() return t - 2000 end, dir)
    local s, age1
    assert.truthy(P.wait_for(function()
      s = scrape(p)
      age1 = metric(s, "scanhost_backlog_age_seconds", "delayed_promoter")
      return metric(s, "scanhost_backlog_items", "delayed_promoter") == NP * PER and age1 >= 2
    end, 10), "the paused scanner's backlog was not seen")
    assert.are.equal(1, metric(s, "scanhost_scanner_paused", "delayed_promoter"))
    srv:cli("CONFIG RESETSTAT")
    P.sleep(0.5)
    local stats = srv:cli("INFO commandstats")
    assert.truthy(stats:find("cmdstat_zcount:", 1, true), stats)
    assert.are.equal(0, metric(s, "scanhost_items_processed_total", "delayed_promoter"))
    P.sleep(1.2)
    s = scrape(p)
    assert.is_true(metric(s, "scanhost_backlog_age_seconds", "delayed_promoter") >= age1 + 1,
      "the lag did not grow while paused")
    assert.are.equal(0, metric(s, "scanhost_items_processed_total", "delayed_promoter"))
    -- the items are untouched: still due in their indexes
    code, body = http(p.port, "POST", "/scanners/delayed_promoter/resume", TOKEN)
    assert.are.equal(200, code, body)
    assert.truthy(P.wait_for(function()
      s = scrape(p)
      return metric(s, "scanhost_items_processed_total", "delayed_promoter") == NP * PER
        and metric(s, "scanhost_backlog_items", "delayed_promoter") == 0
        and metric(s, "scanhost_backlog_age_seconds", "delayed_promoter") == 0
    end, 10), "the lag did not fall after resume")
    assert.are.equal(0, metric(s, "scanhost_scanner_paused", "delayed_promoter"))
    assert.truthy(p:wait_log("scanner delayed_promoter resumed", 5))
  end)

  it("is ready only while redis is", function()
    local p = start("delayed_promoter")
    assert.truthy(P.wait_for(function() return http(p.port, "GET", "/readyz") == 200 end, 10))
    srv:kill("KILL")
    assert.truthy(P.wait_for(function() return http(p.port, "GET", "/readyz") == 503 end, 10),
      "still ready without redis")
    local code, body = http(p.port, "GET", "/readyz")
    assert.are.equal(503, code)
    assert.truthy(body:find("redis is not connected", 1, true))
    assert.are.equal(200, (http(p.port, "GET", "/healthz")))
    local s = scrape(p)
    assert.are.equal(0, s.scanhost_redis_connected)
    assert.are.equal(0, s.scanhost_ready)
    srv:restart()
    assert.truthy(P.wait_for(function() return http(p.port, "GET", "/readyz") == 200 end, 15),
      "not ready again after the restart")
    s = scrape(p)
    assert.are.equal(1, s.scanhost_redis_connected)
    assert.are.equal(1, s.scanhost_redis_reconnects_total)
  end)

  it("refuses control without a token (403) and with a wrong one (401)", function()
    local p = start("delayed_promoter")
    assert.truthy(p:wait_log("control endpoints off: no token configured", 5))
    for _, path in ipairs({ "/scanners/delayed_promoter/pause", "/reload" }) do
      local code, body = http(p.port, "POST", path, TOKEN)
      assert.are.equal(403, code)
      assert.truthy(body:find("no token is configured", 1, true))
    end
    local q = start("delayed_promoter", "SCANHOST_CONTROL_TOKEN=" .. TOKEN)
    assert.are.equal(401, (http(q.port, "POST", "/scanners/delayed_promoter/pause")))
    assert.are.equal(401, (http(q.port, "POST", "/scanners/delayed_promoter/pause", TOKEN .. "x")))
    assert.are.equal(401, (http(q.port, "POST", "/scanners/delayed_promoter/pause", "t0ken")))
    assert.are.equal(401, (http(q.port, "POST", "/reload", "")))
    assert.are.equal("", srv:cli("KEYS '{scanhost}:pause:*'"):gsub("%s+", ""))
    assert.are.equal(404, (http(q.port, "POST", "/scanners/nosuch/pause", TOKEN)))
    assert.are.equal(202, (http(q.port, "POST", "/scanners/delayed_promoter/run", TOKEN)))
    local code, body = http(q.port, "POST", "/reload", TOKEN)
    assert.are.equal(200, code, body)
    assert.are.equal(1, scrape(q)['scanhost_reloads_total{result="ok"}'])
    -- the log names what asked for the reload, not a signal that never came
    assert.truthy(q:wait_log("POST /reload: config .* applied", 5), q:output())
    assert.falsy(q:output():find("SIGHUP", 1, true), q:output())
    -- a broken config is refused (409), named in the log, and the daemon goes on
    P.write(q.cfg, "return { partitions = 'many' }\n")
    code, body = http(q.port, "POST", "/reload", TOKEN)
    assert.are.equal(409, code, body)
    assert.truthy(body:find("reload refused", 1, true), body)
    assert.truthy(q:wait_log("POST /reload: the new config is refused %(.*partitions", 5), q:output())
    local s = scrape(q)
    assert.are.equal(1, s['scanhost_reloads_total{result="refused"}'])
    assert.are.equal(1, s['scanhost_reloads_total{result="ok"}'])
    assert.are.equal(200, (http(q.port, "GET", "/healthz")))
    -- a token file works as well; the token is never logged
    P.write(dir .. "/token", TOKEN .. "\n")
    local r = start("delayed_promoter", nil, ("control_token_file = %q,"):format(dir .. "/token"))
    assert.are.equal(401, (http(r.port, "POST", "/reload", "wrong")))
    assert.are.equal(200, (http(r.port, "POST", "/reload", TOKEN)))
    for _, proc in ipairs({ p, q, r }) do
      assert.falsy(proc:output():find(TOKEN, 1, true), "the token was logged")
    end
  end)

  it("shares a pause between instances; reading it costs one MGET a second", function()
    -- no library version re-read (an FCALL) inside the measured window
    local quiet = "library_recheck = 86400,"
    local a = start("delayed_promoter", "SCANHOST_CONTROL_TOKEN=" .. TOKEN, quiet)
    local b = start("delayed_promoter", nil, quiet)
    for _, p in ipairs({ a, b }) do
      assert.truthy(P.wait_for(function() return http(p.port, "GET", "/readyz") == 200 end, 10))
    end
    assert.are.equal(200, (http(a.port, "POST", "/scanners/delayed_promoter/pause", TOKEN)))
    assert.truthy(b:wait_log("scanner delayed_promoter paused %(by key", 5), "b did not obey")
    local _, body = http(b.port, "GET", "/status")
    assert.truthy(body:find('"paused":true', 1, true), body)
    -- a restart keeps it: the key is in redis
    b:stop()
    local c = start("delayed_promoter", nil, quiet)
    assert.truthy(c:wait_log("scanner delayed_promoter paused %(by key", 5))
    assert.falsy(c:output():find('scanner=delayed_promoter msg="scan cycle', 1, true))
    -- the cost: one MGET per second per instance; scrapes send nothing
    srv:cli("CONFIG RESETSTAT")
    local t0 = P.now()
    for _ = 1, 30 do
      scrape(a)
      http(c.port, "GET", "/status")
    end
    P.sleep(2)
    local elapsed = P.now() - t0
    local stats = srv:cli("INFO commandstats")
    local mget = tonumber(stats:match("cmdstat_mget:calls=(%d+)")) or 0
    assert.is_true(mget <= 2 * (math.ceil(elapsed) + 1), ("%d MGET in %.1f s"):format(mget, elapsed))
    assert.is_true(mget >= 2, "the pause keys were not read")
    -- both paused (delayed_promoter observes: TIME, a head and a ZCOUNT per index;
    -- nothing acts): no FCALL, no claim
    assert.falsy(stats:find("cmdstat_fcall", 1, true), stats)
    assert.falsy(stats:find("cmdstat_set:", 1, true), stats)
    assert.are.equal(200, (http(a.port, "POST", "/scanners/delayed_promoter/resume", TOKEN)))
    assert.truthy(c:wait_log("scanner delayed_promoter resumed", 5))
  end)

  it("runs a cycle now, or right after the running one", function()
    -- a slow scanner with a long interval: BLPOP holds each cycle 0.4 s
    local sdir = dir .. "/slow"
    P.sh("mkdir -p " .. sdir)
    P.write(sdir .. "/slow.lua", [[
return { name = "slow", family = "execution", interval = 600,
  scan = function(ctx, p)
    if p ~= 0 then return 0, 0 end
    ctx.redis:call("BLPOP", "itest:never", 0.4)
    ctx.redis:call("INCR", "itest:cycles")
    return 1, 0
  end }
]])
    local p = start(nil, "SCANHOST_CONTROL_TOKEN=" .. TOKEN, ("scanners_dir = %q,"):format(sdir))
    local function cycles() return tonumber((srv:cli("GET itest:cycles"):gsub("%s+$", ""))) or 0 end
    assert.truthy(P.wait_for(function() return cycles() == 1 end, 10), "the first cycle never ran")
    local code, body = http(p.port, "POST", "/scanners/slow/run", TOKEN)
    assert.are.equal(202, code)
    assert.truthy(body:find('"run":"now"', 1, true), body)
    -- during that cycle (0.4 s in BLPOP): queued behind it, never run alongside
    assert.truthy(P.wait_for(function()
      local _, st = http(p.port, "GET", "/status")
      return st:find('"state":"scanning"', 1, true)
    end, 5))
    code, body = http(p.port, "POST", "/scanners/slow/run", TOKEN)
    assert.are.equal(202, code)
    assert.truthy(body:find('"run":"after the running cycle"', 1, true), body)
    assert.truthy(P.wait_for(function() return cycles() == 3 end, 5), "the queued cycle never ran")
    P.sleep(1)
    assert.are.equal(3, cycles()) -- and then the 600 s interval again
  end)

  it("--once skips a paused scanner; SIGHUP keeps the running endpoint", function()
    srv:cli("SET '{scanhost}:pause:delayed_promoter' ops")
    local rc, out = P.run(("--redis %s --partitions %d --only delayed_promoter,lease_expiry --once")
      :format(srv.url, NP))
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("scanner delayed_promoter paused (by key {scanhost}:pause:delayed_promoter)", 1, true), out)
    assert.truthy(out:find("its --once cycle is skipped", 1, true), out)
    assert.truthy(out:find("scanner=lease_expiry", 1, true), out) -- the other one ran
    srv:cli("DEL '{scanhost}:pause:delayed_promoter'")
    -- http is restart-only: a SIGHUP that changes it keeps the endpoint serving
    local d = dir .. "/hup"
    P.sh("mkdir -p " .. d)
    local cfg = d .. "/c.lua"
    P.write(cfg, ("return { redis = %q, http = '127.0.0.1:0' }"):format(srv.url))
    local p = P.start(d, ("-c %s --partitions %d --only delayed_promoter"):format(cfg, NP))
    procs[#procs + 1] = p
    local port = HTTP.port_of(p)
    P.write(cfg, ("return { redis = %q, http = '127.0.0.1:1' }"):format(srv.url))
    assert.is_true(p:signal("HUP"))
    assert.truthy(p:wait_log("http or control_token_file changed; that needs a restart", 5))
    assert.truthy(p:wait_log("SIGHUP: config .* applied", 5))
    assert.are.equal(200, (http(port, "GET", "/healthz")))
    assert.are.equal(1, scrape({ port = port })['scanhost_reloads_total{result="ok"}'])
    -- its port is taken: another daemon cannot listen there (exit 2, named)
    local rc2, out2 = P.run(("--redis %s --http 127.0.0.1:%d --once"):format(srv.url, port))
    assert.are.equal(2, rc2, out2)
    assert.truthy(out2:find("http 127.0.0.1:" .. port .. ": cannot listen", 1, true), out2)
  end)

  it("refuses a bad http address or token file naming the key (exit 2)", function()
    local rc, out = P.run("--http 127.0.0.1 --check")
    assert.are.equal(2, rc)
    assert.truthy(out:find("--http: must be ADDR:PORT", 1, true), out)
    rc, out = P.run("--http nothere:80 --check")
    assert.are.equal(2, rc)
    local cfg = FX.config(dir, "http = 9100,")
    rc, out = P.run("-c " .. cfg .. " --check")
    assert.are.equal(2, rc)
    assert.truthy(out:find("http: must be a string", 1, true), out)
    cfg = FX.config(dir, ("control_token_file = %q, redis = %q,"):format(dir .. "/absent", srv.url))
    rc, out = P.run("-c " .. cfg .. " --http 127.0.0.1:0 --once")
    assert.are.equal(2, rc)
    assert.truthy(out:find("control_token_file: cannot read", 1, true), out)
    cfg = FX.config(dir, ("http = '[::1]:0', control_token_file = %q,"):format(dir .. "/t"))
    rc, out = P.run("-c " .. cfg .. " --check")
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("http=[::1]:0", 1, true), out)
    assert.truthy(out:find("control_token=from " .. dir .. "/t", 1, true), out)
  end)
end)
