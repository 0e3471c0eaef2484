-- edge_cancel_dispatcher (spec 30 §8, fixtures §11 C.2) through the test host
-- against a real redis-server with scanhost's library at level 34; idle at 5.
local S = require "spec.helpers.env"
local H = require "spec.helpers.v34"
local V = require "ff.fixtures_v34"

local srv, h

S.suite(function(e) srv, h = e.srv, e.r end, S.SECTION_C)

local function once(name, host) return S.cycle(host or h, name) end

local function phase(c, name)
  return S.hgetall(h, V.core(c, c.ids[name])).lifecycle_phase
end

-- The group after a drain: request fields gone, the rest unchanged.
local function assert_drained(c, group_before)
  local expected = {}
  for k, v in pairs(group_before) do expected[k] = v end
  expected.cancel_siblings_pending_flag, expected.cancel_siblings_pending_members = nil, nil
  assert.same(expected, S.hgetall(h, c.keys.group))
  assert.same({}, S.smembers(h, c.keys.pcg))
end

describe("edge_cancel_dispatcher at level 34 (C.2)", function()
  local D = V.edge_cancel_dispatcher

  it("a page of 20 groups costs the round trips of one group: each step is one pipeline", function()
    S.page_costs_one(h, "edge_cancel_dispatcher", function(i) return D.acting(h, { i = i }) end,
      function(c)
        assert.equal("terminal", phase(c, "E2"))
        assert.same({}, S.smembers(h, c.keys.pcg)) -- every group of the page drained
      end)
  end)

  it("cancels the sibling and drains the group: (1, 0)", function()
    local t0 = S.now(h)
    local c = D.acting(h)
    local before = S.hgetall(h, c.keys.group)
    assert.same({ 1, 0 }, once("edge_cancel_dispatcher"))
    local core = S.hgetall(h, V.core(c, c.ids.E2))
    assert.equal("terminal", core.lifecycle_phase)
    assert.equal("cancelled", core.terminal_outcome)
    assert.equal("sibling_quorum_satisfied", core.cancellation_reason)
    assert.equal("operator_override", core.cancelled_by)
    assert.is_true(S.zset(h, V.lane(c, "terminal"))[c.ids.E2] >= t0)
    assert_drained(c, before)
  end)

  it("no reason field: sibling_quorum_satisfied", function()
    local c = D.reason_absent(h)
    assert.same({ 1, 0 }, once("edge_cancel_dispatcher"))
    assert.equal("sibling_quorum_satisfied",
      S.hgetall(h, V.core(c, c.ids.E2)).cancellation_reason)
  end)

  it("sibling_quorum_impossible is the reason written", function()
    local c = D.impossible_reason(h)
    assert.same({ 1, 0 }, once("edge_cancel_dispatcher"))
    assert.equal("sibling_quorum_impossible",
      S.hgetall(h, V.core(c, c.ids.E2)).cancellation_reason)
  end)

  it("flag and members absent: drained without a cancel: (1, 0)", function()
    local c = D.no_request(h)
    assert.same({ 1, 0 }, once("edge_cancel_dispatcher"))
    assert.equal("runnable", phase(c, "E2"))
    assert.same({}, S.smembers(h, c.keys.pcg))
  end)

  it("no edge group: drained (drained_sans_group): (1, 0)", function()
    local c = D.no_group(h)
    assert.same({ 1, 0 }, once("edge_cancel_dispatcher"))
    assert.equal("runnable", phase(c, "E2"))
    assert.same({}, S.smembers(h, c.keys.pcg))
    assert.is_false(S.exists(h, c.keys.group))
  end)

  it("members empty with the flag: drained, nothing cancelled: (1, 0)", function()
    local c = D.members_empty(h)
    local before = S.hgetall(h, c.keys.group)
    assert.same({ 1, 0 }, once("edge_cancel_dispatcher"))
    assert.equal("runnable", phase(c, "E2"))
    assert_drained(c, before)
  end)

  for _, kind in ipairs({ "flow", "eid", "separator" }) do
    it("malformed member (" .. kind .. ") is removed: (0, 1)", function()
      local c = D.malformed(h, { kind = kind })
      assert.same({ 0, 1 }, once("edge_cancel_dispatcher"))
      assert.same({}, S.smembers(h, c.keys.pcg))
      assert.equal("runnable", phase(c, "E2"))
    end)
  end

  it("a sibling token that is not an eid is not_found; the others cancelled, drained", function()
    local c = D.bad_sibling_token(h)
    assert.same({ 1, 0 }, once("edge_cancel_dispatcher"))
    assert.equal("terminal", phase(c, "E2"))
    assert.same({}, S.smembers(h, c.keys.pcg))
  end)

  it("fix D1: an already terminal sibling counts as such and the group drains: (1, 0)", function()
    local c = D.sibling_terminal(h)
    local core_before = S.hgetall(h, V.core(c, c.ids.E2))
    local before = S.hgetall(h, c.keys.group)
    assert.same({ 1, 0 }, once("edge_cancel_dispatcher"))
    assert.same(core_before, S.hgetall(h, V.core(c, c.ids.E2)))
    assert_drained(c, before)
  end)

  it("fix D1: a sibling whose core is gone is not_found and the group drains: (1, 0)", function()
    local c = D.sibling_absent(h)
    assert.same({ 1, 0 }, once("edge_cancel_dispatcher"))
    assert.same({}, S.smembers(h, c.keys.pcg))
  end)

  it("a sibling cancel that fails keeps the group for the next cycle: (0, 1)", function()
    local c = D.acting(h)
    assert(h:call("DEL", V.core(c, c.ids.E2)))
    assert(h:call("SET", V.core(c, c.ids.E2), "junk")) -- WRONGTYPE pre-read
    local before = S.dump(h)
    assert.same({ 0, 1 }, once("edge_cancel_dispatcher"))
    assert.same(before, S.dump(h))
  end)

  it("fix EC1: more siblings than a cycle takes are all cancelled before the drain", function()
    local fh = H.host(srv, { scanner_config = { edge_cancel_dispatcher = { siblings = 1 } } })
    finally(function() fh:close() end)
    local c = D.acting(h, { group = { cancel_siblings_pending_members = "" } })
    V.runnable(h, c, c.ids.E2)
    V.runnable(h, c, c.ids.U2)
    assert(h:call("HSET", c.keys.group, "cancel_siblings_pending_members",
      c.ids.E2 .. "|" .. c.ids.U2))
    assert.same({ 0, 0 }, once("edge_cancel_dispatcher", fh))
    assert.equal("terminal", phase(c, "E2"))
    assert.equal("runnable", phase(c, "U2"))
    assert.same({ 1, 0 }, once("edge_cancel_dispatcher", fh))
    assert.equal("terminal", phase(c, "U2"))
    assert.same({}, S.smembers(h, c.keys.pcg))
  end)

  it("the filter has no effect (EC3)", function()
    local fh = H.host(srv, { filter = { namespace = "ns2" } })
    finally(function() fh:close() end)
    local c = D.acting(h)
    assert.same({ 1, 0 }, once("edge_cancel_dispatcher", fh))
    assert.equal("terminal", phase(c, "E2"))
  end)
end)

describe("edge_cancel_dispatcher at level 5", function()
  it("is idle: nothing read or written, (0, 0)", function()
    finally(H.use_flowfabric5(h))
    V.edge_cancel_dispatcher.acting(h)
    local before = S.dump(h)
    assert.same({ 0, 0 }, once("edge_cancel_dispatcher"))
    assert.same(before, S.dump(h))
  end)
end)
