-- Case 5: error replies from Redis while items are due: OOM (maxmemory with
-- noeviction), LOADING (a restart with a slow AOF load), BUSY (a script that
-- never ends), and the function library flushed or replaced while running.
-- Each time the failing items back off (failure tracker: 3 failures, then
-- 10 cycles skipped), nothing is half-applied, and once the condition is
-- lifted every item is promoted exactly once.
local FX = require "tests.faults.helpers.fx"
local P = FX.P

local NP, PER = 8, FX.pick(100, 250)
local TOTAL = NP * PER

describe("fault 5: error replies", function()
  local srv, dir, proc, name

  after_each(function()
    FX.finish("error_replies_" .. tostring(name), proc, srv, dir)
    proc, srv = nil, nil
  end)

  -- items of the first half are due now; the second half is parked an hour
  -- ahead until release() makes it due, so no step depends on how fast the
  -- machine reaches it
  local function seed()
    local now = FX.server_ms(srv)
    FX.seed_delayed(srv, NP, PER, function(n, i)
      if i <= PER / 2 then return now - 1000 end
      return now + 3600000
    end, dir)
  end

  local MAKE_DUE = [[
local np, per = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call("TIME")
local now = tostring(t[1] * 1000 + math.floor(t[2] / 1000))
for n = 0, np - 1 do
  local tag = "{fp:" .. n .. "}"
  for i = per / 2 + 1, per do
    local eid = string.format("{fp:%d}:00000000-0000-4000-8000-%012x", n, i)
    redis.call("HSET", "ff:exec:" .. tag .. ":" .. eid .. ":core", "delay_until", now)
    redis.call("ZADD", "ff:idx:" .. tag .. ":lane:default:delayed", now, eid)
  end
end
return 1]]

  -- release(...): the second half becomes due, atomically with the command
  -- given (a MULTI transaction), e.g. the CONFIG SET that starts a fault
  local function release(...)
    local rec = FX.recorder()
    rec:call("MULTI")
    rec:call("EVAL", MAKE_DUE, 0, NP, PER)
    if select("#", ...) > 0 then rec:call(...) end
    rec:call("EXEC")
    FX.pipe(srv, rec, dir)
  end

  local function start(extra)
    local sdir = dir .. "/scanners"
    FX.copy_scanners({ "delayed_promoter" }, sdir)
    local conf = FX.config(dir, [[
  command_timeout = 2, connect_timeout = 2,
  scanners = { delayed_promoter = { interval = 0.1, batch = 20 } },
]] .. (extra or ""))
    proc = P.start(dir, ("-c %s --scanners %s --redis %s --partitions %d"):format(conf, sdir, srv.url, NP))
    assert.truthy(proc:wait_log("connected to redis at", 10))
  end

  local function half_done()
    return P.wait_for(function() return FX.delayed_done(srv, NP, PER) == TOTAL / 2 end, 10)
  end

  local function all_done()
    return P.wait_for(function() return FX.delayed_done(srv, NP, PER) == TOTAL end, 30)
  end

  -- failures logged for one item must respect the tracker's backoff: at most
  -- 3 failures per 11 cycles (cycles = an upper bound from the elapsed time)
  local function backoff_respected(out, cycles)
    local per_item = {}
    for item in out:gmatch('msg="item failed"[^\n]-item=(%S+)') do
      per_item[item] = (per_item[item] or 0) + 1
    end
    local worst = 0
    for _, c in pairs(per_item) do worst = math.max(worst, c) end
    return worst <= 3 * (math.floor(cycles / 11) + 1), worst
  end

  -- begin(case, server options): a server, the seeded items, scanhost, and
  -- the first half drained
  local function begin(case, opts)
    name = case
    srv = FX.RS.start(opts)
    dir = P.tmpdir()
    seed()
    start()
    assert.truthy(half_done())
  end

  it("OOM: writes refused, items back off, then drain completes", function()
    begin("oom", { maxmemory = "0" })
    -- the second half falls due as the memory limit drops below what is
    -- used: every write is refused
    local used = FX.numbers(srv:cli("INFO memory"):match("used_memory:%d+"))[1]
    release("CONFIG", "SET", "maxmemory", math.floor(used / 2))
    local t0 = P.now()
    P.sleep(3.5)
    local out = proc:output()
    local ooms = FX.count_lines(out, "OOM")
    assert.is_true(ooms > 0, "no OOM error seen")
    assert.are.equal(TOTAL / 2, FX.delayed_done(srv, NP, PER)) -- nothing half-applied
    local cycles = math.ceil((P.now() - t0) / 0.1) + 1
    local ok, worst = backoff_respected(out, cycles)
    assert.is_true(ok, ("an item failed %d times in %d cycles"):format(worst, cycles))
    srv:cli("CONFIG SET maxmemory 0")
    assert.truthy(all_done())
    assert.is_true(FX.alive(proc.pid))
    assert.are.equal(0, FX.term(proc))
    print(("# fault 5 OOM: items=%d, OOM replies=%d over %d cycles, worst item failures=%d, lost=0"):format(
      TOTAL, ooms, cycles, worst))
  end)

  it("BUSY: a script that never ends, then SCRIPT KILL", function()
    begin("busy", { args = "--busy-reply-threshold 100" })
    release()
    local t0 = P.now()
    P.sh(("redis-cli -p %d EVAL 'while true do end' 0 >/dev/null 2>&1 &"):format(srv.port))
    P.sleep(3)
    local out = proc:output()
    local busy = FX.count_lines(out, "BUSY")
    assert.is_true(busy > 0, "no BUSY error seen")
    -- the host pauses new cycles with growing, jittered delays
    local pauses = {}
    for ms in out:gmatch("pausing new cycles for (%d+) ms") do pauses[#pauses + 1] = tonumber(ms) end
    assert.is_true(#pauses >= 3, "no backoff pauses logged: " .. #pauses)
    local distinct = {}
    for _, ms in ipairs(pauses) do distinct[ms] = true end
    local nd = 0
    for _ in pairs(distinct) do nd = nd + 1 end
    assert.is_true(nd >= 2, "pauses without jitter")
    assert.truthy(srv:cli("SCRIPT KILL"):find("OK", 1, true))
    assert.truthy(all_done())
    assert.is_true(FX.alive(proc.pid))
    local cycles = math.ceil((P.now() - t0) / 0.1) + 1
    local ok, worst = backoff_respected(proc:output(), cycles)
    assert.is_true(ok, ("an item failed %d times"):format(worst))
    assert.are.equal(0, FX.term(proc))
    print(("# fault 5 BUSY: items=%d, BUSY-related lines=%d, backoff pauses=%d (%s ms), lost=0"):format(
      TOTAL, busy, #pauses, table.concat(pauses, ",", 1, math.min(#pauses, 6))))
  end)

  it("LOADING: restarted with a slow AOF load, then drain completes", function()
    name = "loading"
    srv = FX.RS.start({ aof = true, args = "--key-load-delay 100" })
    dir = P.tmpdir()
    seed()
    -- filler keys in the AOF base (an RDB preamble, loaded at 100 us a key)
    FX.eval(srv, "for i = 1, 12000 do redis.call('SET', 'filler:' .. i, 'x') end return 1")
    srv:cli("BGREWRITEAOF")
    assert.truthy(P.wait_for(function()
      return srv:cli("INFO persistence"):find("aof_rewrite_in_progress:0", 1, true)
        and srv:cli("INFO persistence"):find("aof_rewrite_scheduled:0", 1, true)
    end, 20))
    start()
    assert.truthy(half_done())
    srv:kill("KILL")
    assert.truthy(P.wait_for(function() return not FX.alive(srv:pid()) end, 5))
    local t0 = P.now()
    assert.is_true(srv:restart(30))
    local load_s = P.now() - t0
    assert.is_true(load_s > 1, "the AOF load was too fast to test LOADING: " .. load_s)
    release()
    assert.truthy(all_done())
    local loading = proc:count("LOADING")
    assert.is_true(loading > 0, "no LOADING reply seen")
    assert.is_true(FX.alive(proc.pid))
    assert.are.equal(0, FX.term(proc))
    print(("# fault 5 LOADING: items=%d, load %.1f s, LOADING lines=%d, lost=0"):format(TOTAL, load_s, loading))
  end)

  it("function library flushed: reloaded once; a foreign library is never replaced", function()
    name = "flush"
    srv = FX.RS.start({})
    dir = P.tmpdir()
    local now = FX.server_ms(srv)
    -- due over 25 s: the drain spans the flush, the foreign library and its removal
    FX.seed_delayed(srv, NP, PER, FX.spread(now, 0, 25000, NP, PER), dir)
    start()
    P.sleep(2)
    assert.is_true(FX.delayed_done(srv, NP, PER) > 0)
    -- 1. flushed: scanhost notices "function not found" and loads its own library once
    srv:cli("FUNCTION FLUSH")
    assert.truthy(proc:wait_log("checking the function library again", 8))
    assert.truthy(P.wait_for(function() return srv:cli("FUNCTION LIST"):find("ff_promote_delayed", 1, true) end, 8))
    P.sleep(1)
    assert.are.equal(2, proc:count("loading scanhost's 'scanhost' version"))
    local mid = FX.delayed_done(srv, NP, PER)
    -- 2. replaced by a foreign library under scanhost's name: left untouched
    srv:cli("FUNCTION FLUSH")
    P.write(dir .. "/foreign.lua", "#!lua name=scanhost\nredis.register_function('foreign_fn', function() return 1 end)")
    srv:cli("-x FUNCTION LOAD < " .. dir .. "/foreign.lua")
    assert.truthy(proc:wait_log("did not create it", 10))
    P.sleep(6)
    local list = srv:cli("FUNCTION LIST")
    assert.truthy(list:find("foreign_fn", 1, true))
    assert.is_nil(list:find("ff_promote_delayed", 1, true))
    local stalled = FX.delayed_done(srv, NP, PER)
    assert.is_true(stalled >= mid)
    -- 3. the foreign library is removed: scanhost's own comes back, drain completes
    srv:cli("FUNCTION DELETE scanhost")
    assert.truthy(P.wait_for(function() return srv:cli("FUNCTION LIST"):find("ff_promote_delayed", 1, true) end, 10))
    assert.truthy(all_done())
    local reloads = proc:count("loading scanhost's 'scanhost' version")
    assert.are.equal(3, reloads)
    -- the re-check is rate limited: far fewer checks than failed calls
    local checks = proc:count("checking the function library again")
    local failures = proc:count('msg="item failed"')
    assert.is_true(checks <= 2 + math.ceil((P.now()) and 25 / 5), "too many library checks: " .. checks)
    assert.is_true(FX.alive(proc.pid))
    assert.are.equal(0, FX.term(proc))
    print(("# fault 5 FUNCTION FLUSH: items=%d, library loads=%d, checks=%d, failed calls=%d, lost=0"):format(
      TOTAL, reloads, checks, failures))
  end)
end)
