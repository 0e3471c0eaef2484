-- cancel_reconciler (spec 30 §7, fixtures §11 C.1) through the test host against
-- a real redis-server with scanhost's library at level 34; idle at level 5.
local S = require "spec.helpers.env"
local H = require "spec.helpers.v34"
local V = require "ff.fixtures_v34"

local srv, h

S.suite(function(e) srv, h = e.srv, e.r end, S.SECTION_C)

local function once(name, host) return S.cycle(host or h, name or "cancel_reconciler") end

local function assert_cancelled(c, eid, reason, t0, attempt_state)
  local core = S.hgetall(h, V.core(c, eid))
  assert.equal("terminal", core.lifecycle_phase)
  assert.equal("cancelled", core.terminal_outcome)
  assert.equal("cancelled", core.public_state)
  assert.equal("not_applicable", core.eligibility_state)
  assert.equal("none", core.blocking_reason)
  assert.equal(attempt_state or "pending_first_attempt", core.attempt_state)
  assert.equal(reason, core.cancellation_reason)
  assert.equal("operator_override", core.cancelled_by)
  assert.is_true(tonumber(core.completed_at) >= t0)
  assert.is_nil(S.zset(h, V.lane(c, "eligible"))[eid])
  assert.is_true(S.zset(h, V.lane(c, "terminal"))[eid] >= t0)
end

