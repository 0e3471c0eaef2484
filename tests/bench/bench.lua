-- make bench (issue 5): drain and idle-cycle benchmarks, measured side by side
-- in one run on one private redis-server. Run from the repo root after `make`
-- (tests/bench/run does both). Environment: BENCH_ITEMS (default 100000),
-- BENCH_REPS (runs per figure, default 3; every figure is the median),
-- BENCH_ONLY (comma list of the scenario names below; default all),
-- BENCH_REF (another bin/scanhost for the paired scenario),
-- BENCH_LAT_ITEMS (default 10000), BENCH_LAT_DELAY_MS (default 0.5 each way),
-- BENCH_WRAP (a command the `--once` drains run under, e.g. a profiler).
--
--   1. lease_expiry: drain N expired leases over 256 partitions;
--   2. delayed_promoter: drain N due delayed executions;
--   3. idle: an idle cycle of all the stock scanners over 256 partitions;
--   4. latency: 2 and 1 again with BENCH_LAT_ITEMS items, every measured
--      client going through build/bench/delayproxy (a userspace stand-in for
--      `tc netem`: each chunk delayed 0.5 ms each way, so 1 ms added RTT);
--      seeding and admin commands go to Redis directly;
--   5. paired (only when BENCH_REF names another bin/scanhost, e.g. the one
--      tests/bench/run builds from BENCH_REF_REV): the daemon binary of this
--      tree against the reference, run alternately (A B B A ...) on the same
--      server: the drains of 1 and 2 with either library and those of 4
--      through the delay proxy (`--once --only NAME`, cycle time from its
--      summary line), and an idle `--once` of all the stock scanners (wall time and
--      max RSS); every pair's ratio and their median.
--   6. claims (issue 14): what claims cost one instance, as paired ratios of
--      Redis commands (INFO commandstats) claims on / claims off: idle with
--      data in every partition (each scanner's steady cycle, weighted by its
--      frequency), and a drain; then bin/scanhost daemons draining one backlog
--      of BENCH_CLAIM_ITEMS (default 50000): two daemons / one, and one daemon
--      with claims / without.
--   7. http (issue 15): a daemon with the stock scanners idle, without and
--      with --http in adjacent runs: VmRSS of each and their ratio, Redis
--      commands/s while scraped every 10 ms / not scraped, and scrape times.
--   8. cluster (issue 11): a 3-primary Redis Cluster (spec/helpers/
--      redis_cluster.lua, no replicas) next to a standalone server of its own: the
--      delayed_promoter drain of BENCH_CLUSTER_ITEMS (default 50000) by
--      `bin/scanhost --once`, cluster and standalone alternately (paired
--      ratios); then an idle cycle of each stock scanner through a test host
--      on the cluster: round trips (client) and the commands each primary ran.
--   9. rss (issue 13): `bin/scanhost --once --only NAME` drains of N items
--      with either library: max RSS, client CPU per item and items/s (with
--      BENCH_REF: alternating with the reference binary, pair ratios);
--  10. client (issue 13): the Lua side of a drain per item
--      (tests/bench/client.lua, a fake server), this tree's lua-lib and the
--      reference's;
--  11. items (issue 13): server CPU per item of this tree's library against
--      the reference's, `redis-cli --pipe` of prepared FCALLs;
--  12. drains (issue 13): lease_expiry and delayed_promoter drains of
--      BENCH_DRAIN_SIZES items (default 30000,100000) and of BENCH_LAT_ITEMS
--      through the 1 ms RTT proxy, side by side in rounds of four adjacent
--      runs: `bin/scanhost --once` with scanhost's library and with the
--      per-item functions, the per-item and batch ceilings; paired ratios to
--      the per-item ceiling, the server's busy share, max RSS; then an idle
--      daemon's commands/s and RSS;
--  13. instructions (issue 13): the client's instructions per item of the
--      lease_expiry and delayed_promoter drains with either library, counted
--      by callgrind (BENCH_INSTR_ITEMS items, default 20000; with BENCH_REF,
--      the reference's beside them): a count the host's noise cannot move.
--  14. v34: the `bin/scanhost --once --only NAME` drains of the three
--      FlowFabric v34 scanners and of the two it changed, with scanhost's
--      library at level 34: BENCH_V34_ITEMS (default 4096) flows owing a
--      member cancel (cancel_reconciler), fired groups with a sibling to
--      cancel (edge_cancel_dispatcher), groups whose siblings are done
--      (edge_cancel_reconciler), parked children with a resolvable AllOf edge
--      (dependency_reconciler), members blocked by a budget that is not
--      breached (unblock), over 256 partitions, on
--      loopback and BENCH_LAT_ITEMS of each through the 1 ms RTT proxy:
--      items/s and max RSS, medians of REPS runs; with BENCH_REF, alternating
--      with the reference binary, every pair's ratio. These scanners read
--      before they call (the calls' KEYS come from the reads), so there is no
--      command file to pipe as a ceiling.
--
-- The server listens on a plain port and a TLS port (a CA and certificate
-- made with the openssl CLI in its scratch directory): scenarios 1 and 2
-- also drain over TLS, adjacent to the plain drain of the same round.
--
-- For 1, 2 and 4, each row drains the same freshly seeded workload:
--   scanhost (batch)     stock scanner, scanhost's library: batch FCALLs;
--   scanhost (pipelined) stock scanner, the per-item functions loaded under
--                        the name "flowfabric" (a stand-in for FlowFabric's
--                        library, same per-item code): pipelined FCALLs;
--   baseline             tests/bench/scanners/ff011_baseline.lua, FlowFabric
--                        0.1.1's pattern, run by the same host;
--   ceiling              the same per-item FCALLs for the same items, built in
--                        advance into a file of RESP commands and sent by
--                        `redis-cli --pipe` (no index reads, no accounting,
--                        none of scanhost's code; through the delay proxy in 4);
--   ceiling (batch)      the same with the batch functions (reference);
--   scanhost over TLS    the first row again, connected to the TLS port.
package.path = "lua-lib/?.lua;lua-lib/?/init.lua;tests/lua/?.lua;./?.lua;" .. package.path -- tests/lua: the fixtures
package.cpath = "build/?.so;" .. package.cpath
-- The interpreter builds the 300k seeding commands about 7x faster than
-- LuaJIT 2.1.0-beta3's trace compiler here (trace aborts on the recipes'
-- varargs), and it is what the host runs scanners with anyway.
jit.off()

local ffi = require "ffi"
local T = require "scanhost_test"
local F = require "ff.fixtures"
local V = require "ff.fixtures_v34"
local PT = require "ff.partition"
local fc = require "ff.exec_fcall"
local batch = require "ff.batch"

ffi.cdef [[
struct bench_timespec { long tv_sec; long tv_nsec; };
int clock_gettime(int clk, struct bench_timespec *ts);
]]

local N = tonumber(os.getenv("BENCH_ITEMS") or "") or 100000
local REPS = tonumber(os.getenv("BENCH_REPS") or "") or 3
local LAT_N = tonumber(os.getenv("BENCH_LAT_ITEMS") or "") or 10000
local LAT_DELAY_MS = tonumber(os.getenv("BENCH_LAT_DELAY_MS") or "") or 0.5
local ONLY = {}
local CLAIM_N = tonumber(os.getenv("BENCH_CLAIM_ITEMS") or "") or 50000
local CLUSTER_N = tonumber(os.getenv("BENCH_CLUSTER_ITEMS") or "") or 50000
local V34_N = tonumber(os.getenv("BENCH_V34_ITEMS") or "") or 4096
for name in (os.getenv("BENCH_ONLY") or "lease_expiry,delayed_promoter,idle,latency,rss,drains,client,instructions,claims,items,http,cluster,v34"):gmatch("[%w_]+") do
  ONLY[name] = true
end
-- BENCH_WRAP: a command the `--once` drains run under, e.g. a profiler
-- ("perf record -g -o /tmp/drain.perf --"); their figures then include it.
local WRAP = os.getenv("BENCH_WRAP") and (os.getenv("BENCH_WRAP") .. " ") or ""
local P = 256
local PIPE = 10000 -- commands per pipeline for seeding and the ceiling
local BATCH = 500  -- items per batch FCALL in the batch ceiling

-- ------------------------------------------------------------------ helpers

local function clock()
  local ts = ffi.new("struct bench_timespec")
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>/dev/null"))
  local out = p:read("*a")
  p:close()
  return (out:gsub("%s+$", ""))
end

local function median(xs)
  local s = {}
  for i, v in ipairs(xs) do s[i] = v end
  table.sort(s)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) / 2] end
  return (s[n / 2] + s[n / 2 + 1]) / 2
end

-- reps(fn) -> median of each named figure fn() returns over REPS runs.
local function reps(fn)
  local acc = {}
  for _ = 1, REPS do
    for k, v in pairs(fn()) do
      acc[k] = acc[k] or {}
      table.insert(acc[k], v)
    end
  end
  local out = {}
  for k, vs in pairs(acc) do out[k] = median(vs) end
  return out
end

