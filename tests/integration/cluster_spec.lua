-- Issue 11, end to end: bin/scanhost against a real local Redis Cluster
-- (3 primaries + 3 replicas, spec/helpers/redis_cluster.lua) started once for
-- the file. A backlog of delayed items on every partition is drained with
-- either library, with --once and as a daemon, through a failover, a kill -9
-- of a primary, a slot migration (ASK, TRYAGAIN) and a new primary; every
-- item must be done exactly once (one transition) and the daemon must exit 0
-- at SIGTERM. Every wait is bounded and generous; nothing depends on speed.
local C = require "spec.helpers.redis_cluster"
local P = require "tests.integration.helpers.proc"
local FX = require "tests.faults.helpers.fx"
local HTTP = require "tests.integration.helpers.http"
local F = require "ff.fixtures"
local env_mod = require "spec.helpers.env"

local NP, PER = 32, 40
local TOTAL = NP * PER

-- Items of partition n that are promoted exactly once, per primary (its own
-- partitions only: a script touches local keys).
local CENSUS = [[
local per, ok = tonumber(ARGV[1]), 0
for j = 2, #ARGV do
  local n = tonumber(ARGV[j])
  local tag = "{fp:" .. n .. "}"
  for i = 1, per do
    local eid = string.format("{fp:%d}:00000000-0000-4000-8000-%012x", n, i)
    local st = redis.call("HMGET", "ff:exec:" .. tag .. ":" .. eid .. ":core", "eligibility_state",
      "delay_until", "last_transition_at", "last_mutation_at", "lifecycle_phase")
    if st[1] == "eligible_now" and st[2] == "" and st[3] == st[4] and st[5] == "runnable"
      and redis.call("ZSCORE", "ff:idx:" .. tag .. ":lane:default:eligible", eid)
      and not redis.call("ZSCORE", "ff:idx:" .. tag .. ":lane:default:delayed", eid) then ok = ok + 1 end
  end
end
return ok]]

local function tag_slot(n) return C.slot("{fp:" .. n .. "}") end

