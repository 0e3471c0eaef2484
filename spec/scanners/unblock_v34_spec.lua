-- unblock at library version 34 (spec 30 §5, fixtures §11 C.5) and the
-- namespaced worker caps at 5, through the test host against a real
-- redis-server with scanhost's library at that level; the scanner filter.
-- The 0.1.1 cases of spec 20 §C.1 are in spec/unblock_scanner_spec.lua.
local S = require "spec.helpers.env"
local V = require "ff.fixtures_v34"
local H = require "spec.helpers.v34"

local U = V.unblock
local srv, h

-- A fresh host per test: the caps snapshots live as long as the scanner's state.
before_each(function() srv, h = S.open() end)
after_each(function() S.release(srv, h) end)

local function once(host)
  local p, e = (host or h):once("unblock")
  return { p, e }
end

local function assert_unblocked(c, set)
  assert.equal("eligible_now", S.hgetall(h, c.keys.core).eligibility_state)
  assert.same({}, S.zset(h, V.lane(c, "blocked:" .. set)))
  assert.equal(1000, S.zset(h, V.lane(c, "eligible"))[c.ids.E1])
end

local function assert_blocked(c, before)
  assert.same(before, S.dump(h))
  assert.is_not_nil(S.zset(h, c.keys.set)[c.ids.E1])
end

describe("unblock at level 34 (C.5)", function()
  it("a page of 20 blocked members costs the round trips of one: reads and calls in pipelines", function()
    S.page_costs_one(h, "unblock", function(i) return U.budget(h, { i = i }) end, function(c)
      assert.equal("eligible_now", S.hgetall(h, c.keys.core).eligibility_state)
      assert.equal(1000, S.zset(h, V.lane(c, "eligible"))[c.ids.E1])
    end)
  end)

  it("route: a worker of the execution's namespace clears it: (1, 0)", function()
    local c = U.route(h)
    assert.same({ 1, 0 }, once())
    assert_unblocked(c, "route")
  end)

  it("route: a worker only in another namespace does not: (0, 0)", function()
    local c = U.other_namespace(h)
    local before = S.dump(h)
    assert.same({ 0, 0 }, once())
    assert_blocked(c, before)
  end)

  it("route: the legacy worker keys are not read: (0, 0)", function()
    local c = U.legacy_only(h)
    local before = S.dump(h)
    assert.same({ 0, 0 }, once())
    assert_blocked(c, before)
  end)

  it("route: a STRING caps key (WRONGTYPE) keeps it blocked, an error (fail-closed, U4): (0, 1)", function()
    local c = U.caps_string(h)
    local before = S.dump(h)
    assert.same({ 0, 1 }, once())
    assert_blocked(c, before)
  end)

  it("route: no namespace keeps it blocked, an error every cycle: (0, 1)", function()
    local c = U.no_namespace(h)
    local before = S.dump(h)
    assert.same({ 0, 1 }, once())
    assert.same({ 0, 1 }, once())
    assert_blocked(c, before)
  end)

  it("budget: no namespace needed to clear a budget: (1, 0)", function()
    local c = U.no_namespace(h, { set = "budget", fields = { budget_ids = false } })
    assert.same({ 1, 0 }, once())
    assert_unblocked(c, "budget")
  end)

  it("a stale member (no core) is removed (U2): (0, 0)", function()
    local c = U.stale_member(h)
    assert.same({ 0, 0 }, once())
    assert.same({}, S.zset(h, c.keys.set))
  end)

  it("budget, with a namespace: as 0.1.1: (1, 0)", function()
    local c = U.budget(h)
    assert.same({ 1, 0 }, once())
    assert_unblocked(c, "budget")
  end)

  it("quota, with a namespace: as 0.1.1: (1, 0)", function()
    local c = U.quota(h, { now = S.now(h) })
    assert.same({ 1, 0 }, once())
    assert_unblocked(c, "quota")
  end)

  it("the filter: namespace ns2 skips the member: (0, 0)", function()
    local fh = H.host(srv, { filter = { namespace = "ns2" } })
    finally(function() fh:close() end)
    local c = U.route(h)
    local before = S.dump(h)
    assert.same({ 0, 0 }, once(fh))
    assert_blocked(c, before)
  end)
end)

describe("unblock at level 5", function()
  before_each(function()
    S.release(srv, h)
    srv, h = S.open({ library_level = 5 })
  end)

  it("route: the namespaced worker keys are not read: (0, 0)", function()
    local c = U.route(h)
    local before = S.dump(h)
    assert.same({ 0, 0 }, once())
    assert_blocked(c, before)
  end)

  it("route: the legacy worker keys clear it: (1, 0)", function()
    local c = U.legacy_only(h)
    assert.same({ 1, 0 }, once())
    assert_unblocked(c, "route")
  end)
end)