describe("cancel_reconciler at level 34 (C.1)", function()
  it("a page of 20 flows costs the round trips of one flow: each step is one pipeline", function()
    S.page_costs_one(h, "cancel_reconciler", function(i)
      return V.cancel_reconciler.acting(h, { i = i })
    end, function(c)
      assert.equal("cancelled", S.hgetall(h, V.core(c, c.ids.E1)).terminal_outcome)
      assert.is_false(S.exists(h, c.keys.pending))
      assert.is_nil(S.zset(h, c.keys.backlog)[c.ids.F])
    end)
  end)

  it("cancels the owed member, acks it and clears the backlog: (1, 0)", function()
    local t0 = S.now(h)
    local c = V.cancel_reconciler.acting(h)
    assert.same({ 1, 0 }, once())
    assert_cancelled(c, c.ids.E1, "user_abort", t0)
    assert.is_false(S.exists(h, c.keys.pending))
    assert.same({}, S.zset(h, c.keys.backlog))
  end)

  it("no cancel_reason: flow_cancelled", function()
    local t0 = S.now(h)
    local c = V.cancel_reconciler.reason_absent(h)
    assert.same({ 1, 0 }, once())
    assert_cancelled(c, c.ids.E1, "flow_cancelled", t0)
  end)

  it("two members: both cancelled, backlog cleared: (2, 0)", function()
    local t0 = S.now(h)
    local c = V.cancel_reconciler.two_members(h)
    assert.same({ 2, 0 }, once())
    assert_cancelled(c, c.ids.E1, "user_abort", t0)
    assert_cancelled(c, c.ids.E2, "user_abort", t0)
    assert.same({}, S.zset(h, c.keys.backlog))
  end)

  it("a backlog entry spelled in upper case is cancelled and removed as spelled: (1, 0)", function()
    local c = V.cancel_reconciler.acting(h, { backlog = V.ctx().ids.F:upper() })
    assert.same({ 1, 0 }, once())
    assert.equal("terminal", S.hgetall(h, V.core(c, c.ids.E1)).lifecycle_phase)
    assert.same({}, S.zset(h, c.keys.backlog))
  end)

  it("not yet due: nothing selected, nothing changed: (0, 0)", function()
    V.cancel_reconciler.not_due(h)
    local before = S.dump(h)
    assert.same({ 0, 0 }, once())
    assert.same(before, S.dump(h))
  end)

  it("flow core gone: pending_cancels deleted, flow dropped: (0, 0)", function()
    local c = V.cancel_reconciler.flow_core_absent(h)
    assert.same({ 0, 0 }, once())
    assert.is_false(S.exists(h, c.keys.pending))
    assert.same({}, S.zset(h, c.keys.backlog))
    assert.equal("runnable", S.hgetall(h, V.core(c, c.ids.E1)).lifecycle_phase)
  end)

  it("nothing owed: flow dropped: (0, 0)", function()
    local c = V.cancel_reconciler.pending_absent(h)
    assert.same({ 0, 0 }, once())
    assert.same({}, S.zset(h, c.keys.backlog))
    assert.equal("runnable", S.hgetall(h, V.core(c, c.ids.E1)).lifecycle_phase)
  end)

  it("a backlog member that is not a flow id is removed: (0, 1)", function()
    local c = V.cancel_reconciler.bad_backlog_member(h)
    assert.same({ 0, 1 }, once())
    assert.same({}, S.zset(h, c.keys.backlog))
    assert.equal("runnable", S.hgetall(h, V.core(c, c.ids.E1)).lifecycle_phase)
  end)

  it("an owed member that is not an execution id is removed, the others cancelled: (1, 1)", function()
    local c = V.cancel_reconciler.junk_member(h)
    assert.same({ 1, 1 }, once())
    assert.is_false(S.exists(h, c.keys.pending))
    assert.same({}, S.zset(h, c.keys.backlog))
  end)

  it("fix D1: an already terminal member is acked, the flow leaves the backlog: (1, 0)", function()
    local c = V.cancel_reconciler.already_terminal(h)
    local core_before = S.hgetall(h, V.core(c, c.ids.E1))
    assert.same({ 1, 0 }, once())
    assert.same(core_before, S.hgetall(h, V.core(c, c.ids.E1)))
    assert.is_false(S.exists(h, c.keys.pending))
    assert.same({}, S.zset(h, c.keys.backlog))
  end)

  it("fix D1: an owed member whose core is gone is acked (not found): (1, 0)", function()
    local c = V.cancel_reconciler.acting(h)
    assert(h:call("DEL", V.core(c, c.ids.E1)))
    assert.same({ 1, 0 }, once())
    assert.is_false(S.exists(h, V.core(c, c.ids.E1)))
    assert.same({}, S.zset(h, c.keys.backlog))
  end)

  it("a member on a waitpoint, a worker and an attempt: the real keys, no stray key", function()
    local t0 = S.now(h)
    local c = V.cancel_reconciler.acting(h, { fields = { current_attempt_index = "2",
      current_worker_instance_id = "wi-1", current_waitpoint_id = "not-a-uuid" } })
    local leases = "ff:idx:" .. c.tag .. ":worker:wi-1:leases"
    assert(h:call("SADD", leases, c.ids.E1))
    assert.same({ 1, 0 }, once())
    assert_cancelled(c, c.ids.E1, "user_abort", t0, "attempt_terminal")
    assert.is_false(S.exists(h, leases))
    for _, k in ipairs(assert(h:call("KEYS", "*"))) do
      assert.is_nil(k:find("::", 1, true), k)
      assert.is_nil(k:find("ff:noop", 1, true), k)
    end
  end)

  it("a member whose core cannot be read stays owed and counts an error: (0, 1)", function()
    local c = V.cancel_reconciler.acting(h)
    -- a WRONGTYPE core makes the pre-read fail: the member is retried
    assert(h:call("DEL", V.core(c, c.ids.E1)))
    assert(h:call("SET", V.core(c, c.ids.E1), "junk"))
    assert.same({ 0, 1 }, once())
    assert.same({ c.ids.E1 }, S.smembers(h, c.keys.pending))
    assert.is_not_nil(S.zset(h, c.keys.backlog)[c.ids.F])
  end)

  it("a failed backlog read is one error for the partition", function()
    local c = V.cancel_reconciler.acting(h)
    assert(h:call("DEL", c.keys.backlog))
    assert(h:call("SET", c.keys.backlog, "junk"))
    local p, e = h:once("cancel_reconciler")
    assert.same({ 0, 1 }, { p, e })
  end)
end)

describe("cancel_reconciler under the filter (spec 30 §3.4)", function()
  local fh
  after_each(function() if fh then fh:close() end fh = nil end)

  it("namespace ns2: the ns1 member is skipped and stays owed: (0, 0)", function()
    fh = H.host(srv, { filter = { namespace = "ns2" } })
    local c = V.cancel_reconciler.acting(h)
    local before = S.dump(h)
    assert.same({ 0, 0 }, once(nil, fh))
    assert.same(before, S.dump(h))
    assert.same({ c.ids.E1 }, S.smembers(h, c.keys.pending))
  end)

  it("namespace ns1: cancelled as without a filter: (1, 0)", function()
    fh = H.host(srv, { filter = { namespace = "ns1" } })
    local c = V.cancel_reconciler.acting(h)
    assert.same({ 1, 0 }, once(nil, fh))
    assert.same({}, S.zset(h, c.keys.backlog))
  end)
end)

describe("cancel_reconciler at level 5", function()
  it("is idle: nothing read or written, (0, 0)", function()
    finally(H.use_flowfabric5(h))
    V.cancel_reconciler.acting(h)
    local before = S.dump(h)
    assert.same({ 0, 0 }, once())
    assert.same(before, S.dump(h))
  end)
end)