describe("scanhost on a Redis Cluster", function()
  local cl, dir, procs, case

  setup(function()
    cl = C.start({ spare = 1 })
    assert.truthy(cl:wait_synced(20), "replicas did not sync")
  end)

  teardown(function()
    cl:stop()
  end)

  before_each(function()
    dir = P.tmpdir()
    procs = {}
    case = (case or 0) + 1
    for _, node in ipairs(cl:primaries()) do
      node:cli("FLUSHALL")
      node:cli("FUNCTION FLUSH")
      node:cli("CONFIG RESETSTAT")
    end
  end)

  after_each(function()
    for i, p in ipairs(procs) do
      p:stop()
      FX.keep_log(p, ("cluster-%d-%d"):format(case, i))
    end
    P.sh("rm -rf " .. dir)
  end)

  -- done(per) -> items promoted exactly once over the whole cluster
  -- partitions of each primary: node -> { n... } (one CLUSTER NODES)
  local function by_owner(np)
    local owners, topo = {}, cl:topology()
    for n = 0, (np or NP) - 1 do
      local slot = tag_slot(n)
      for _, e in ipairs(topo) do
        if e.primary and not e.fail then
          for _, r in ipairs(e.slots) do
            if slot >= r[1] and slot <= r[2] then
              local node = cl:node_by_port(e.port)
              owners[node] = owners[node] or {}
              table.insert(owners[node], n)
            end
          end
        end
      end
    end
    return owners
  end

  local function done(np, per)
    local total, owners = 0, by_owner(np)
    for _, out in ipairs(cl:eval_each(CENSUS, function(node)
      local a = { per or PER }
      for _, n in ipairs(owners[node] or {}) do a[#a + 1] = n end
      return a
    end)) do
      total = total + (tonumber(out:match("%-?%d+")) or 0)
    end
    return total
  end

  local function seed(np, per, first)
    local now = FX.server_ms(cl.nodes[1])
    local rec = C.recorder()
    for n = 0, (np or NP) - 1 do
      for i = first or 1, per or PER do
        local d = tostring(now - 1000)
        F.delayed_promoter.acting(rec, { n = n, i = i, score = d, fields = { delay_until = d } })
      end
    end
    return cl:pipe(rec)
  end

  local function scanners(names)
    local sdir = dir .. "/scanners"
    FX.copy_scanners(names or { "delayed_promoter" }, sdir)
    return sdir
  end

  local function conf(text)
    return FX.config(dir, text or "scanners = { delayed_promoter = { interval = 0.5 } },")
  end

  local function start(extra, url)
    local d = ("%s/d%d"):format(dir, #procs + 1)
    P.sh("mkdir -p " .. d)
    local p = P.start(d, ("-c %s --scanners %s --redis %s --partitions %d %s"):format(conf(),
      scanners(), url or cl.url, NP, extra or ""))
    procs[#procs + 1] = p
    return p
  end

  local function once(extra)
    local log = dir .. "/once.log"
    local ok = P.sh(("./bin/scanhost -c %s --scanners %s --redis %s --partitions %d --once %s > %s 2>&1")
      :format(conf(), scanners(), cl.url, NP, extra or "", log))
    return ok, P.read(log) or ""
  end

  local function libraries()
    local out = {}
    for _, node in ipairs(cl:primaries()) do
      out[#out + 1] = node:cli("FUNCTION LIST"):match("library_name%s+(%S+)") or "none"
    end
    return out
  end

  it("--once with scanhost's own library: detects the cluster, loads the library on every primary, does every item once", function()
    seed()
    local ok, log = once()
    assert.is_true(ok, log)
    assert.truthy(log:find("is a cluster node: routing by slot to every primary", 1, true), log)
    assert.truthy(log:find("cluster topology: 3 primaries, 16384 of 16384 slots served", 1, true), log)
    assert.truthy(log:find("processed=" .. TOTAL, 1, true), log)
    assert.equal(TOTAL, done())
    assert.same({ "scanhost", "scanhost", "scanhost" }, libraries())
    -- the pipelines were split by node: every primary did its own partitions' work
    for _, node in ipairs(cl:primaries()) do
      assert.truthy(node:cli("INFO commandstats"):find("cmdstat_fcall:calls=", 1, true))
    end
    -- a second run finds the library everywhere and loads nothing
    local ok2, log2 = once()
    assert.is_true(ok2, log2)
    assert.equal(3, FX.count_lines(log2, "is already loaded (on 127.0.0.1:"))
    assert.falsy(log2:find("loading scanhost's", 1, true))
  end)

  it("--once with FlowFabric's library on the primaries: loads nothing, does every item once", function()
    cl:function_load(env_mod.per_item_library())
    seed()
    local ok, log = once()
    assert.is_true(ok, log)
    assert.equal(3, FX.count_lines(log, "FlowFabric's function library 'flowfabric' is loaded (on "))
    assert.truthy(log:find("cluster function library: FlowFabric's (loading nothing)", 1, true), log)
    assert.equal(TOTAL, done())
    assert.same({ "flowfabric", "flowfabric", "flowfabric" }, libraries())
  end)

  it("--redis repeated: an unreachable first seed gives way to the next", function()
    seed()
    local ok, log = once("--redis " .. cl.nodes[2].url)
    -- the first --redis (the spec's own) is replaced below: a dead seed first
    assert.is_true(ok, log)
    local out = dir .. "/seeds.log"
    ok = P.sh(("./bin/scanhost -c %s --scanners %s --redis redis://127.0.0.1:1 --redis %s --partitions %d --once > %s 2>&1")
      :format(conf(), scanners(), cl.nodes[3].url, NP, out))
    log = P.read(out) or ""
    assert.is_true(ok, log)
    assert.truthy(log:find("redis at redis://127.0.0.1:1 unavailable", 1, true), log)
    assert.truthy(log:find(("127.0.0.1:%d is a cluster node"):format(cl.nodes[3].port), 1, true), log)
    assert.equal(TOTAL, done())
  end)

  it("config redis as a list of seed nodes: an unreachable first gives way to the next", function()
    seed()
    local c = conf(("redis = { 'redis://127.0.0.1:1', %q },"):format(cl.nodes[3].url))
    local out = dir .. "/list.log"
    local ok = P.sh(("./bin/scanhost -c %s --scanners %s --partitions %d --once > %s 2>&1")
      :format(c, scanners(), NP, out))
    local log = P.read(out) or ""
    assert.is_true(ok, log)
    assert.truthy(log:find("starting: redis redis://127.0.0.1:1 (+1 more seed node),", 1, true), log)
    assert.truthy(log:find("redis at redis://127.0.0.1:1 unavailable", 1, true), log)
    assert.truthy(log:find(("127.0.0.1:%d is a cluster node"):format(cl.nodes[3].port), 1, true), log)
    assert.equal(TOTAL, done())
  end)

  it("FlowFabric's library missing on one primary: reported, only its partitions wait", function()
    local prim = cl:primaries()
    cl:function_load(env_mod.per_item_library())
    prim[2]:cli("FUNCTION FLUSH")
    seed()
    local ok, log = once()
    assert.is_false(ok, "--once must not succeed while partitions wait")
    assert.truthy(log:find(("primary 127.0.0.1:%d has no FlowFabric function library"):format(prim[2].port), 1, true), log)
    assert.falsy(log:find("Function not found", 1, true), "a waiting partition was called")
    local waiting = #(by_owner()[prim[2]] or {})
    assert.is_true(waiting > 0)
    assert.equal(TOTAL - waiting * PER, done())
    assert.equal("none", prim[2]:cli("FUNCTION LIST"):match("library_name%s+(%S+)") or "none")
  end)

  it("a foreign 'scanhost' library on one primary is never replaced", function()
    local prim = cl:primaries()
    P.write(dir .. "/foreign.lua", "#!lua name=scanhost\nredis.register_function('mine', function() return 1 end)\n")
    prim[1]:cli("-x FUNCTION LOAD < " .. dir .. "/foreign.lua")
    seed()
    local ok, log = once()
    assert.is_false(ok, "--once must not succeed while partitions wait")
    assert.truthy(log:find("but scanhost did not create it", 1, true), log)
    assert.falsy(log:find("Function not found", 1, true), "a waiting partition was called")
    assert.truthy(prim[1]:cli("FUNCTION LIST"):find("mine", 1, true), "foreign library replaced")
    local waiting = #(by_owner()[prim[1]] or {})
    assert.equal(TOTAL - waiting * PER, done())
  end)

  it("primaries that disagree on the library version: a scanner that needs one waits until they agree (issue 16)", function()
    local prim = cl:primaries()
    for _, v in ipairs({ "5", "34" }) do
      P.write(("%s/v%s.lua"):format(dir, v), ("#!lua name=flowfabric\n"
        .. "redis.register_function('ff_version', function() return '%s' end)\n"):format(v))
    end
    for i, node in ipairs(prim) do
      node:cli(("-x FUNCTION LOAD < %s/v%s.lua"):format(dir, i == 2 and "5" or "34"))
    end
    local sdir = dir .. "/vscanners"
    P.sh("mkdir -p " .. sdir)
    P.write(sdir .. "/v34_only.lua", [[
return { name = "v34_only", family = "execution", interval = 0.5, library_versions = { "34" },
  scan = function(ctx)
    local ok = ctx.redis:call("INCR", "ran:" .. ctx.tag)
    return ok and 1 or 0, ok and 0 or 1
  end }
]])
    local function run()
      local log = dir .. "/mixed.log"
      local ok = P.sh(("./bin/scanhost --scanners %s --redis %s --partitions %d --once > %s 2>&1")
        :format(sdir, cl.url, NP, log))
      return ok, P.read(log) or ""
    end
    local ok, out = run()
    assert.is_true(ok, out)
    assert.truthy(out:find("the primaries disagree on the function library's version", 1, true), out)
    assert.truthy(out:find("scanner waits: it follows library version 34; the loaded library is version unknown",
      1, true), out)
    for _, node in ipairs(prim) do assert.equal("", (node:cli("KEYS ran:*"):gsub("%s+$", ""))) end
    -- the upgrade done on every primary: it runs
    prim[2]:cli(("-x FUNCTION LOAD REPLACE < %s/v34.lua"):format(dir))
    ok, out = run()
    assert.is_true(ok, out)
    assert.truthy(out:find("the function library is version 34", 1, true), out)
    assert.truthy(out:find("processed=" .. NP, 1, true), out)
  end)

  it("the daemon, seeded through a replica's address, drains while a replica takes over (CLUSTER FAILOVER)", function()
    seed(NP, PER)
    local victim = cl:owner(tag_slot(0))
    local replica = assert(cl:replica_of(victim))
    -- any node will do as the seed: here a replica
    local p = start("", replica.url)
    assert.truthy(p:wait_log("scan cycle complete", 20), p:output())
    seed(NP, 2 * PER, PER + 1) -- a second backlog, drained across the failover
    assert.truthy(replica:cli("CLUSTER FAILOVER"):find("OK", 1, true))
    assert.truthy(P.wait_for(function() return cl:owner(tag_slot(0)) == replica end, 10), "no failover")
    assert.truthy(P.wait_for(function() return done(NP, 2 * PER) == 2 * TOTAL end, 30),
      "backlog not drained after the failover: " .. done(NP, 2 * PER))
    assert.equal(0, FX.term(p))
    assert.falsy(p:output():find("level=error", 1, true), p:output())
  end)

  it("the reconnect metric counts a lost connection once, not the other nodes' first connections", function()
    seed()
    local p = start("--http 127.0.0.1:0")
    local port = HTTP.port_of(p)
    assert.truthy(P.wait_for(function() return done() == TOTAL end, 20), "not drained: " .. done())
    local m = HTTP.scrape(port)
    assert.equal(1, m.scanhost_redis_connected)
    assert.equal(0, m.scanhost_redis_reconnects_total)
    local commands = m.scanhost_redis_commands_total
    -- one primary drops every client: the daemon's one connection to it
    local victim = cl:primaries()[2]
    assert.truthy(victim:cli("CLIENT KILL TYPE normal"):match("^%d+"))
    assert.truthy(HTTP.wait_metric(port, "scanhost_redis_reconnects_total", function(v) return v == 1 end, 10),
      p:output())
    seed(NP, 2 * PER, PER + 1) -- and the daemon goes on with every node
    assert.truthy(P.wait_for(function() return done(NP, 2 * PER) == 2 * TOTAL end, 20),
      "not drained after the reconnect: " .. done(NP, 2 * PER))
    m = HTTP.scrape(port)
    assert.equal(1, m.scanhost_redis_reconnects_total)
    assert.equal(1, m.scanhost_redis_connected)
    assert.is_true(m.scanhost_redis_commands_total >= commands)
    assert.equal(0, FX.term(p))
  end)

  it("a slot in migration (ASK, TRYAGAIN) and then moved: every item once", function()
    seed()
    local n0 = 0
    local slot = tag_slot(n0)
    local src = cl:owner(slot)
    local dst
    for _, node in ipairs(cl:primaries()) do if node ~= src then dst = node break end end
    local src_id, dst_id = src:id(), dst:id()
    assert.truthy(dst:cli(("CLUSTER SETSLOT %d IMPORTING %s"):format(slot, src_id)):find("OK"))
    assert.truthy(src:cli(("CLUSTER SETSLOT %d MIGRATING %s"):format(slot, dst_id)):find("OK"))
    -- half the items' core records moved: their FCALLs get TRYAGAIN (keys split)
    local keys = {}
    for i = 1, PER / 2 do
      keys[#keys + 1] = ("ff:exec:{fp:%d}:{fp:%d}:00000000-0000-4000-8000-%012x:core"):format(n0, n0, i)
    end
    local out = src:cli(("MIGRATE 127.0.0.1 %d \"\" 0 5000 KEYS %s"):format(dst.port, table.concat(keys, " ")))
    assert.truthy(out:find("OK", 1, true), out)
    local p = start()
    assert.truthy(p:wait_log("scan cycle complete", 20), p:output())
    -- every other partition is done; partition 0 waits on its split keys
    assert.truthy(P.wait_for(function() return done() >= TOTAL - PER end, 20))
    -- finish the migration: the rest of the slot's keys, then the slot itself
    for _ = 1, 100 do
      local rest = src:cli(("CLUSTER GETKEYSINSLOT %d 100"):format(slot))
      local list = {}
      for k in rest:gmatch("[^\n]+") do list[#list + 1] = "'" .. k .. "'" end
      if #list == 0 then break end
      src:cli(("MIGRATE 127.0.0.1 %d \"\" 0 5000 KEYS %s"):format(dst.port, table.concat(list, " ")))
    end
    for _, node in ipairs(cl:primaries()) do
      node:cli(("CLUSTER SETSLOT %d NODE %s"):format(slot, dst_id))
    end
    assert.truthy(P.wait_for(function() return done() == TOTAL end, 30), "not drained: " .. done())
    assert.equal(0, FX.term(p))
    -- TRYAGAIN did not count as an item error
    assert.falsy(p:output():find("level=warn scanner=delayed_promoter", 1, true), p:output())
  end)

  it("two daemons share the cluster through claims: every item once, duplicate calls bounded (issue 14)", function()
    cl:function_load(env_mod.per_item_library()) -- one FCALL per item call
    seed()
    local a, b = start(), start()
    assert.truthy(P.wait_for(function() return done() == TOTAL end, 30), "not drained: " .. done())
    assert.equal(0, FX.term(a))
    assert.equal(0, FX.term(b))
    local fcalls = 0
    for _, node in ipairs(cl:primaries()) do
      fcalls = fcalls + tonumber(node:cli("INFO commandstats"):match("cmdstat_fcall:calls=(%d+)") or 0)
    end
    print(("# cluster claims: 2 daemons, %d items: %d FCALLs (%d beyond one per item)"):format(
      TOTAL, fcalls, fcalls - TOTAL))
    assert.equal(TOTAL, done())
    assert.is_true(fcalls >= TOTAL and fcalls - TOTAL <= 2 * 500, "FCALLs: " .. fcalls)
    -- both claimed partitions in their slots: no claim key is left behind (released at the end)
    for _, node in ipairs(cl:primaries()) do
      assert.equal("", (node:cli("--scan --pattern 'scanhost:claim:*'"):gsub("%s+", "")))
    end
  end)

  it("kill -9 of a primary during a drain: its replica takes over, every item once", function()
    seed()
    local victim = cl:owner(tag_slot(1))
    local replica = assert(cl:replica_of(victim))
    local p = start()
    assert.truthy(p:wait_log("scan cycle complete", 20), p:output())
    seed(NP, 2 * PER, PER + 1)
    victim:kill("KILL")
    assert.truthy(P.wait_for(function() return cl:owner(tag_slot(1), replica) == replica end, 20),
      "the replica was not promoted")
    assert.truthy(P.wait_for(function() return done(NP, 2 * PER) == 2 * TOTAL end, 40),
      "backlog not drained after the kill: " .. done(NP, 2 * PER))
    assert.equal(0, FX.term(p))
    -- the killed node comes back (as a replica of its successor)
    assert.truthy(victim:restart())
    assert.truthy(cl:wait_ok(20))
  end)

  it("a new empty primary joins and takes slots while the daemon runs: it gets the library and its items are done", function()
    seed()
    local p = start()
    assert.truthy(p:wait_log("scan cycle complete", 20), p:output())
    assert.truthy(P.wait_for(function() return done() == TOTAL end, 20))
    local new = cl:add_primary(cl.spare[1], 2000)
    assert.truthy(cl:wait_ok(20))
    assert.truthy(p:wait_log(("loaded scanhost's function library 'scanhost' version %%S+ .-%%(on 127.0.0.1:%d%%)"):format(new.port), 20),
      p:output())
    -- new work on every partition, some of them now on the new primary
    seed(NP, 2 * PER, PER + 1)
    local on_new = #(by_owner()[new] or {})
    assert.truthy(P.wait_for(function() return done(NP, 2 * PER) == 2 * TOTAL end, 30),
      "not drained: " .. done(NP, 2 * PER))
    print(("# cluster: a new primary with %d of %d partitions joined; all %d items done once"):format(
      on_new, NP, 2 * TOTAL))
    assert.equal(0, FX.term(p))
  end)
end)

describe("scanhost on a Redis Cluster over TLS", function()
  local cl, dir

  setup(function()
    cl = C.start({ primaries = 3, replicas = 0, tls = true })
    dir = P.tmpdir()
  end)

  teardown(function()
    cl:stop()
    P.sh("rm -rf " .. dir)
  end)

  it("--once over rediss://: every primary reached over TLS, the library loaded on each, every item once", function()
    local now = FX.server_ms(cl.nodes[1])
    local rec = C.recorder()
    for n = 0, NP - 1 do
      for i = 1, PER do
        local d = tostring(now - 1000)
        F.delayed_promoter.acting(rec, { n = n, i = i, score = d, fields = { delay_until = d } })
      end
    end
    cl:pipe(rec)
    FX.copy_scanners({ "delayed_promoter" }, dir .. "/scanners")
    local log = dir .. "/once.log"
    local ok = P.sh(("./bin/scanhost -c %s --scanners %s/scanners --redis %s --cacert %s --partitions %d --once > %s 2>&1")
      :format(FX.config(dir, ""), dir, cl.url, cl.tls.ca, NP, log))
    local out = P.read(log) or ""
    assert.is_true(ok, out)
    assert.equal(3, FX.count_lines(out, "connected to redis at 127.0.0.1:"), out)
    assert.equal(3, FX.count_lines(out, "(TLSv1."), out)
    assert.truthy(out:find("processed=" .. TOTAL, 1, true), out)
    for _, node in ipairs(cl:primaries()) do
      assert.truthy(node:cli("FUNCTION LIST"):find("scanhost", 1, true))
    end
  end)
end)
