-- edge_cancel_reconciler (spec 30 §9, fixtures §11 C.3) through the test host
-- against a real redis-server with scanhost's library at level 34; idle at 5.
local S = require "spec.helpers.env"
local H = require "spec.helpers.v34"
local V = require "ff.fixtures_v34"

local h

S.suite(function(e) h = e.r end, S.SECTION_C)

local function once(name, host) return S.cycle(host or h, name) end

describe("edge_cancel_reconciler at level 34 (C.3)", function()
  local R = V.edge_cancel_reconciler

  local function assert_completed(c)
    local g = S.hgetall(h, c.keys.group)
    assert.is_nil(g.cancel_siblings_pending_flag)
    assert.is_nil(g.cancel_siblings_pending_members)
    assert.equal("sibling_quorum_satisfied", g.cancel_siblings_reason)
    assert.same({}, S.smembers(h, c.keys.pcg))
  end

  it("sibling terminal: completed_drain: (1, 0)", function()
    local c = R.sibling_terminal(h)
    assert.same({ 1, 0 }, once("edge_cancel_reconciler"))
    assert_completed(c)
  end)

  it("sibling core gone: completed_drain: (1, 0)", function()
    local c = R.sibling_absent(h)
    assert.same({ 1, 0 }, once("edge_cancel_reconciler"))
    assert_completed(c)
  end)

  it("sibling running: no_op, nothing written: (0, 0)", function()
    R.acting(h)
    local before = S.dump(h)
    assert.same({ 0, 0 }, once("edge_cancel_reconciler"))
    assert.same(before, S.dump(h))
  end)

  it("flag gone: sremmed_stale, group untouched: (1, 0)", function()
    local c = R.flag_cleared(h)
    local before = S.hgetall(h, c.keys.group)
    assert.same({ 1, 0 }, once("edge_cancel_reconciler"))
    assert.same(before, S.hgetall(h, c.keys.group))
    assert.same({}, S.smembers(h, c.keys.pcg))
  end)

  it("edge group gone: sremmed_stale: (1, 0)", function()
    local c = R.no_group(h)
    assert.same({ 1, 0 }, once("edge_cancel_reconciler"))
    assert.same({}, S.smembers(h, c.keys.pcg))
  end)

  it("flag set, members empty: completed_drain: (1, 0)", function()
    local c = R.members_empty(h)
    assert.same({ 1, 0 }, once("edge_cancel_reconciler"))
    assert_completed(c)
  end)

  it("malformed member is removed: (0, 1)", function()
    local c = R.malformed(h)
    assert.same({ 0, 1 }, once("edge_cancel_reconciler"))
    assert.same({}, S.smembers(h, c.keys.pcg))
  end)

  it("an error reply is an error, nothing removed: (0, 1)", function()
    local c = R.acting(h)
    assert(h:call("DEL", c.keys.group))
    assert(h:call("SET", c.keys.group, "junk")) -- EXISTS yes, HGET WRONGTYPE
    assert.same({ 0, 1 }, once("edge_cancel_reconciler"))
    assert.same({ V.group_member(c) }, S.smembers(h, c.keys.pcg))
  end)
end)

describe("edge_cancel_reconciler at level 5", function()
  it("is idle: nothing read or written, (0, 0)", function()
    finally(H.use_flowfabric5(h))
    V.edge_cancel_dispatcher.sibling_terminal(h)
    local before = S.dump(h)
    assert.same({ 0, 0 }, once("edge_cancel_reconciler"))
    assert.same(before, S.dump(h))
  end)
end)
