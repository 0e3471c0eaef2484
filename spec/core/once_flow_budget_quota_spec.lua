-- End to end: `bin/scanhost --once --only <name>` against a redis-server seeded
-- with each §C main recipe of spec 20 leaves the state §C describes (with the
-- issue-4 improvements), using scanhost's own library as loaded by the daemon.
local S = require "spec.helpers.env"
local FX = require "ff.fixtures_flow"
local I, K = FX.ids, FX.keys

local BIN = "bin/scanhost"
local have_bin = io.open(BIN) ~= nil
local env, srv, h

local function run_once(name)
  -- the daemon's log goes to the server's scratch dir (removed by srv:stop)
  local cmd = string.format("%s --redis %s --only %s --once --log-level error >%s/once.log 2>&1",
    BIN, srv.url, name, srv.dir)
  local rc = os.execute(cmd)
  return rc == 0 or rc == true
end

local describe_bin = have_bin and describe or pending

describe_bin("scanhost --once with the seven flow/budget/quota scanners", function()
  S.suite(function(e) env, srv, h = e, e.srv, e.r end, S.SECTION_C)

  it("unblock moves E1 from blocked:budget to eligible", function()
    FX.unblock_budget(h, S.now(h))
    assert.is_true(run_once("unblock"))
    assert.same({}, S.zset(h, K.lane("blocked:budget")))
    assert.same({ [I.E1] = 1000 }, S.zset(h, K.lane("eligible")))
    assert.equal("eligible_now", h:call("HGET", K.core(I.E1), "eligibility_state"))
  end)

  it("retention_trimmer deletes every key of E1", function()
    FX.retention(h, S.now(h))
    assert.is_true(run_once("retention_trimmer"))
    assert.same({}, S.dump(h))
  end)

  it("dependency_reconciler promotes E1", function()
    FX.dependency(h, S.now(h))
    assert.is_true(run_once("dependency_reconciler"))
    assert.equal("satisfied", h:call("HGET", K.exec(I.E1, "dep:d1"), "state"))
    assert.same({ [I.E1] = 1000 }, S.zset(h, K.lane("eligible")))
  end)

  it("flow_projector writes the summary", function()
    FX.flow(h, S.now(h))
    assert.is_true(run_once("flow_projector"))
    local s = S.hgetall(h, K.flow("summary"))
    assert.equal("running", s.public_flow_state)
    assert.equal("2", s.total_members)
    assert.equal("2", s.sampled_members)
  end)

  it("budget_reset resets B and reschedules it", function()
    local now = S.now(h)
    FX.budget_reset(h, now)
    assert.is_true(run_once("budget_reset"))
    assert.same({ tokens = "0", cost_cents = "0" }, S.hgetall(h, K.budget("usage")))
    assert.same({ [I.B] = now - 1000 + 3600000 }, S.zset(h, K.budget_resets()))
  end)

  it("budget_reconciler marks the breach", function()
    FX.budget_reconcile(h, S.now(h))
    assert.is_true(run_once("budget_reconciler"))
    assert.is_not_nil(S.hgetall(h, K.budget("usage")).breached_at)
  end)

  it("quota_reconciler trims and recounts", function()
    FX.quota_reconcile(h, S.now(h))
    assert.is_true(run_once("quota_reconciler"))
    assert.same({ I.E2 }, S.smembers(h, K.quota("admitted_set")))
    assert.equal("1", h:call("GET", K.quota("concurrency")))
  end)
end)
