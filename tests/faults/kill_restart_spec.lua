-- Case 1: Redis is SIGKILLed and restarted (AOF on, appendfsync always)
-- during a drain of lease_expiry and delayed_promoter items that become due
-- progressively. scanhost must never crash, reconnect after every restart,
-- and leave every item in its final state exactly once: each expired lease
-- has exactly one lease-history entry, each promoted item sits in the
-- eligible set only, nothing is stuck.
local FX = require "tests.faults.helpers.fx"
local P, F = FX.P, FX.F

local TOTAL = FX.pick(3000, 20000)
local KILLS = FX.pick(3, 10)
local NP = FX.pick(30, 50)         -- partitions
local PER = math.floor(TOTAL / NP) -- items per partition (odd i: lease, even i: delayed)
local LEASE, DELAYED = NP * math.ceil(PER / 2), NP * math.floor(PER / 2)
local SPREAD = FX.pick(9000, 60000) -- ms over which items become due (long: room for 10 AOF reloads)

-- Server-side census: lease_ok, lease_bad, extra history entries,
-- delayed_ok, delayed_bad, items not yet due-and-done.
local CENSUS = [[
local np, per = tonumber(ARGV[1]), tonumber(ARGV[2])
local lease_ok, lease_bad, extra, del_ok, del_bad = 0, 0, 0, 0, 0
for n = 0, np - 1 do
  local tag = "{fp:" .. n .. "}"
  local dset = "ff:idx:" .. tag .. ":lane:default:delayed"
  local eset = "ff:idx:" .. tag .. ":lane:default:eligible"
  for i = 1, per do
    local eid = string.format("{fp:%d}:00000000-0000-4000-8000-%012x", n, i)
    local base = "ff:exec:" .. tag .. ":" .. eid
    if i % 2 == 1 then
      local own = redis.call("HGET", base .. ":core", "ownership_state")
      local h = redis.call("XLEN", base .. ":lease:history")
      if own == "lease_expired_reclaimable" and h == 1 then lease_ok = lease_ok + 1
      else lease_bad = lease_bad + 1 end
      if h > 1 then extra = extra + h - 1 end
    else
      local st = redis.call("HMGET", base .. ":core", "eligibility_state", "delay_until",
        "lifecycle_phase", "last_transition_at", "last_mutation_at")
      local in_e = redis.call("ZSCORE", eset, eid)
      local in_d = redis.call("ZSCORE", dset, eid)
      if st[1] == "eligible_now" and st[2] == "" and st[3] == "runnable" and in_e and not in_d
        and st[4] == st[5] then
        del_ok = del_ok + 1
      else
        del_bad = del_bad + 1
      end
    end
  end
end
return { lease_ok, lease_bad, extra, del_ok, del_bad }
]]

