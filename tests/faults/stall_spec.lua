-- Case 2: Redis stalled with SIGSTOP for longer than command_timeout, then
-- SIGCONT, several times during a drain. Calls time out (the connection is
-- dropped and re-made), no coroutine is resumed twice or after its timeout
-- (a probe scanner measures every call), processing resumes and every
-- delayed item ends promoted exactly once.
local FX = require "tests.faults.helpers.fx"
local probe = require "tests.faults.helpers.probe"
local P = FX.P

local STALLS = FX.pick(2, 6)
local NP, PER = 8, FX.pick(100, 300)
local TIMEOUT = 0.5

describe("fault 2: redis stalled (SIGSTOP) past command_timeout", function()
  local srv, dir, proc

  before_each(function()
    srv = FX.RS.start({})
    dir = P.tmpdir()
  end)

  after_each(function()
    FX.finish("stall", proc, srv, dir)
    proc = nil
  end)

  it(("%d stalls of 4 x command_timeout: timeouts, no late or double resume, drain complete"):format(STALLS), function()
    local now = FX.numbers(srv:cli("TIME"))[1] * 1000
    local spread = STALLS * 2500
    FX.seed_delayed(srv, NP, PER, FX.spread(now, 500, spread, NP, PER), dir)
    local sdir = dir .. "/scanners"
    FX.copy_scanners({ "delayed_promoter" }, sdir)
    P.write(sdir .. "/probe.lua", probe("probe", TIMEOUT + 0.3, 0.1))
    -- one instance, claims off: the probe's own calls must meet the stalls
    -- (with claims on, the claim pipeline before them would)
    local conf = FX.config(dir, ([[
  command_timeout = %s, connect_timeout = 1, claims = false,
  scanners = { delayed_promoter = { interval = 0.1, batch = 5, batch_min = 5 } },
]]):format(TIMEOUT))
    proc = P.start(dir, ("-c %s --scanners %s --redis %s --partitions %d"):format(conf, sdir, srv.url, NP))
    assert.truthy(proc:wait_log("connected to redis at", 10))
    local t0 = P.now()
    for k = 1, STALLS do
      while P.now() - t0 < k * 2 do P.sleep(0.05) end
      assert.is_true(srv:kill("STOP"))
      P.sleep(TIMEOUT * 4)
      assert.is_true(srv:kill("CONT"))
      assert.is_true(FX.alive(proc.pid), "scanhost died during stall " .. k)
    end
    local total = NP * PER
    assert.truthy(P.wait_for(function() return FX.delayed_done(srv, NP, PER) == total end, 30),
      "items not promoted")
    local promoted = FX.delayed_done(srv, NP, PER)
    assert.are.equal(total, promoted)
    local out = proc:output()
    local timeouts = FX.count_lines(out, "redis command timed out")
    assert.is_true(timeouts >= STALLS, "expected a timeout per stall, saw " .. timeouts)
    assert.are.equal(0, FX.count_lines(out, "PROBE double entry"))
    assert.are.equal(0, FX.count_lines(out, "PROBE late resume"))
    assert.is_true(FX.count_lines(out, "PROBE call failed") >= STALLS)
    -- the probe keeps running after the last stall
    local before = FX.numbers(srv:cli("GET probe:probe:0"))[1]
    assert.truthy(P.wait_for(function() return FX.numbers(srv:cli("GET probe:probe:0"))[1] > before + 3 end, 5))
    assert.are.equal(0, FX.term(proc))
    print(("# fault 2: stalls=%d (%.1f s each, command_timeout=%s) items=%d promoted=%d timeouts=%d late=0 double=0 crashes=0"):format(
      STALLS, TIMEOUT * 4, TIMEOUT, total, promoted, timeouts))
  end)
end)
