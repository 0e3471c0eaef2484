-- Issue 14, end to end: several bin/scanhost daemons on one private
-- redis-server share its partitions through claims. Every step waits for data
-- or claim keys with a generous deadline; nothing depends on the machine's
-- speed. (The same tests on a Redis Cluster wait for cluster support, issue 11:
-- every claim key already carries its partition's hash tag.)
local RS = require "spec.helpers.redis_server"
local P = require "tests.integration.helpers.proc"
local FX = require "tests.faults.helpers.fx"
local env_mod = require "spec.helpers.env"
local K = require "ff.keys"
local partition = require "ff.partition"

-- FlowFabric 0.1.1's ff_reset_budget (spec 20 §B.3), literally: no due check.
local FF_RESET = [[#!lua name=flowfabric
redis.register_function('ff_reset_budget', function(keys, args)
  local fields = redis.call('HKEYS', keys[2])
  if #fields > 0 then
    local argv = {}
    for _, f in ipairs(fields) do argv[#argv + 1] = f; argv[#argv + 1] = '0' end
    redis.call('HSET', keys[2], unpack(argv))
  end
  redis.call('HINCRBY', keys[1], 'reset_count', 1)
  redis.call('HSET', keys[1], 'last_reset_at', args[2], 'last_updated_at', args[2],
    'last_breach_at', '', 'last_breach_dim', '')
  local interval = tonumber(redis.call('HGET', keys[1], 'reset_interval_ms') or '0')
  local next_at = 0
  if interval > 0 then
    next_at = tonumber(args[2]) + interval
    redis.call('HSET', keys[1], 'next_reset_at', string.format('%d', next_at))
    redis.call('ZADD', keys[3], next_at, args[1])
  else
    redis.call('ZREM', keys[3], args[1])
  end
  return { 1, 'OK', string.format('%d', next_at) }
end)
]]

-- Budgets by reset_count: { none, once, more than once, usage tokens = 5 }.
local CENSUS = [[
local c = { 0, 0, 0, 0 }
for _, k in ipairs(redis.call('KEYS', 'ff:budget:*')) do
  if k:sub(-6) == ':usage' then
    if redis.call('HGET', k, 'tokens') == '5' then c[4] = c[4] + 1 end
  else
    local n = tonumber(redis.call('HGET', k, 'reset_count'))
    local i = n == 0 and 1 or n == 1 and 2 or 3
    c[i] = c[i] + 1
  end
end
return c]]

-- Records, per partition, every scan: "<instance>:<select cycle>". Its own
-- select() (which does not claim: the host claims what it wants) counts the
-- instance's cycles.
local TICK = [[
return { name = "tick", family = "execution", interval = %s,
  select = function(ctx, partitions)
    local c = ctx.redis:call("HINCRBY", "itest:cycles", ctx.instance_id, 1)
    local want = {}
    for _, p in ipairs(partitions) do want[p] = c end
    return want
  end,
  scan = function(ctx, p, cycle)
    ctx.redis:call("RPUSH", "itest:scans:" .. p, ctx.instance_id .. "|" .. tostring(cycle))
    return 1, 0
  end }
]]

local function load_file(srv, dir, text)
  local path = dir .. "/library.lua"
  P.write(path, text)
  local out = srv:cli("-x FUNCTION LOAD < " .. path)
  assert(not out:find("ERR", 1, true), out)
end

-- calls(srv) -> command -> calls, from INFO commandstats
local function calls(srv)
  local out = {}
  for name, n in srv:cli("INFO commandstats"):gmatch("cmdstat_([%w|_]+):calls=(%d+)") do
    out[name] = tonumber(n)
  end
  return out
end

describe("several scanhost instances", function()
  local srv, dir, procs

  before_each(function()
    srv = RS.start()
    dir = P.tmpdir()
    procs = {}
  end)

  after_each(function()
    for i, p in ipairs(procs) do
      p:stop()
      FX.keep_log(p, "claims-" .. i)
    end
    srv:stop()
    P.sh("rm -rf " .. dir)
  end)

  -- start(n, sdir, conf, extra) -> n daemons, each with its own log; waits
  -- until each logged its instance id (proc.id).
  local function start(n, sdir, conf, extra)
    local out = {}
    for i = 1, n do
      local d = ("%s/d%d"):format(dir, #procs + 1)
      P.sh("mkdir -p " .. d)
      local p = P.start(d, ("-c %s --scanners %s --redis %s %s"):format(conf, sdir, srv.url, extra or ""))
      procs[#procs + 1] = p
      out[i] = p
    end
    for _, p in ipairs(out) do
      assert.truthy(p:wait_log("instance %S+, claims on", 10), "a daemon did not start")
      p.id = p:output():match("instance (%S+), claims on")
    end
    return out
  end

  local function claim_holders(scanner)
    local out = {}
    for k in srv:cli("--scan --pattern 'scanhost:claim:*:" .. scanner .. "'"):gmatch("%S+") do
      out[k] = (srv:cli("GET '" .. k .. "'"):gsub("%s+$", ""))
    end
    return out
  end

  for _, n in ipairs({ 2, 3 }) do
    it(("%d daemons drain one backlog: every item once, duplicate calls bounded"):format(n), function()
      local NP, PER = 32, 200
      local total = NP * PER
      local now = FX.numbers(srv:cli("TIME"))[1] * 1000
      FX.seed_delayed(srv, NP, PER, function() return now - 1000 end, dir)
      -- the per-item functions as FlowFabric's library: one FCALL per item call
      load_file(srv, dir, env_mod.per_item_library())
      local sdir = dir .. "/scanners"
      FX.copy_scanners({ "delayed_promoter" }, sdir)
      local conf = FX.config(dir, "scanners = { delayed_promoter = { interval = 1 } },")
      srv:cli("CONFIG RESETSTAT")
      start(n, sdir, conf, "--partitions " .. NP)
      assert.truthy(P.wait_for(function() return FX.delayed_done(srv, NP, PER) == total end, 60),
        "backlog not drained within 60 s")
      for _, p in ipairs(procs) do assert.equal(0, FX.term(p)) end
      local fcalls = calls(srv).fcall or 0
      print(("# claims: %d daemons, %d items: %d FCALLs (%d beyond one per item)"):format(
        n, total, fcalls, fcalls - total))
      assert.equal(total, FX.delayed_done(srv, NP, PER))
      assert.is_true(fcalls >= total)
      -- duplicates only where a claim lapsed during a long drain: a few pages
      assert.is_true(fcalls - total <= 2 * 500, "duplicate calls: " .. (fcalls - total))
    end)
  end

  it("a daemon killed with SIGKILL: the others take all its partitions within two of their cycles", function()
    local sdir = dir .. "/scanners"
    P.sh("mkdir -p " .. sdir)
    P.write(sdir .. "/tick.lua", TICK:format("1"))
    local conf = FX.config(dir, "")
    local d = start(3, sdir, conf, "--partitions 16")
    local function owner(p)
      local last = srv:cli("LINDEX itest:scans:" .. p .. " -1"):gsub("%s+$", "")
      return last:match("^(.-)|")
    end
    -- every partition scanned; the victim is whoever holds partition 0
    assert.truthy(P.wait_for(function()
      for p = 0, 15 do if not owner(p) then return false end end
      return true
    end, 20), "partitions not all scanned")
    local victim_id = owner(0)
    local victim, survivors = nil, {}
    for _, p in ipairs(d) do
      if p.id == victim_id then victim = p else survivors[#survivors + 1] = p end
    end
    assert.truthy(victim, "no daemon holds partition 0")
    assert.equal(2, #survivors)
    local held = {}
    for p = 0, 15 do if owner(p) == victim_id then held[#held + 1] = p end end
    victim:signal("KILL")
    assert.truthy(P.wait_for(function() return not FX.alive(victim.pid) end, 10), "victim still alive")
    -- from here on the lists hold survivors' scans only; c0: their cycles so far
    local flat = FX.eval(srv, "for p = 0, 15 do redis.call('DEL', 'itest:scans:' .. p) end "
      .. "return redis.call('HGETALL', 'itest:cycles')")
    local c0 = {}
    for id, c in flat:gmatch("(%S+)\n(%d+)") do c0[id] = tonumber(c) end
    c0[victim_id] = nil
    assert.truthy(P.wait_for(function()
      for _, p in ipairs(held) do if not owner(p) then return false end end
      return true
    end, 30), "the victim's partitions were not taken within 30 s")
    local worst = 0
    for _, p in ipairs(held) do
      local first = srv:cli("LINDEX itest:scans:" .. p .. " 0"):gsub("%s+$", "")
      local id, cycle = first:match("^(.-)|(%d+)$")
      assert.truthy(c0[id], "partition " .. p .. " scanned by " .. tostring(id))
      worst = math.max(worst, tonumber(cycle) - c0[id])
    end
    print(("# claims: SIGKILL of the holder of %d partitions: taken by the survivors' cycle +%d at worst"):format(
      #held, worst))
    assert.is_true(worst <= 2, "taken " .. worst .. " cycles after the kill")
    -- and the victim's claims are gone (expired), none left behind
    for _, holder in pairs(claim_holders("tick")) do assert.not_equal(victim_id, holder) end
  end)

  for _, lib in ipairs({ "scanhost", "flowfabric 0.1.1 (no due check)" }) do
    it("two daemons on due budgets: each reset exactly once, no usage lost (" .. lib .. ")", function()
      if lib ~= "scanhost" then load_file(srv, dir, FF_RESET) end
      local NB = 640
      local now = FX.numbers(srv:cli("TIME"))[1] * 1000
      local rec = FX.recorder()
      for i = 1, NB do
        local id = ("00000000-0000-4000-8000-%012d"):format(i)
        local tag = "{b:" .. partition.budget_partition(id, 32) .. "}"
        rec:call("ZADD", K.budget_resets(tag), now - 1000, id)
        rec:call("HSET", K.budget(tag, id), "budget_id", id, "reset_interval_ms", "3600000",
          "reset_count", "0")
        rec:call("HSET", K.budget_usage(tag, id), "tokens", "42")
      end
      FX.pipe(srv, rec, dir)
      local sdir = dir .. "/scanners"
      FX.copy_scanners({ "budget_reset" }, sdir)
      local conf = FX.config(dir, "scanners = { budget_reset = { interval = 1 } },")
      local d = start(2, sdir, conf, "--budget-partitions 32 --log-level debug")
      local function census() return FX.numbers(FX.eval(srv, CENSUS)) end
      assert.truthy(P.wait_for(function() return census()[1] == 0 end, 30),
        "budgets not reset within 30 s")
      -- usage recorded after the reset, then several more cycles of both daemons
      FX.eval(srv, "for _, k in ipairs(redis.call('KEYS', 'ff:budget:*:usage')) do "
        .. "redis.call('HINCRBY', k, 'tokens', 5) end return 0")
      local marks = {}
      for i, p in ipairs(d) do marks[i] = p:count("budget_reset msg=\"scan cycle") end
      assert.truthy(P.wait_for(function()
        for i, p in ipairs(d) do
          if p:count("budget_reset msg=\"scan cycle") < marks[i] + 3 then return false end
        end
        return true
      end, 30), "daemons did not run 3 more cycles")
      local c = census()
      local twice, lost = c[3], NB - c[4]
      assert.equal(0, twice, "budgets reset more than once")
      assert.equal(0, lost, "budgets whose later usage was lost")
    end)
  end

  it("a graceful stop and the end of --once give the claims back", function()
    local sdir = dir .. "/scanners"
    P.sh("mkdir -p " .. sdir)
    P.write(sdir .. "/tick.lua", TICK:format("30")) -- claims live 27 s
    local conf = FX.config(dir, "")
    local d = start(1, sdir, conf, "--partitions 4")
    assert.truthy(P.wait_for(function()
      local n = 0
      for _ in pairs(claim_holders("tick")) do n = n + 1 end
      return n == 4
    end, 10), "claims not taken")
    assert.equal(0, FX.term(d[1]))
    assert.same({}, claim_holders("tick"))
    assert.truthy(d[1]:output():find("claimed=4", 1, true))
    local rc, out = P.run(("-c %s --once --scanners %s --redis %s --partitions 4"):format(conf, sdir, srv.url))
    assert.equal(0, rc, out)
    assert.truthy(out:find("scanner=tick partitions=4 processed=4 skipped=0 errors=0 elapsed_ms=%d+ claimed=4"), out)
    assert.same({}, claim_holders("tick"))
    rc, out = P.run(("-c %s --once --scanners %s --redis %s --partitions 4"):format(conf, sdir, srv.url))
    assert.truthy(out:find("processed=4 skipped=0 errors=0", 1, true), out) -- right away, nothing to wait for
  end)
end)