describe("fault 1: redis SIGKILLed and restarted during a drain", function()
  local srv, dir, proc

  before_each(function()
    srv = FX.RS.start({ aof = true, fsync = "always" })
    dir = P.tmpdir()
  end)

  after_each(function()
    FX.finish("kill_restart", proc, srv, dir)
    proc = nil
  end)

  it(("drains %d items through %d kills: no crash, no loss, no double transition"):format(TOTAL, KILLS), function()
    local now = FX.numbers(srv:cli("TIME"))[1] * 1000
    -- the kill schedule follows the due times, however long start-up takes
    local t0 = P.now()
    local due_at = FX.spread(now, 1000, SPREAD, NP, PER) -- due from now+1 s over SPREAD ms
    local rec = FX.recorder()
    for n = 0, NP - 1 do
      for i = 1, PER do
        local due = tostring(math.floor(due_at(n, i)))
        if i % 2 == 1 then
          F.lease_expiry.acting(rec, { n = n, i = i, score = due, fields = { lease_expires_at = due } })
        else
          F.delayed_promoter.acting(rec, { n = n, i = i, score = due, fields = { delay_until = due } })
        end
      end
    end
    FX.pipe(srv, rec, dir)
    local sdir = dir .. "/scanners"
    FX.copy_scanners({ "lease_expiry", "delayed_promoter" }, sdir)
    local conf = FX.config(dir, [[
  command_timeout = 2, connect_timeout = 2,
  scanners = { lease_expiry = { interval = 0.3 }, delayed_promoter = { interval = 0.2 } },
]])
    proc = P.start(dir, ("-c %s --log-level debug --scanners %s --redis %s --partitions %d"):format(conf, sdir, srv.url, NP))
    assert.truthy(proc:wait_log("connected to redis at", 10))

    local function census()
      local t = FX.numbers(FX.eval(srv, CENSUS, NP, PER))
      return t[1] or 0, t[2] or 0, t[3] or 0, t[4] or 0, t[5] or 0
    end
    local progress, restart_s = {}, {}
    for k = 1, KILLS do
      -- kill k at k/(KILLS+1) of the due window
      local at = 1 + SPREAD / 1000 * k / (KILLS + 1)
      while P.now() - t0 < at do P.sleep(0.05) end
      -- scanhost reconnected after the previous restart before the next kill
      assert.truthy(P.wait_for(function() return proc:count("connected to redis at") >= k end, 20),
        "no reconnect after restart " .. (k - 1))
      -- and made progress since the previous kill
      assert.truthy(P.wait_for(function()
        local lok, _, _, dok = census()
        progress[k] = lok + dok
        return progress[k] > (progress[k - 1] or 0)
      end, 20), "no progress after restart " .. (k - 1))
      assert.is_true(srv:kill("KILL"))
      assert.truthy(P.wait_for(function() return not FX.alive(srv:pid()) end, 5))
      P.sleep(0.2)
      local r0 = P.now()
      assert.is_true(srv:restart(20))
      restart_s[k] = P.now() - r0
      assert.is_true(FX.alive(proc.pid), "scanhost died at kill " .. k)
    end
    -- every kill fell inside the drain, with progress in between
    for k = 1, KILLS do
      assert.is_true(progress[k] < TOTAL, "kill " .. k .. " came after the drain ended")
      if k > 1 then assert.is_true(progress[k] >= progress[k - 1]) end
    end
    local done = P.wait_for(function()
      local lok, _, _, dok = census()
      return lok + dok == TOTAL
    end, 60)
    local lok, lbad, extra, dok, dbad = census()
    assert.is_true(FX.alive(proc.pid), "scanhost crashed")
    assert.truthy(done, ("stuck items: lease_ok=%d lease_bad=%d extra=%d delayed_ok=%d delayed_bad=%d"):format(
      lok, lbad, extra, dok, dbad))
    assert.are.same({ LEASE, 0, 0, DELAYED, 0 }, { lok, lbad, extra, dok, dbad })
    -- one connection per restart plus the first one
    assert.truthy(P.wait_for(function() return proc:count("connected to redis at") >= KILLS + 1 end, 10))
    assert.are.equal(0, proc:count("double resume") + proc:count("AddressSanitizer"))
    -- issue 9: a transport failure says nothing about an item: nothing went
    -- into backoff, the trackers stayed empty, and no scanner raised
    local out = proc:output()
    assert.are.equal(0, FX.count_lines(out, "persistent failure"), "items put in backoff by the kills")
    assert.are.equal(0, FX.count_lines(out, "raised an error"))
    local tracked, cycles = 0, 0
    for n in out:gmatch('msg="scan cycle[^\n]* tracked=(%d+)') do
      cycles = cycles + 1
      tracked = math.max(tracked, tonumber(n))
    end
    assert.is_true(cycles > 0, "no cycle lines")
    assert.are.equal(0, tracked, "the failure tracker held items")
    local interrupted = FX.count_lines(out, "scan cycle interrupted: the connection to redis was lost")
    assert.are.equal(0, FX.term(proc))
    print(("# fault 1: kills=%d items=%d lease=%d delayed=%d lost=0 double=0 crashes=0 backoff=0 tracked=0 "
      .. "interrupted-cycles=%d progress-at-kills=%s restart-s=%s"):format(
      KILLS, TOTAL, lok, dok, interrupted, table.concat(progress, ","), table.concat(restart_s, ",")))
  end)
end)