local function thousands(n)
  local s = string.format("%d", math.floor(n + 0.5))
  return (s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", ""))
end

-- ------------------------------------------------------------ redis-server

local function free_port(from)
  for port = from or 7500, 7599 do
    if sh("redis-cli -p " .. port .. " ping") ~= "PONG"
      and sh("ss -ltn 'sport = :" .. port .. "' | tail -n +2") == "" then
      return port
    end
  end
  error("no free port in 7500-7599")
end

-- A test CA and a server certificate for 127.0.0.1, in dir.
local function make_certs(dir)
  local function openssl(args)
    assert(os.execute("openssl " .. args .. " >/dev/null 2>&1") == 0, "openssl " .. args)
  end
  openssl(("req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench-ca -keyout %s/ca.key -out %s/ca.crt")
    :format(dir, dir))
  openssl(("req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout %s/srv.key -out %s/srv.csr"):format(dir, dir))
  local f = assert(io.open(dir .. "/san.ext", "w"))
  f:write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
  f:close()
  openssl(("x509 -req -in %s/srv.csr -CA %s/ca.crt -CAkey %s/ca.key -CAcreateserial -days 2 "
    .. "-extfile %s/san.ext -out %s/srv.crt"):format(dir, dir, dir, dir, dir))
end

-- Whether the server started with its pidfile in dir runs: redis-server
-- writes the pidfile only after binding its ports. A start that lost a port
-- to another process (another bench, a spec) exits after --daemonize has
-- returned 0, while that other server may well answer PING on the port.
local function running_in(dir)
  local pid = sh("cat " .. dir .. "/redis.pid")
  return pid:match("^%d+$") and os.execute("kill -0 " .. pid .. " 2>/dev/null") == 0
end

local function start_server()
  local dir = sh("mktemp -d /tmp/scanhost-bench.XXXXXX")
  assert(dir ~= "", "mktemp failed")
  make_certs(dir)
  local port, tls_port
  for _ = 1, 10 do
    port = free_port()
    tls_port = free_port(port + 1)
    os.execute(string.format("redis-server --port %d --tls-port %d --tls-cert-file %s/srv.crt "
      .. "--tls-key-file %s/srv.key --tls-ca-cert-file %s/ca.crt --tls-auth-clients no --bind 127.0.0.1 "
      .. "--dir %s --daemonize yes --pidfile %s/redis.pid --logfile %s/redis.log --save '' --appendonly no "
      .. "--enable-debug-command local >/dev/null", port, tls_port, dir, dir, dir, dir, dir, dir))
    for _ = 1, 100 do
      if running_in(dir) and sh("redis-cli -p " .. port .. " ping") == "PONG" then break end
      os.execute("sleep 0.05")
    end
    if running_in(dir) then break end
    port = nil -- lost a port to someone else: try others
  end
  assert(port, "redis-server did not start (see " .. dir .. "/redis.log)")
  local srv = { port = port, dir = dir, url = "redis://127.0.0.1:" .. port,
                tls_url = "rediss://127.0.0.1:" .. tls_port, ca = dir .. "/ca.crt" }
  function srv.stop() -- by its pid, never by port: the port may be someone else's by now
    local pid = sh("cat " .. dir .. "/redis.pid")
    if pid:match("^%d+$") then
      os.execute("kill " .. pid .. " 2>/dev/null")
      for _ = 1, 100 do
        if os.execute("kill -0 " .. pid .. " 2>/dev/null") ~= 0 then break end
        os.execute("sleep 0.05")
      end
    end
    os.execute("rm -rf " .. dir)
  end
  return srv
end

-- ------------------------------------------------------------------ hosts

local srv, admin, proxy
local LINK -- URL the measured clients use (nil: redis-server directly)

-- host(o): a test host; o.over_tls connects to the TLS port (verified with the bench CA).
local function host(o)
  o = o or {}
  local cfg = { redis = LINK or srv.url, partitions = P, budget_partitions = 32, quota_partitions = 32,
    lanes = { "default" }, scanners = "scanners", functions = "lua-lib/functions",
    log_level = os.getenv("BENCH_LOG") or "error",
    -- Each test host has its own loop, whose clock only advances while it
    -- runs: a host left idle through a long drain elsewhere would see its
    -- next command "time out" at once with the default 5 s (reported).
    command_timeout = 600 }
  for k, v in pairs(o) do cfg[k] = v end
  if o.over_tls then
    cfg.over_tls, cfg.redis, cfg.tls = nil, srv.tls_url, { cacert = srv.ca }
  end
  return T.new(cfg)
end

-- pipeline(h, cmds) -> replies: sends cmds in pipelines of PIPE commands.
local function pipeline(h, cmds)
  return h:run(function(ctx)
    local out = {}
    for first = 1, #cmds, PIPE do
      local chunk = {}
      for i = first, math.min(first + PIPE - 1, #cmds) do chunk[#chunk + 1] = cmds[i] end
      local res = ctx.redis:pipeline(chunk)
      for i = 1, #res do out[#out + 1] = res[i] end
    end
    return out
  end)
end

-- The library source as the host builds it; without 30-batch.lua and under
-- the name "flowfabric" it stands in for FlowFabric's library.
local function library_source(name, with_batch, dir)
  local parts = { "#!lua name=" .. name .. "\n" }
  for path in sh("ls " .. (dir or "lua-lib/functions") .. "/*.lua | sort"):gmatch("[^\n]+") do
    if with_batch or not path:find("30%-batch") then
      local f = assert(io.open(path))
      parts[#parts + 1] = f:read("*a") .. "\n"
      f:close()
    end
  end
  return table.concat(parts)
end

-- The delay proxy in front of srv (build/bench/delayproxy, built by
-- tests/bench/run); stop() kills it by its pid.
local function start_proxy(delay_ms)
  local bin = "build/bench/delayproxy"
  assert(io.open(bin), bin .. " is missing: run tests/bench/run (it builds it)"):close()
  local port = free_port()
  local pid = sh(string.format("%s --listen %d --upstream 127.0.0.1:%d --delay-ms %s >%s/proxy.log 2>&1 & echo $!",
    bin, port, srv.port, tostring(delay_ms), srv.dir))
  assert(pid:match("^%d+$"), "delayproxy did not start")
  local p = { port = port, pid = pid, url = "redis://127.0.0.1:" .. port }
  function p.stop() os.execute("kill " .. pid .. " 2>/dev/null") end
  for _ = 1, 100 do
    if sh("redis-cli -p " .. port .. " ping") == "PONG" then return p end
    os.execute("sleep 0.05")
  end
  p.stop()
  error("delayproxy is not answering on port " .. port)
end

-- rtt_ms(url, n) -> mean, median round trip of n sequential PINGs through
-- the host's client (after 20 warm-up PINGs), in ms.
local function rtt_ms(url, n)
  local h = host({ redis = url })
  for _ = 1, 20 do assert(h:call("PING") == "PONG") end
  local ts, t0 = {}, clock()
  for i = 1, n do
    local t = clock()
    assert(h:call("PING") == "PONG")
    ts[i] = (clock() - t) * 1000
  end
  local mean = (clock() - t0) / n * 1000
  h:close()
  return mean, median(ts)
end

-- server_cpu() -> CPU seconds the server's main thread has used (INFO cpu).
local function server_cpu()
  local info = assert(admin:call("INFO", "cpu"))
  return tonumber(info:match("used_cpu_user_main_thread:([%d.]+)"))
    + tonumber(info:match("used_cpu_sys_main_thread:([%d.]+)"))
end

local loaded_library -- what use_library loaded last

local function use_library(name)
  loaded_library = name
  assert(admin:call("FUNCTION", "FLUSH"))
  if name == "flowfabric" then
    assert(admin:call("FUNCTION", "LOAD", library_source("flowfabric", false)))
  else
    assert(admin:load_library() == "scanhost")
  end
end

-- ---------------------------------------------------------------- scenarios

-- item(k) -> partition, index of the k-th item (0-based): spread evenly.
local function item(k)
  return k % P, math.floor(k / P) + 1
end

local SCEN = {
  lease_expiry = {
    title = "drain %s expired leases over 256 partitions (lease_expiry)",
    recipe = F.lease_expiry.acting,
    call = function(n, eid)
      return "ff_mark_lease_expired_if_due", fc.mark_lease_expired_keys(PT.tag("execution", n), eid), { eid }
    end,
  },
  delayed_promoter = {
    title = "drain %s due delayed executions over 256 partitions (delayed_promoter)",
    recipe = F.delayed_promoter.acting,
    call = function(n, eid, now)
      return "ff_promote_delayed", fc.promote_delayed_keys(PT.tag("execution", n), eid, "default"), { eid, now }
    end,
  },
  -- the v34 scenario's work: one item each
  cancel_reconciler = { recipe = V.cancel_reconciler.acting },
  edge_cancel_dispatcher = { recipe = V.edge_cancel_dispatcher.acting },
  edge_cancel_reconciler = { recipe = V.edge_cancel_reconciler.sibling_terminal },
  dependency_reconciler = { recipe = V.dependency_reconciler.all_of },
  unblock = { recipe = V.unblock.budget },
}

-- seed(name[, count]): the server holds exactly `count` (default N) due
-- items of scenario `name`. A workload's first seeding is saved (SAVE) and
-- later ones restore it (DEBUG RELOAD NOSAVE), several times faster than
-- seeding again: the runs of a round follow each other closely, so the
-- machine's drift has less time to move between them. The snapshot holds
-- the functions loaded when it was taken: the caller's library is loaded
-- again after a restore.
local snapshot -- "name/count" of the workload in dump.rdb

local function seed(name, count)
  local key = name .. "/" .. (count or N)
  if snapshot == key then
    assert(admin:call("DEBUG", "RELOAD", "NOSAVE"))
    if loaded_library then use_library(loaded_library) end
    return
  end
  assert(admin:call("FLUSHALL"))
  local rec = F.recorder()
  for k = 0, (count or N) - 1 do
    local n, i = item(k)
    SCEN[name].recipe(rec, { n = n, i = i })
  end
  for _, r in ipairs(pipeline(admin, rec.cmds)) do
    assert(type(r) ~= "table" or not r.err, "seeding failed: " .. tostring(type(r) == "table" and r.err))
  end
  assert(admin:call("SAVE"))
  snapshot = key
end

local function server_now()
  local t = assert(admin:call("TIME"))
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- One drain by a stock scanner; the drain budget is lifted so that one cycle
-- drains the whole backlog (the daemon spreads it over cycles of `drain_budget`).
local function run_scanhost(name, lib, over_tls)
  use_library(lib)
  seed(name)
  local h = host({ scanner_config = { [name] = { drain_budget = 86400 } }, over_tls = over_tls })
  assert(h:load_library() == lib)
  local rt0, t0 = h:round_trips(), clock()
  local p, e = h:once(name)
  local dt = clock() - t0
  local rt = h:round_trips() - rt0
  h:close()
  assert(p == N and e == 0, string.format("%s/%s: processed %d, errors %d", name, lib, p, e))
  return dt, rt
end

-- The 0.1.1 pattern: one cycle (50 items on each of the 256 partitions).
local function run_baseline(name)
  use_library("scanhost")
  seed(name)
  local h = host({ scanners = "tests/bench/scanners", scanner_config = { ff011_baseline = { mode = name } } })
  h:load_library()
  local rt0, t0 = h:round_trips(), clock()
  local p, e = h:once("ff011_baseline")
  local dt = clock() - t0
  local rt = h:round_trips() - rt0
  h:close()
  assert(p == math.min(N, 50 * P) and e == 0, "baseline: processed " .. p .. ", errors " .. e)
  return p, dt, rt
end

-- ceiling_cmds(name, batched[, from, count]) -> the FCALLs for the seeded
-- items from .. from + count - 1 (default: the first N).
local function ceiling_cmds(name, batched, from, count)
  local now, by_part = server_now(), {}
  from = from or 0
  for k = from, from + (count or N) - 1 do
    local n, i = item(k)
    local fn, keys, args = SCEN[name].call(n, F.eid(n, i), now)
    by_part[n] = by_part[n] or {}
    table.insert(by_part[n], { fn = fn, keys = keys, args = args })
  end
  local cmds = {}
  for n = 0, P - 1 do
    local calls = by_part[n] or {}
    local step = batched and BATCH or 1
    for first = 1, #calls, step do
      local keys, args = {}, batched and { math.min(step, #calls - first + 1) } or {}
      for j = first, math.min(first + step - 1, #calls) do
        for _, x in ipairs(calls[j].keys) do keys[#keys + 1] = x end
        for _, x in ipairs(calls[j].args) do args[#args + 1] = x end
      end
      cmds[#cmds + 1] = batch.fcall_cmd(calls[first].fn .. (batched and "_batch" or ""), keys, args)
    end
  end
  return cmds
end

-- The ceilings are measured with the leanest client there is: the FCALLs
-- for every seeded item written in advance to a file of RESP commands and
-- sent by `redis-cli --pipe`. No index reads, no accounting, and none of
-- scanhost's own code (a slow reference would flatter every ratio).

local function resp(cmd)
  local out = { "*" .. #cmd .. "\r\n" }
  for i = 1, #cmd do
    local a = tostring(cmd[i])
    out[#out + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n"
  end
  return table.concat(out)
end

-- pipe_seconds(cmds) -> wall time of `redis-cli --pipe` sending cmds; every
-- reply must be a non-error one (a batch FCALL's per-item errors are checked
-- by the caller through the data).
local function pipe_seconds(cmds)
  local path = srv.dir .. "/items.resp"
  local f = assert(io.open(path, "wb"))
  for i = 1, #cmds do f:write(resp(cmds[i])) end
  f:close()
  local t0 = clock()
  local port = LINK and proxy and proxy.port or srv.port -- the latency scenario: through the proxy
  local out = sh(("redis-cli -p %d --pipe < %s 2>&1"):format(port, path))
  local dt = clock() - t0
  local errors, replies = out:match("errors: (%d+), replies: (%d+)")
  assert(tonumber(errors) == 0 and tonumber(replies) == #cmds, "redis-cli --pipe: " .. out)
  return dt
end

-- Every item's effect is on the data: its core says so.
local ITEM_DONE = {
  lease_expiry = { "ownership_state", "lease_expired_reclaimable" },
  delayed_promoter = { "eligibility_state", "eligible_now" },
}

local function assert_items_done(name, count)
  local field, want = ITEM_DONE[name][1], ITEM_DONE[name][2]
  local cmds = {}
  for k = 0, count - 1 do
    local n, i = item(k)
    cmds[#cmds + 1] = { "HGET", "ff:exec:" .. PT.tag("execution", n) .. ":" .. F.eid(n, i) .. ":core", field }
  end
  local done = 0
  for _, r in ipairs(pipeline(admin, cmds)) do
    if r == want then done = done + 1 end
  end
  assert(done == count, ("%s: %d of %d items done"):format(name, done, count))
end

-- run_ceiling(name, batched) -> the drain's wall time, and the share of it
-- the server spent on its CPU.
local function run_ceiling(name, batched)
  use_library("scanhost")
  seed(name)
  local cmds = ceiling_cmds(name, batched)
  local c0 = server_cpu()
  local dt = pipe_seconds(cmds)
  local share = (server_cpu() - c0) / dt
  assert_items_done(name, N)
  return dt, share
end

-- drain_scenario(name, interval, link): link = { title, rtt } for a run
-- through the delay proxy (LINK set by the caller), nil on loopback.
local function drain_scenario(name, interval, link)
  local m = reps(function()
    local bp, bdt, brt = run_baseline(name)
    local bt, bt_rt = run_scanhost(name, "scanhost")
    -- over TLS right after the plain drain (loopback only): a paired ratio
    local tt = not link and run_scanhost(name, "scanhost", true) or nil
    local pt, pt_rt = run_scanhost(name, "flowfabric")
    local r = {
      batch = N / bt, batch_rt = bt_rt,
      piped = N / pt, piped_rt = pt_rt,
      base = bp / bdt, base_cycle = bdt, base_rt = brt,
      ceil = N / run_ceiling(name, false),
      ceil_b = N / run_ceiling(name, true),
    }
    if tt then r.tls, r.tls_ratio = N / tt, bt / tt end
    return r
  end)
  -- 0.1.1 takes 50 items per partition per cycle and starts a cycle every
  -- `interval` seconds (or when the previous one ends, if it is longer).
  local cycles = math.ceil(N / (50 * P))
  local base_drain = (cycles - 1) * math.max(interval, m.base_cycle) + m.base_cycle
  print(string.format("\n## Scenario: " .. SCEN[name].title .. "%s, median of %d runs\n", thousands(N),
    link and link.title or "", REPS))
  print("| run | items/s | drain time | / ceiling | / baseline |")
  print("|---|---:|---:|---:|---:|")
  local function row(label, rate, drain)
    print(string.format("| %s | %s | %.2f s | %.2f | %.1f× |", label, thousands(rate), drain or N / rate,
      rate / m.ceil, rate / m.base))
  end
  row("scanhost, scanhost library (batch FCALLs)", m.batch)
  row("scanhost, per-item library (pipelined FCALLs)", m.piped)
  row("baseline: FlowFabric 0.1.1 pattern", m.base, base_drain)
  row("ceiling: per-item FCALLs pipelined", m.ceil)
  row("ceiling: batch FCALLs pipelined (reference)", m.ceil_b)
  if m.tls then
    row("scanhost over TLS, scanhost library (batch FCALLs)", m.tls)
    print(string.format("\nTLS / plain, the same drain in adjacent runs: %.2f (median of the %d paired ratios).",
      m.tls_ratio, REPS))
  end
  if link then
    print(string.format("\nbaseline drain time: %s (0.1.1 takes up to 12,800 items per cycle).",
      cycles == 1 and "one cycle, measured" or (cycles .. " cycles, projected from one")))
    print(string.format("round trips per drain (counted by the client; each waits one RTT, ~%.2f ms here): "
      .. "baseline %s (one cycle: TIME and ZRANGEBYSCORE per partition, one FCALL per item) = %.1f s of "
      .. "waiting; scanhost %s (batch) / %s (per-item) = %.2f s / %.2f s; ceiling %d.",
      link.rtt, thousands(m.base_rt), m.base_rt * link.rtt / 1000, thousands(m.batch_rt),
      thousands(m.piped_rt), m.batch_rt * link.rtt / 1000, m.piped_rt * link.rtt / 1000, math.ceil(N / PIPE)))
    print(string.format("ratios: drain time baseline / scanhost %.1f× (batch), %.1f× (per-item); "
      .. "scanhost / ceiling %.2f (batch), %.2f (per-item)", base_drain / (N / m.batch),
      base_drain / (N / m.piped), m.batch / m.ceil, m.piped / m.ceil))
    return m
  end
  print(string.format("\nbaseline drain time: %d cycles of 12,800 items, one every max(%.2g s interval, "
    .. "%.2f s cycle)%s.", cycles, interval, m.base_cycle,
    name == "lease_expiry" and "; in fact 0.1.1 stalls after the first cycle, re-reading its own "
      .. "already-expired entries at the head of the index (quirk 5)" or ""))
  print(string.format("targets: per-item scanhost/ceiling %.2f (>= 0.8), batch scanhost/ceiling %.2f "
    .. "(>= 0.8), batch scanhost / per-item ceiling %.2f (>= 2), drain vs baseline %.1f× (>= 3)",
    m.piped / m.ceil, m.batch / m.ceil, m.batch / m.ceil, base_drain / (N / m.batch)))
  return m
end

-- ------------------------------------------------------------- idle cycle

local function commandstats()
  local info = assert(admin:call("INFO", "commandstats"))
  local out = {}
  for cmd, calls in info:gmatch("cmdstat_([%w|_]+):calls=(%d+)") do
    if cmd ~= "info" and cmd ~= "config|resetstat" then out[cmd] = tonumber(calls) end
  end
  return out
end

local function scanner_names()
  local names = {}
  for path in sh("ls scanners/*.lua | sort"):gmatch("[^\n]+") do
    names[#names + 1] = path:match("([%w_]+)%.lua$")
  end
  return names
end

-- idle_once(h, name) -> round trips (client), commands seen by the server, detail
local function idle_once(h, name)
  assert(admin:call("CONFIG", "RESETSTAT"))
  local rt0 = h:round_trips()
  local p, e = h:once(name)
  assert(p == 0 and e == 0, name .. ": idle cycle did something")
  local rt = h:round_trips() - rt0
  local stats, total, parts = commandstats(), 0, {}
  for cmd, calls in pairs(stats) do
    total = total + calls
    parts[#parts + 1] = cmd:upper() .. "×" .. calls
  end
  table.sort(parts)
  return rt, total, table.concat(parts, " ")
end

local function max_rss_kb()
  local out_file = srv.dir .. "/time.out"
  os.execute(string.format("/usr/bin/time -v -o %s ./bin/scanhost --redis %s --once --partitions 256 "
    .. "--log-level error >/dev/null 2>&1", out_file, srv.url))
  local f = assert(io.open(out_file))
  local out = f:read("*a")
  f:close()
  local kb = tonumber(out:match("Maximum resident set size %(kbytes%): (%d+)"))
  local status = tonumber(out:match("Exit status: (%d+)"))
  assert(kb and status == 0, "scanhost --once failed: " .. out)
  return kb
end

local function idle_scenario()
  use_library("scanhost")
  assert(admin:call("FLUSHALL"))
  local h = host()
  assert(h:load_library() == "scanhost")
  print(string.format("\n## Scenario: idle cycle of the stock scanners over 256 partitions "
    .. "(32 for budget/quota), median of %d runs\n", REPS))
  print("| scanner | round trips (client) | commands (INFO commandstats) | <= 3 |")
  print("|---|---:|---|---|")
  local worst = 0
  for _, name in ipairs(scanner_names()) do
    local rts, detail, total = {}, nil, nil
    for r = 1, REPS do rts[r], total, detail = idle_once(h, name) end
    local rt = median(rts)
    worst = math.max(worst, rt)
    print(string.format("| %s | %d | %d: %s | %s |", name, rt, total, detail, rt <= 3 and "yes" or "NO"))
  end
  h:close()
  local rss = {}
  for r = 1, REPS do rss[r] = max_rss_kb() end
  print(string.format("\nmax round trips per scanner per idle cycle: %d (target <= 3)", worst))
  print(string.format("RSS of `bin/scanhost --once` (all the stock scanners, idle, 256 partitions): %.1f MB "
    .. "(max resident, median; target <= 10 MB)", median(rss) / 1024))
end

-- ----------------------------------------------------------------- claims

local K = require "ff.keys"

-- commands() -> every command the server ran since CONFIG RESETSTAT, but the
-- bench's own: its census polls (one EVAL each, running KEYS) and INFO/RESETSTAT.
local function commands(polls)
  local total = 0
  for cmd, calls in pairs(commandstats()) do
    if cmd ~= "keys" then total = total + calls end
  end
  return total - (polls or 0)
end

-- Idle with data: every partition holds something each stock scanner walks
-- or reads, nothing is due.
local function seed_steady()
  assert(admin:call("FLUSHALL"))
  local rec, now = F.recorder(), server_now()
  for n = 0, P - 1 do
    local tag = PT.tag("flow", n)
    F.index_reconciler.consistent(rec, { n = n, i = 1 })
    F.delayed_promoter.acting(rec, { n = n, i = 2, score = tostring(now + 3600000) })
    local fid, eid = ("00000000-0000-4000-8000-%012d"):format(n), F.eid(n, 3)
    rec:call("SADD", K.flow_index(tag), fid)
    rec:call("HSET", K.flow_core(tag, fid), "flow_id", fid, "public_flow_state", "open")
    rec:call("SADD", K.flow_members(tag, fid), eid)
    rec:call("HSET", K.core(tag, eid), "public_state", "active")
  end
  for m = 0, 31 do
    local bid, btag, qtag = ("00000000-0000-4000-8000-%012d"):format(m), PT.tag("budget", m), PT.tag("quota", m)
    rec:call("SADD", K.budget_policies(btag), bid)
    rec:call("HSET", K.budget(btag, bid), "budget_id", bid, "reset_interval_ms", "0")
    rec:call("HSET", K.budget_limits(btag, bid), "hard:tokens", "100")
    rec:call("HSET", K.budget_usage(btag, bid), "tokens", "10")
    rec:call("ZADD", K.budget_resets(btag), now + 3600000, bid)
    rec:call("SADD", K.quota_policies(qtag), bid)
    rec:call("HSET", K.quota(qtag, bid), "requests_per_window_seconds", "60", "active_concurrency_cap", "5")
    rec:call("SET", K.quota_concurrency(qtag, bid), "0")
  end
  for _, r in ipairs(pipeline(admin, rec.cmds)) do
    assert(type(r) ~= "table" or not r.err, "seeding failed")
  end
end

local INTERVALS = { attempt_timeout = 2, budget_reconciler = 30, budget_reset = 15, cancel_reconciler = 15,
  delayed_promoter = 0.75, edge_cancel_dispatcher = 1, edge_cancel_reconciler = 10,
  dependency_reconciler = 15, execution_deadline = 5, flow_projector = 15, index_reconciler = 45,
  lease_expiry = 1.5, pending_wp_expiry = 5, quota_reconciler = 30, retention_trimmer = 60,
  suspension_timeout = 2, unblock = 5 }

-- steady_rate(claims) -> commands per second of a daemon running the
-- stock scanners at their default intervals: each scanner's steady cycle (its
-- claims of the previous cycle expired, as between a daemon's cycles).
local function steady_rate(claims)
  local h = host({ claims = claims })
  local rate = 0
  for _, name in ipairs(scanner_names()) do
    local _, e = h:once(name) -- warm: partitions with work become hot
    assert(e == 0, name .. ": errors in the idle cycle")
    for _, k in ipairs(assert(admin:call("KEYS", "scanhost:claim:*"))) do admin:call("DEL", k) end
    assert(admin:call("CONFIG", "RESETSTAT"))
    local p
    p, e = h:once(name) -- flow_projector rewrites its summaries every cycle (F5)
    assert(e == 0 and (p == 0 or name == "flow_projector"), name .. ": the steady cycle did something")
    rate = rate + commands() / INTERVALS[name]
  end
  h:close()
  return rate
end

-- drain_commands(name, claims) -> commands of one drain of N items.
local function drain_commands(name, claims)
  seed(name)
  assert(admin:call("CONFIG", "RESETSTAT"))
  local h = host({ claims = claims, scanner_config = { [name] = { drain_budget = 86400 } } })
  local p = h:once(name)
  h:close()
  assert(p == N, name .. ": processed " .. p)
  return commands()
end

-- Daemons (bin/scanhost processes) on srv, delayed_promoter alone.
local function daemons(n, claims)
  local sdir = srv.dir .. "/claims-scanners"
  os.execute("mkdir -p " .. sdir .. " && cp scanners/delayed_promoter.lua " .. sdir)
  local conf = srv.dir .. "/claims.conf.lua"
  local f = assert(io.open(conf, "w"))
  f:write(("return { claims = %s }\n"):format(tostring(claims)))
  f:close()
  local pids = {}
  for i = 1, n do
    pids[i] = sh(("./bin/scanhost -c %s --scanners %s --redis %s --partitions %d --log-level error "
      .. ">/dev/null 2>&1 & echo $!"):format(conf, sdir, srv.url, P))
    assert(pids[i]:match("^%d+$"), "scanhost did not start")
  end
  return function()
    for _, pid in ipairs(pids) do os.execute("kill -TERM " .. pid) end
    for _, pid in ipairs(pids) do
      while os.execute("kill -0 " .. pid .. " 2>/dev/null") == 0 do os.execute("sleep 0.05") end
    end
  end
end

-- daemons_drain(n, claims) -> commands until n daemons drained CLAIM_N items.
local function daemons_drain(n, claims)
  local saved = N
  N = CLAIM_N
  seed("delayed_promoter")
  N = saved
  assert(admin:call("CONFIG", "RESETSTAT"))
  local stop, polls, t0 = daemons(n, claims), 0, clock()
  local census = "return #redis.call('KEYS', 'ff:idx:*:lane:default:delayed')"
  repeat
    os.execute("sleep 0.05")
    polls = polls + 1
    assert(clock() - t0 < 300, "daemons did not drain within 300 s")
  until admin:call("EVAL", census, 0) == 0
  local total = commands(polls)
  stop()
  return total
end

local function claims_scenario()
  use_library("scanhost")
  print(string.format("\n## Claims (issue 14): Redis commands (INFO commandstats), paired runs, "
    .. "median of %d\n", REPS))
  local m = reps(function()
    seed_steady()
    local on, off = steady_rate(true), steady_rate(false)
    local d_on = drain_commands("delayed_promoter", true)
    local d_off = drain_commands("delayed_promoter", false)
    local one_off = daemons_drain(1, false)
    local one = daemons_drain(1, true)
    local two = daemons_drain(2, true)
    return { idle_on = on, idle_off = off, idle = on / off, drain_on = d_on, drain_off = d_off,
      drain = d_on / d_off, one_off = one_off, one = one, two = two, alone = one / one_off,
      pair = two / one }
  end)
  print("| measure | claims on | claims off / one daemon | ratio | target |")
  print("|---|---:|---:|---:|---|")
  print(string.format("| one instance idle, data in every partition: commands/s of the stock scanners | %s "
    .. "| %s | %.3f | <= 1.05 |", thousands(m.idle_on), thousands(m.idle_off), m.idle))
  print(string.format("| one instance draining %s delayed items in one cycle (test host) | %s | %s | %.3f | <= 1.05 |",
    thousands(N), thousands(m.drain_on), thousands(m.drain_off), m.drain))
  print(string.format("| one daemon draining %s delayed items | %s | %s | %.3f | <= 1.05 |",
    thousands(CLAIM_N), thousands(m.one), thousands(m.one_off), m.alone))
  print(string.format("| two daemons draining %s delayed items (vs one daemon, claims on) | %s | %s | %.3f | <= 1.1 |",
    thousands(CLAIM_N), thousands(m.two), thousands(m.one), m.pair))
end

-- ---------------------------------------------------------------- latency

-- Scenario 4: scenarios 2 and 1 with LAT_N items, every measured client
-- (scanhost, baseline, ceiling) connected through the delay proxy.
local function latency_scenario()
  proxy = start_proxy(LAT_DELAY_MS)
  local direct, direct_med = rtt_ms(srv.url, 200)
  local linked, linked_med = rtt_ms(proxy.url, 200)
  print(string.format("\n## Latency: a %.2g ms RTT link (tests/bench/delayproxy.c, %.2g ms each way)\n",
    2 * LAT_DELAY_MS, LAT_DELAY_MS))
  print(string.format("`tc qdisc ... netem` is unavailable here (no sch_netem), so scanhost, the baseline and "
    .. "the ceiling connect through a userspace proxy that holds every chunk %.2g ms in each direction. "
    .. "Seeding goes to redis-server directly. Measured RTT (200 sequential PINGs through the host's "
    .. "client): mean %.3f ms, median %.3f ms through the proxy; mean %.3f ms, median %.3f ms direct.",
    LAT_DELAY_MS, linked, linked_med, direct, direct_med))
  local saved_n = N
  N, LINK = LAT_N, proxy.url
  local title = " through a " .. string.format("%.2g", 2 * LAT_DELAY_MS) .. " ms RTT link"
  local ok, err = pcall(function()
    drain_scenario("delayed_promoter", 0.75, { title = title, rtt = linked_med })
    drain_scenario("lease_expiry", 1.5, { title = title, rtt = linked_med })
  end)
  N, LINK = saved_n, nil
  if ok then
    local after, after_med = rtt_ms(proxy.url, 200)
    print(string.format("\nRTT through the proxy after these runs: mean %.3f ms, median %.3f ms.", after, after_med))
  end
  proxy.stop()
  proxy = nil
  if not ok then error(err, 0) end
end

-- ------------------------------------------------------------------ paired

-- A config file for `--once` drains: the drain budget lifted to its bound, as in run_scanhost
-- (a value past the bound is refused: exit 2).
local function once_config(name)
  local path = srv.dir .. "/paired-" .. name .. ".lua"
  local f = assert(io.open(path, "w"))
  -- drain_budget and max_pages at their bounds: lease entries stay in their
  -- index by design, so on a loaded machine (small adaptive pages) the
  -- default 10 stale pages would end a partition's drain before its last item
  f:write(("return { scanners = { %s = { drain_budget = 86400, max_pages = 1000 } } }\n"):format(name))
  f:close()
  return path
end

-- timed(cmd) -> cmd's output, its max RSS (kB) and CPU seconds (user + system),
-- run under /usr/bin/time -v; cmd must exit 0.
local function timed(cmd)
  local out_file = srv.dir .. "/time.out"
  local out = sh(("/usr/bin/time -v -o %s %s 2>&1"):format(out_file, cmd))
  local f = assert(io.open(out_file))
  local tv = f:read("*a")
  f:close()
  local kb = tonumber(tv:match("Maximum resident set size %(kbytes%): (%d+)"))
  assert(kb and tonumber(tv:match("Exit status: (%d+)")) == 0, cmd .. " failed: " .. out .. tv)
  return out, kb, tonumber(tv:match("User time %(seconds%): ([%d.]+)")) +
    tonumber(tv:match("System time %(seconds%): ([%d.]+)"))
end

-- daemon_drain(bin, name, lib, url) -> items/s of one `bin --once --only name`
-- drain with that library loaded (the cycle time from its summary line), the
-- program's max RSS (kB), its CPU time per item (µs: the client's work,
-- start-up included) and the share of the cycle the server spent on its CPU.
local function daemon_drain(bin, name, lib, url)
  use_library(lib)
  seed(name)
  local c0 = server_cpu()
  if os.getenv("BENCH_STATS") then assert(admin:call("CONFIG", "RESETSTAT")) end
  local out, kb, cpu = timed(("%s%s --once --only %s --redis %s --partitions %d -c %s --log-level error")
    :format(WRAP, bin, name, url, P, once_config(name)))
  local server = server_cpu() - c0
  if os.getenv("BENCH_STATS") then
    local info = assert(admin:call("INFO", "commandstats"))
    io.stderr:write(("-- %s %s %s\n%s\n"):format(bin, name, lib, info))
  end
  local p, ms = out:match("scanner=" .. name .. " .-processed=(%d+).-elapsed_ms=(%d+)")
  assert(tonumber(p) == N, bin .. ": " .. out)
  local secs = math.max(tonumber(ms), 1) / 1000
  return N / secs, kb, cpu / N * 1e6, server / secs
end

-- daemon_idle(bin) -> wall seconds and max RSS (kB) of an idle `--once` of every scanner.
local function daemon_idle(bin)
  local t0 = clock()
  local _, kb = timed(("%s --redis %s --once --partitions 256 --log-level error"):format(bin, srv.url))
  return clock() - t0, kb
end

-- pairs_of(fn, n, ref) -> every pair's ratio fn(this tree's bin) / fn(ref), and
-- the medians of both; the order alternates (A B, B A, ...) so drift cancels.
local function pairs_of(fn, n, ref)
  local ratios, this_v, ref_v = {}, {}, {}
  for i = 1, n do
    local a, b
    if i % 2 == 1 then a = fn("./bin/scanhost"); b = fn(ref) else b = fn(ref); a = fn("./bin/scanhost") end
    this_v[i], ref_v[i], ratios[i] = a, b, a / b
  end
  return ratios, median(this_v), median(ref_v)
end

local function fmt_ratios(rs)
  local t = {}
  for i, r in ipairs(rs) do t[i] = string.format("%.3f", r) end
  return table.concat(t, " ")
end

local function paired_scenario()
  local ref = assert(os.getenv("BENCH_REF"), "BENCH_REF is not set")
  local n = math.max(REPS, 4)
  print(string.format("\n## Paired: this tree's bin/scanhost against %s, %d pairs each, alternating\n", ref, n))
  print("| figure | this tree | reference | this / reference, every pair | median |")
  print("|---|---:|---:|---|---:|")
  local function drain_row(name, lib, url, where)
    local rss = { [ref] = {}, ["./bin/scanhost"] = {} }
    local rs, a, b = pairs_of(function(bin)
      local rate, kb = daemon_drain(bin, name, lib, url)
      table.insert(rss[bin], kb)
      return rate
    end, n, ref)
    print(string.format("| %s drain, %s library, %s, items/s (%s items) | %s | %s | %s | %.3f |", name, lib,
      where, thousands(N), thousands(a), thousands(b), fmt_ratios(rs), median(rs)))
    local mine, theirs, kr = rss["./bin/scanhost"], rss[ref], {}
    for i = 1, #mine do kr[i] = mine[i] / theirs[i] end
    print(string.format("| the same drain, max RSS kB (lower is better) | %s | %s | %s | %.3f |",
      thousands(median(mine)), thousands(median(theirs)), fmt_ratios(kr), median(kr)))
  end
  for _, lib in ipairs({ "scanhost", "flowfabric" }) do
    for _, name in ipairs({ "lease_expiry", "delayed_promoter" }) do drain_row(name, lib, srv.url, "loopback") end
  end
  proxy = start_proxy(LAT_DELAY_MS)
  local saved_n = N
  N = LAT_N
  local ok, err = pcall(function()
    for _, name in ipairs({ "lease_expiry", "delayed_promoter" }) do
      drain_row(name, "scanhost", proxy.url, ("%.2g ms RTT"):format(2 * LAT_DELAY_MS))
    end
  end)
  N = saved_n
  proxy.stop()
  proxy = nil
  if not ok then error(err, 0) end
  use_library("scanhost")
  assert(admin:call("FLUSHALL"))
  local rss = {}
  local rs, a, b = pairs_of(function(bin)
    local dt, kb = daemon_idle(bin)
    rss[bin] = rss[bin] or {}
    table.insert(rss[bin], kb)
    return dt
  end, n * 2, ref)
  print(string.format("| idle `--once` of the stock scanners, wall s (lower is better) | %.3f | %.3f | %s | %.3f |",
    a, b, fmt_ratios(rs), median(rs)))
  local ra, rb = median(rss["./bin/scanhost"]), median(rss[ref])
  print(string.format("| idle `--once`, max RSS kB (lower is better) | %s | %s | | %.3f |", thousands(ra),
    thousands(rb), ra / rb))
end

-- rss_scenario: what a `bin/scanhost --once --only NAME` drain of N items
-- costs the client: max RSS (/usr/bin/time -v), CPU time per item and the
-- rate, with either library, and an idle `--once` of the 14 scanners;
-- medians of REPS runs. With BENCH_REF, the reference binary runs the same
-- drains alternately (this, reference, reference, this, ...) and the pairs'
-- ratios are printed.
local function rss_scenario()
  local ref = os.getenv("BENCH_REF")
  local n = ref and math.max(REPS, 2) or REPS
  print(string.format("\n## Client: max RSS and CPU of `bin/scanhost --once`, %s due items over 256 partitions, "
    .. "median of %d runs%s\n", thousands(N), n, ref and (", alternating with " .. ref) or ""))
  local cols = { "items/s", "max RSS kB", "client CPU µs/item" }
  local head = "| run | library | " .. table.concat(cols, " | ") .. " |"
  local rule = "|---|---|---:|---:|---:|"
  if ref then
    head = head .. " reference: " .. table.concat(cols, ", ") .. " | this / reference, every pair: RSS; CPU | "
      .. "median RSS, CPU |"
    rule = rule .. "---:|---|---:|"
  end
  print(head)
  print(rule)
  local function fmt(v, f) return v and (f or thousands)(v) or "" end
  local function us(v) return string.format("%.1f", v) end
  local function row(label, lib, fn)
    local mine, theirs = { {}, {}, {} }, { {}, {}, {} }
    local kr, cr = {}, {}
    for i = 1, n do
      local order = (ref and i % 2 == 0) and { ref, "./bin/scanhost" } or { "./bin/scanhost", ref }
      for _, bin in ipairs(order) do
        local into = bin == ref and theirs or mine
        into[1][i], into[2][i], into[3][i] = fn(bin)
      end
      if ref then
        kr[i] = mine[2][i] / theirs[2][i]
        cr[i] = mine[3][i] and mine[3][i] / theirs[3][i] or nil
      end
    end
    local function med(t) return t[1] and median(t) or nil end
    local line = string.format("| %s | %s | %s | %s | %s |", label, lib, fmt(med(mine[1])),
      fmt(med(mine[2])), fmt(med(mine[3]), us))
    if ref then
      line = line .. string.format(" %s, %s, %s | %s; %s | %.3f, %s |", fmt(med(theirs[1])), fmt(med(theirs[2])),
        fmt(med(theirs[3]), us), fmt_ratios(kr), fmt_ratios(cr), median(kr),
        cr[1] and string.format("%.3f", median(cr)) or "")
    end
    print(line)
  end
  for _, name in ipairs({ "lease_expiry", "delayed_promoter" }) do
    for _, lib in ipairs({ "scanhost", "flowfabric" }) do
      row(name .. " drain", lib, function(bin) return daemon_drain(bin, name, lib, srv.url) end)
    end
  end
  use_library("scanhost")
  assert(admin:call("FLUSHALL"))
  row("idle, the 14 stock scanners", "scanhost", function(bin)
    local _, kb = daemon_idle(bin)
    return nil, kb, nil
  end)
  print("\ntargets: max RSS during a 100,000-item drain <= 12 MB (12,288 kB); idle daemon <= 10 MB")
end

-- v34_drain(bin, name, url, count) -> items/s and max RSS (kB) of one
-- `bin --once --only name` over count seeded items (the cycle time from its
-- summary line).
local function v34_drain(bin, name, url, count)
  seed(name, count)
  local out, kb = timed(("%s%s --once --only %s --redis %s --partitions %d --log-level error")
    :format(WRAP, bin, name, url, P))
  local p, ms = out:match("scanner=" .. name .. " .-processed=(%d+).-elapsed_ms=(%d+)")
  assert(tonumber(p) == count, bin .. ": " .. out)
  return count / (math.max(tonumber(ms), 1) / 1000), kb
end

-- v34_scenario: the v34 scanners' drains (scenario 14 above).
local function v34_scenario()
  local ref = os.getenv("BENCH_REF")
  local n = ref and math.max(REPS, 2) or REPS
  print(string.format("\n## The v34 scanners and the two v34 changed: `bin/scanhost --once --only NAME`, scanhost's library at level 34, "
    .. "median of %d runs%s\n", n, ref and (", alternating with " .. ref) or ""))
  print("| scanner | link | items | items/s | max RSS kB |" ..
    (ref and " reference items/s | this / reference, every pair | median |" or ""))
  print("|---|---|---:|---:|---:|" .. (ref and "---:|---|---:|" or ""))
  use_library("scanhost")
  local function row(name, url, link, count)
    local kbs = {}
    local function run(bin)
      local rate, kb = v34_drain(bin, name, url, count)
      if bin == "./bin/scanhost" then kbs[#kbs + 1] = kb end
      return rate
    end
    local line = "| %s | %s | %s | %s | %s |"
    if ref then
      local rs, a, b = pairs_of(run, n, ref)
      print(string.format(line .. " %s | %s | %.3f |", name, link, thousands(count), thousands(a),
        thousands(median(kbs)), thousands(b), fmt_ratios(rs), median(rs)))
    else
      local rates = {}
      for i = 1, n do rates[i] = run("./bin/scanhost") end
      print(string.format(line, name, link, thousands(count), thousands(median(rates)), thousands(median(kbs))))
    end
  end
  local names = { "cancel_reconciler", "edge_cancel_dispatcher", "edge_cancel_reconciler",
    "dependency_reconciler", "unblock" }
  for _, name in ipairs(names) do row(name, srv.url, "loopback", V34_N) end
  proxy = start_proxy(LAT_DELAY_MS)
  local ok, err = pcall(function()
    for _, name in ipairs(names) do
      row(name, proxy.url, ("%.2g ms RTT"):format(2 * LAT_DELAY_MS), math.min(LAT_N, V34_N))
    end
  end)
  proxy.stop()
  proxy = nil
  if not ok then error(err, 0) end
end

-- client_scenario: the Lua side of a due-item drain per item
-- (tests/bench/client.lua: a fake server that answers at once, JIT off as in
-- the host), for this tree's lua-lib and, with BENCH_REF, the reference's,
-- alternately; medians of max(REPS, 4) runs each.
local function client_scenario()
  local ref = os.getenv("BENCH_REF")
  local ref_lib = ref and ref:gsub("/bin/scanhost$", "") .. "/lua-lib"
  local n = math.max(REPS, 4)
  local function run(dir)
    local out = {}
    for lib, name, us in sh("luajit tests/bench/client.lua " .. dir .. " 100000"):gmatch("(%S+) (%S+) ([%d.]+)") do
      out[lib .. " " .. name] = tonumber(us)
    end
    return out
  end
  local mine, theirs = {}, {}
  for i = 1, n do
    local order = (ref_lib and i % 2 == 0) and { ref_lib, "lua-lib" } or { "lua-lib", ref_lib }
    for _, dir in ipairs(order) do
      local into = dir == "lua-lib" and mine or theirs
      for k, v in pairs(run(dir)) do
        into[k] = into[k] or {}
        table.insert(into[k], v)
      end
    end
  end
  print(string.format("\n## Client: the Lua side of a drain, µs per item (tests/bench/client.lua: "
    .. "ff.drain.handle_pages against a fake server, JIT off), median of %d runs%s\n", n,
    ref_lib and (", alternating with " .. ref_lib) or ""))
  print("| library | scanner | this tree |" .. (ref_lib and " reference | reference / this |" or ""))
  print("|---|---|---:|" .. (ref_lib and "---:|---:|" or ""))
  for _, lib in ipairs({ "scanhost", "flowfabric" }) do
    for _, name in ipairs({ "lease_expiry", "delayed_promoter" }) do
      local k = lib .. " " .. name
      local line = string.format("| %s | %s | %.2f |", lib, name, median(mine[k]))
      if ref_lib then
        line = line .. string.format(" %.2f | %.2f |", median(theirs[k]), median(theirs[k]) / median(mine[k]))
      end
      print(line)
    end
  end
end

-- instructions_scenario (issue 13): the client's instructions per item of
-- `bin/scanhost --once --only NAME` drains of BENCH_INSTR_ITEMS items
-- (default 20000) with either library, counted by valgrind's callgrind
-- (median of BENCH_REPS: a drain's pages and collections, so its count,
-- vary a few per cent with timing). A
-- count does not drift with the machine's speed, so a change in the
-- client's cost shows here even when the paired timings are lost in the
-- host's noise. The count of the same command with nothing due (start-up,
-- connection, one empty cycle; database 1 is empty) is subtracted. With
-- BENCH_REF, the reference binary (with its own lua-lib) is counted too.
local INSTR_N = tonumber(os.getenv("BENCH_INSTR_ITEMS") or "") or 20000

local function callgrind_count(cmd)
  local out_file = srv.dir .. "/callgrind.out"
  local out = sh(("valgrind --tool=callgrind --callgrind-out-file=%s %s 2>&1"):format(out_file, cmd))
  local f = assert(io.open(out_file))
  local count = tonumber(f:read("*a"):match("\nsummary: (%d+)"))
  f:close()
  os.remove(out_file)
  return assert(count, cmd .. ": no callgrind summary: " .. out), out
end

-- client_instructions(bin, name, lib) -> instructions per item of one drain.
local function client_instructions(bin, name, lib)
  use_library(lib)
  seed(name, INSTR_N)
  local cmd = "%s --once --only %s --redis %s --partitions %d -c %s --log-level error"
  local drain, out = callgrind_count(cmd:format(bin, name, srv.url, P, once_config(name)))
  local p = tonumber(out:match("scanner=" .. name .. " .-processed=(%d+)"))
  assert(p == INSTR_N, bin .. ": processed " .. tostring(p) .. " of " .. INSTR_N .. ": " .. out)
  local empty = callgrind_count(cmd:format(bin, name, srv.url .. "/1", P, once_config(name)))
  return (drain - empty) / INSTR_N
end

local function instructions_scenario()
  local ref = os.getenv("BENCH_REF")
  print(string.format("\n## Client instructions per item (callgrind): `bin/scanhost --once --only NAME`, "
    .. "%s due items over %d partitions, minus the same run with nothing due, median of %d%s\n",
    thousands(INSTR_N), P, REPS, ref and (", and " .. ref) or ""))
  print("| scanner | library | this tree |" .. (ref and " reference | this / reference |" or ""))
  print("|---|---|---:|" .. (ref and "---:|---:|" or ""))
  for _, name in ipairs({ "lease_expiry", "delayed_promoter" }) do
    for _, lib in ipairs({ "scanhost", "flowfabric" }) do
      local mine, theirs = {}, {}
      for i = 1, REPS do
        mine[i] = client_instructions("./bin/scanhost", name, lib)
        if ref then theirs[i] = client_instructions(ref, name, lib) end
      end
      mine = median(mine)
      local line = string.format("| %s | %s | %s |", name, lib, thousands(math.floor(mine + 0.5)))
      if ref then
        theirs = median(theirs)
        line = line .. string.format(" %s | %.3f |", thousands(math.floor(theirs + 0.5)), mine / theirs)
      end
      print(line)
    end
  end
end

-- ------------------------------------------------------------------- http

-- A daemon with the stock scanners over 256 partitions, idle (nothing
-- due), with or without --http; returns its pid and, with --http, its port.
local function http_daemon(with_http, tag)
  local log = ("%s/http-%s.log"):format(srv.dir, tag)
  local pid = sh(("./bin/scanhost --redis %s --partitions %d %s > %s 2>&1 & echo $!")
    :format(srv.url, P, with_http and "--http 127.0.0.1:0" or "", log))
  assert(pid:match("^%d+$"), "scanhost did not start")
  local port
  for _ = 1, 100 do
    local out = sh("cat " .. log)
    port = tonumber(out:match("http: listening on 127%.0%.0%.1:(%d+)"))
    if out:find("scanner started", 1, true) and (port or not with_http) then break end
    os.execute("sleep 0.05")
  end
  os.execute("sleep 2") -- every scanner ran its first cycle
  return pid, port
end

local function stop_daemon(pid)
  os.execute("kill -TERM " .. pid .. "; while kill -0 " .. pid .. " 2>/dev/null; do sleep 0.05; done")
end

local function vm_rss_kb(pid)
  return tonumber(sh("grep VmRSS /proc/" .. pid .. "/status"):match("(%d+)"))
end

local function commands_total()
  local total = 0
  for _, calls in pairs(commandstats()) do total = total + calls end
  return total
end

-- commands/s the server ran over secs, with scrapes of url (one curl, one
-- keep-alive connection, every 10 ms) or without; and the scrape times (ms).
local function window(secs, url)
  assert(admin:call("CONFIG", "RESETSTAT"))
  local t0, times = clock(), {}
  if url then
    local n = math.floor(secs * 100)
    local p = io.popen(("curl -s -w '%%{time_total}\\n' --rate 100/s %s")
      :format(string.rep("-o /dev/null " .. url .. " ", n)))
    for line in p:lines() do times[#times + 1] = tonumber(line) * 1000 end
    p:close()
  end
  local left = secs - (clock() - t0)
  if left > 0 then os.execute(("sleep %.3f"):format(left)) end
  return commands_total() / (clock() - t0), times
end

local function http_scenario()
  use_library("scanhost")
  assert(admin:call("FLUSHALL"))
  print(string.format("\n## Scenario: --http, the stock scanners idle over 256 partitions, "
    .. "median of %d adjacent pairs\n", REPS))
  local rss_off, rss_on, rss_ratio, rate_ratio, all_times, size = {}, {}, {}, {}, {}, 0
  for r = 1, REPS do
    local pid = http_daemon(false, "off" .. r)
    rss_off[r] = vm_rss_kb(pid)
    stop_daemon(pid)
    local port
    pid, port = http_daemon(true, "on" .. r)
    rss_on[r] = vm_rss_kb(pid)
    local url = ("http://127.0.0.1:%d/metrics"):format(port)
    size = #sh("curl -s " .. url)
    local quiet = window(3)
    local busy, times = window(3, url)
    rate_ratio[r] = busy / quiet
    for _, t in ipairs(times) do all_times[#all_times + 1] = t end
    rss_on[r] = math.max(rss_on[r], vm_rss_kb(pid))
    rss_ratio[r] = rss_on[r] / rss_off[r]
    stop_daemon(pid)
  end
  table.sort(all_times)
  local function pct(q) return all_times[math.max(1, math.ceil(#all_times * q))] end
  print("| figure | value |")
  print("|---|---:|")
  print(string.format("| RSS without --http (VmRSS, kB) | %s |", thousands(median(rss_off))))
  print(string.format("| RSS with --http, after the scrapes (kB) | %s |", thousands(median(rss_on))))
  print(string.format("| RSS with / without (paired) | %.2f |", median(rss_ratio)))
  print(string.format("| Redis commands/s while scraped every 10 ms / not scraped (paired) | %.2f |",
    median(rate_ratio)))
  print(string.format("| scrape time, median / p99 / max over %d scrapes (ms; curl, keep-alive) | "
    .. "%.2f / %.2f / %.2f |", #all_times, pct(0.5), pct(0.99), all_times[#all_times]))
  print(string.format("| /metrics size (bytes) | %s |", thousands(size)))
  print(string.format("\ntargets: scrape < 10 ms (p99 %.2f ms); scrapes send no command (ratio %.2f, "
    .. "1.00 = none)", pct(0.99), median(rate_ratio)))
end

-- ------------------------------------------------------- drains (issue 13)

-- The five runs of a round, in an order where both of scanhost's drains sit
-- next to the per-item ceiling run, and every other round reversed, so the
-- machine's drift cancels out of the paired ratios. ceil2 is the per-item
-- ceiling again, two runs away from the first: its ratio is the method's own
-- noise, what a ratio of two identical runs looks like on this machine.
local ROUND = { "own", "ceil", "ff", "ceil2", "ceil_b" }
local DRAIN_ROUNDS = tonumber(os.getenv("BENCH_DRAIN_ROUNDS") or "") or math.max(REPS, 5)

local function round_runs(name, url)
  local function daemon(lib)
    return function()
      local rate, kb, _, share = daemon_drain("./bin/scanhost", name, lib, url)
      return rate, kb, share
    end
  end
  local function ceiling(batched)
    return function()
      local dt, share = run_ceiling(name, batched)
      return N / dt, nil, share
    end
  end
  return { own = daemon("scanhost"), ff = daemon("flowfabric"), ceil = ceiling(false), ceil2 = ceiling(false),
    ceil_b = ceiling(true) }
end

-- side_by_side(name, url, label): DRAIN_ROUNDS rounds of the five runs;
-- prints one row per run with its median items/s, its paired ratio to the
-- per-item ceiling of the same round (every pair and their median), the
-- server's busy share and CPU per item, and the program's max RSS.
local function side_by_side(name, url, label)
  local runs, got = round_runs(name, url), {}
  for _, k in ipairs(ROUND) do got[k] = { rate = {}, kb = {}, busy = {}, ratio = {}, cpu = {} } end
  for r = 1, DRAIN_ROUNDS do
    local rates = {}
    for i = 1, #ROUND do
      local k = ROUND[r % 2 == 1 and i or #ROUND + 1 - i]
      local rate, kb, share = runs[k]()
      rates[k] = rate
      table.insert(got[k].rate, rate)
      table.insert(got[k].busy, share)
      table.insert(got[k].cpu, share / rate * 1e6)
      if kb then table.insert(got[k].kb, kb) end
    end
    for _, k in ipairs(ROUND) do table.insert(got[k].ratio, rates[k] / rates.ceil) end
  end
  local labels = {
    own = "scanhost `--once`, scanhost's library (batch FCALLs)",
    ff = "scanhost `--once`, FlowFabric's functions (per-item FCALLs)",
    ceil = "ceiling: the per-item FCALLs, `redis-cli --pipe`",
    ceil2 = "the per-item ceiling again, two runs away (the method's noise)",
    ceil_b = "ceiling: the batch FCALLs, `redis-cli --pipe`",
  }
  for _, k in ipairs(ROUND) do
    local g = got[k]
    print(string.format("| %s | %s | %s | %s | %s | %.2f | %.2f | %.1f | %s |", name, label, labels[k],
      thousands(median(g.rate)), fmt_ratios(g.ratio), median(g.ratio), median(g.busy), median(g.cpu),
      g.kb[1] and thousands(median(g.kb)) or ""))
  end
  return { own = median(got.own.ratio), ff = median(got.ff.ratio), kb = math.max(unpack(got.own.kb)),
    kb_ff = math.max(unpack(got.ff.kb)) }
end

local function drains_scenario()
  local sizes = {}
  for v in (os.getenv("BENCH_DRAIN_SIZES") or "30000,100000"):gmatch("%d+") do sizes[#sizes + 1] = tonumber(v) end
  print(string.format("\n## Drains side by side (issue 13): %d rounds on one server; each round runs "
    .. "scanhost's drains next to a per-item ceiling run (orders alternate)\n", DRAIN_ROUNDS))
  print("The ratio column is each run / the per-item ceiling of the same round (every round, then the median). "
    .. "Server busy: the server's main-thread CPU / the drain's wall time; server CPU per item: that CPU / "
    .. "the items. Max RSS: `/usr/bin/time` of `bin/scanhost --once --only NAME`.\n")
  print("| scanner | items, link | run | items/s | / per-item ceiling, every round | median | server busy "
    .. "| server CPU µs/item | max RSS kB |")
  print("|---|---|---|---:|---|---:|---:|---:|---:|")
  local names = {}
  for v in (os.getenv("BENCH_DRAIN_SCANNERS") or "lease_expiry,delayed_promoter"):gmatch("[%w_]+") do
    names[#names + 1] = v
  end
  local saved_n, results = N, {}
  for _, name in ipairs(names) do
    for _, n in ipairs(sizes) do
      N = n
      results[#results + 1] = { name = name, n = n, r = side_by_side(name, srv.url, thousands(n) .. ", loopback") }
    end
  end
  proxy = start_proxy(LAT_DELAY_MS)
  local rtt = ("%.2g ms RTT"):format(2 * LAT_DELAY_MS)
  N, LINK = LAT_N, proxy.url
  local ok, err = pcall(function()
    for _, name in ipairs(names) do
      results[#results + 1] = { name = name, n = N, link = rtt,
        r = side_by_side(name, proxy.url, thousands(N) .. ", " .. rtt) }
    end
  end)
  N, LINK = saved_n, nil
  proxy.stop()
  proxy = nil
  if not ok then error(err, 0) end
  use_library("scanhost")
  assert(admin:call("FLUSHALL"))
  local pid = http_daemon(false, "idle")
  local rate = window(10)
  local kb = vm_rss_kb(pid)
  stop_daemon(pid)
  print(string.format("\nIdle daemon, the %d stock scanners over 256 empty partitions, after its first "
    .. "cycles: %.0f Redis commands/s (10 s), VmRSS %s kB.", #scanner_names(), rate, thousands(kb)))
  print("\ntargets (medians of the paired ratios): scanhost's library >= 1.0 of the per-item ceiling "
    .. "(stretch 1.2 for delayed_promoter), FlowFabric's >= 0.9, over 1 ms RTT >= 0.9; max RSS of a "
    .. "100,000-item drain <= 12 MB; idle daemon <= 10 MB after 5 minutes")
  for _, x in ipairs(results) do
    local own_target = x.link and 0.9 or 1.0
    local ff_target = 0.9
    print(string.format("  %s, %s items%s: scanhost's library %.2f (%s), FlowFabric's %.2f (%s), max RSS %s / %s kB",
      x.name, thousands(x.n), x.link and (", " .. x.link) or "", x.r.own, x.r.own >= own_target and "met" or "NOT met",
      x.r.ff, x.r.ff >= ff_target and "met" or "NOT met", thousands(x.r.kb), thousands(x.r.kb_ff)))
  end
end

-- ------------------------------------------------------------------- items

local function load_functions(dir)
  assert(admin:call("FUNCTION", "LOAD", "REPLACE", library_source("scanhost", true, dir)))
end

-- slices(cmds, k) -> cmds cut into k runs of consecutive commands.
local function slices(cmds, k)
  local out, size = {}, math.ceil(#cmds / k)
  for first = 1, #cmds, size do
    local slice = {} -- (not unpack: a slice of 100,000 / 8 commands is past its limit)
    for i = first, math.min(first + size - 1, #cmds) do slice[#slice + 1] = cmds[i] end
    out[#out + 1] = slice
  end
  return out
end

-- The server's main thread CPU seconds so far (INFO cpu): what items cost it,
-- much less disturbed by other processes on the machine than wall time.
local function server_cpu()
  local info = assert(admin:call("INFO", "cpu"))
  return tonumber(info:match("used_cpu_user_main_thread:([%d.]+)")) +
         tonumber(info:match("used_cpu_sys_main_thread:([%d.]+)"))
end

-- item_pairs(name, batched, ref_dir) -> for this tree's library and the
-- reference's: median items/s (wall) and µs of server CPU per item, and every
-- pair's ratio of CPU per item (reference / this: above 1, this is cheaper).
-- 2N items are seeded at once, N for each library; each half is cut into
-- slices that run alternately (this, reference, reference, this, ...), the
-- library replaced before each: adjacent runs on the same data shape.
local function item_pairs(name, batched, ref_dir)
  local k = 2 * math.max(REPS, 4)
  assert(admin:call("FUNCTION", "FLUSH"))
  load_functions(nil)
  seed(name, 2 * N)
  local mine, theirs = slices(ceiling_cmds(name, batched, 0, N), k), slices(ceiling_cmds(name, batched, N, N), k)
  local per = N / #mine
  local r = { this_rate = {}, ref_rate = {}, this_us = {}, ref_us = {}, ratios = {} }
  local function run(dir, cmds, rate, us)
    load_functions(dir)
    local c0 = server_cpu()
    rate[#rate + 1] = per / pipe_seconds(cmds)
    us[#us + 1] = (server_cpu() - c0) / per * 1e6
  end
  for i = 1, #mine do
    if i % 2 == 1 then
      run(nil, mine[i], r.this_rate, r.this_us); run(ref_dir, theirs[i], r.ref_rate, r.ref_us)
    else
      run(ref_dir, theirs[i], r.ref_rate, r.ref_us); run(nil, mine[i], r.this_rate, r.this_us)
    end
    r.ratios[i] = r.ref_us[i] / r.this_us[i]
  end
  assert_items_done(name, 2 * N)
  return r
end

-- items_scenario: per-item and batch FCALLs of this tree's library against the
-- reference tree's (BENCH_REF; without it, against itself: the noise floor).
local function items_scenario()
  local ref = os.getenv("BENCH_REF")
  local ref_dir = ref and ref:gsub("/bin/scanhost$", "") .. "/lua-lib/functions" or "lua-lib/functions"
  print(string.format("\n## Items: server time per item, `redis-cli --pipe` of prepared FCALLs, %s items per "
    .. "library, this tree's library against %s, in alternating slices\n", thousands(N), ref_dir))
  print("| scanner | calls | this tree: items/s, CPU µs/item | reference: items/s, CPU µs/item "
    .. "| CPU per item, reference / this, every slice pair | median |")
  print("|---|---|---:|---:|---|---:|")
  for _, name in ipairs({ "lease_expiry", "delayed_promoter" }) do
    for _, batched in ipairs({ false, true }) do
      local r = item_pairs(name, batched, ref_dir)
      print(string.format("| %s | %s | %s, %.1f | %s, %.1f | %s | %.3f |", name,
        batched and ("batch FCALLs of " .. BATCH) or "per-item FCALLs", thousands(median(r.this_rate)),
        median(r.this_us), thousands(median(r.ref_rate)), median(r.ref_us), fmt_ratios(r.ratios),
        median(r.ratios)))
    end
  end
end

-- ---------------------------------------------------------------- cluster

local RC = require "spec.helpers.redis_cluster"

-- cluster_drain(target) -> items/s of one `--once` delayed_promoter drain of
-- CLUSTER_N items on the cluster or on a standalone server of the cluster
-- scenario's own (a random port: the shared bench ports may have visitors).
-- Either is seeded with redis-cli --pipe, split by slot for the cluster.
local function cluster_drain(target)
  local rec = RC.recorder()
  for k = 0, CLUSTER_N - 1 do
    local n, i = item(k)
    F.delayed_promoter.acting(rec, { n = n, i = i })
  end
  if target.primaries then
    for _, node in ipairs(target:primaries()) do node:cli("FLUSHALL") end
    target:pipe(rec)
  else
    target:cli("FLUSHALL")
    local all = RC.recorder()
    for _, cmds in pairs(rec.by_slot) do
      for _, c in ipairs(cmds) do table.insert(all.by_slot, c) end
    end
    local path = target.dir .. "/seed.resp"
    local f = assert(io.open(path, "wb"))
    f:write(table.concat(all.by_slot))
    f:close()
    local out = sh(("redis-cli -p %d --pipe < %s 2>&1"):format(target.port, path))
    assert(out:find("errors: 0,", 1, true), "seeding failed: " .. out)
  end
  local out = sh(("./bin/scanhost --once --only delayed_promoter --redis %s --partitions %d -c %s "
    .. "--log-level error 2>&1"):format(target.url, P, once_config("delayed_promoter")))
  local p, ms = out:match("processed=(%d+).-elapsed_ms=(%d+)")
  assert(tonumber(p) == CLUSTER_N, "drain: " .. out)
  return CLUSTER_N / (math.max(tonumber(ms), 1) / 1000)
end

-- per-primary commands (INFO commandstats, without INFO/CONFIG) since the last reset
local function primary_commands(cl)
  local out = {}
  for i, node in ipairs(cl:primaries()) do
    local total = 0
    for cmd, calls in node:cli("INFO commandstats"):gmatch("cmdstat_([%w|_]+):calls=(%d+)") do
      if cmd ~= "info" and not cmd:find("^config") then total = total + tonumber(calls) end
    end
    out[i] = total
  end
  return out
end

local function cluster_scenario()
  local cl = RC.start({ primaries = 3, replicas = 0 })
  local alone = require("spec.helpers.redis_server").start()
  local ok, err = pcall(function()
    local n = math.max(REPS, 4)
    print(string.format("\n## Scenario: a 3-primary Redis Cluster next to a standalone server, %d pairs\n", n))
    print("| figure | cluster | standalone | cluster / standalone, every pair | median |")
    print("|---|---:|---:|---|---:|")
    local ratios, cv, sv = {}, {}, {}
    for i = 1, n do
      if i % 2 == 1 then cv[i] = cluster_drain(cl); sv[i] = cluster_drain(alone)
      else sv[i] = cluster_drain(alone); cv[i] = cluster_drain(cl) end
      ratios[i] = cv[i] / sv[i]
    end
    print(string.format("| delayed_promoter drain, scanhost library, items/s (%s items) | %s | %s | %s | %.3f |",
      thousands(CLUSTER_N), thousands(median(cv)), thousands(median(sv)), fmt_ratios(ratios), median(ratios)))
    -- idle cycles through a test host on the cluster
    for _, node in ipairs(cl:primaries()) do node:cli("FLUSHALL") end
    local h = T.new({ redis = cl.url, partitions = P, budget_partitions = 32, quota_partitions = 32,
      lanes = { "default" }, scanners = "scanners", functions = "lua-lib/functions", log_level = "error",
      command_timeout = 600 })
    assert(h:load_library() == "scanhost")
    print("\n| scanner, idle cycle on the cluster | round trips (client) | commands per primary |")
    print("|---|---:|---|")
    local worst = 0
    for _, name in ipairs(scanner_names()) do
      local rts, per
      rts = {}
      for r = 1, REPS do
        for _, node in ipairs(cl:primaries()) do node:cli("CONFIG RESETSTAT") end
        local rt0 = h:round_trips()
        local p, e = h:once(name)
        assert(p == 0 and e == 0, name .. ": idle cycle on the cluster did something")
        rts[r] = h:round_trips() - rt0
        per = primary_commands(cl)
      end
      worst = math.max(worst, median(rts))
      print(string.format("| %s | %d | %s |", name, median(rts), table.concat(per, " / ")))
    end
    h:close()
    print(string.format("\nmax round trips per scanner per idle cycle on the cluster: %d; a pipeline is "
      .. "split by node and sent in parallel, so each primary waits at most that many round trips", worst))
  end)
  cl:stop()
  alone:stop()
  if not ok then error(err, 0) end
end

-- --------------------------------------------------------------------- main

local function main()
  srv = start_server()
  admin = host()
  print("# scanhost bench (issue 5)\n")
  print(string.format("machine: %s CPUs (nproc), %s; %s; items %s (latency scenario: %s), runs per figure %d",
    sh("nproc"), sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'"),
    sh("redis-server --version | cut -d' ' -f1-3"), thousands(N), thousands(LAT_N), REPS))
  local t0 = clock()
  if ONLY.lease_expiry then drain_scenario("lease_expiry", 1.5) end
  if ONLY.delayed_promoter then drain_scenario("delayed_promoter", 0.75) end
  if ONLY.idle then idle_scenario() end
  if ONLY.latency then latency_scenario() end
  if ONLY.paired or (os.getenv("BENCH_REF") and not os.getenv("BENCH_ONLY")) then paired_scenario() end
  if ONLY.rss then rss_scenario() end
  if ONLY.drains then drains_scenario() end
  if ONLY.client then client_scenario() end
  if ONLY.instructions then instructions_scenario() end
  if ONLY.claims then claims_scenario() end
  if ONLY.items then items_scenario() end
  if ONLY.http then http_scenario() end
  if ONLY.cluster then cluster_scenario() end
  if ONLY.v34 then v34_scenario() end
  print(string.format("\nbench time: %.0f s", clock() - t0))
end

local ok, err = xpcall(main, debug.traceback)
if admin then admin:close() end
if proxy then proxy.stop() end
if srv then srv.stop() end
if not ok then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
