-- dependency_reconciler at library version 34 (spec 30 §6, fixtures §11 C.4)
-- and 5, through the test host against a real redis-server with scanhost's
-- library at that level; the switch from one to the other while the host runs;
-- the scanner filter (spec 30 §3.4). The 0.1.1 cases of spec 20 §C.3 are in
-- spec/flow_scanners_spec.lua.
local S = require "spec.helpers.env"
local H = require "spec.helpers.v34"
local V = require "ff.fixtures_v34"

local D = V.dependency_reconciler
local srv, h

S.suite(function(e) srv, h = e.srv, e.r end, S.SECTION_C)

local function once(host, name) return S.cycle(host or h, name or "dependency_reconciler") end

local function core(c) return S.hgetall(h, c.keys.core) end
local function group(c) return S.hgetall(h, c.keys.group) end

local function assert_promoted(c)
  local e1 = core(c)
  assert.equal("eligible_now", e1.eligibility_state)
  assert.equal("waiting", e1.public_state)
  assert.equal(1000, S.zset(h, V.lane(c, "eligible"))[c.ids.E1])
  assert.same({}, S.zset(h, V.lane(c, "blocked:dependencies")))
end

local function assert_skipped(c)
  local e1 = core(c)
  assert.equal("terminal", e1.lifecycle_phase)
  assert.equal("skipped", e1.terminal_outcome)
  assert.is_not_nil(S.zset(h, V.lane(c, "terminal"))[c.ids.E1])
end

describe("dependency_reconciler at level 34 (C.4)", function()
  it("a page of 20 children costs the round trips of one: each step is one pipeline", function()
    S.page_costs_one(h, "dependency_reconciler", function(i) return D.all_of(h, { i = i }) end,
      function(c)
        assert.equal("satisfied", group(c).group_state)
        assert.equal("eligible_now", core(c).eligibility_state)
      end)
  end)

  it("AllOf: resolved and the edge group counted: (1, 0)", function()
    local c = D.all_of(h)
    assert.same({ 1, 0 }, once())
    assert_promoted(c)
    assert.equal("satisfied", S.hgetall(h, V.exec(c, c.ids.E1, "dep:" .. c.ids.D1)).state)
    local g = group(c)
    assert.equal("1", g.succeeded)
    assert.equal("satisfied", g.group_state)
  end)

  it("AllOf, upstream failed: child skipped, group impossible: (1, 0)", function()
    local c = D.all_of_impossible(h)
    assert.same({ 1, 0 }, once())
    assert_skipped(c)
    local g = group(c)
    assert.equal("1", g.failed)
    assert.equal("impossible", g.group_state)
  end)

  it("no edge group: as 0.1.1: (1, 0)", function()
    local c = D.no_group(h)
    assert.same({ 1, 0 }, once())
    assert_promoted(c)
    assert.is_false(S.exists(h, c.keys.group))
  end)

  it("fix DR2: a child without flow_id is still resolved (AllOf), no stray key: (1, 0)", function()
    local c = D.no_flow_id(h)
    assert.same({ 1, 0 }, once())
    assert_promoted(c)
    assert.equal("0", group(c).succeeded) -- its group is not addressed without a flow id
    for _, k in ipairs(assert(h:call("KEYS", "*"))) do assert.is_nil(k:find("ff:noop", 1, true), k) end
  end)

  it("fix DR3: an edge id that is not a UUID is resolved as stored: (1, 0)", function()
    local c = D.bad_edge_id(h)
    assert.same({ 1, 0 }, once())
    assert_promoted(c)
    assert.same({}, S.smembers(h, V.exec(c, c.ids.E1, "deps:unresolved")))
  end)

  it("AnyOf + cancel_remaining: satisfied, siblings listed, group queued: (1, 0)", function()
    local t0 = S.now(h)
    local c = D.any_of(h)
    assert.same({ 1, 0 }, once())
    assert_promoted(c)
    assert.equal("satisfied", S.hgetall(h, V.exec(c, c.ids.E1, "dep:" .. c.ids.D1)).state)
    assert.same({ c.ids.D2 }, S.smembers(h, V.exec(c, c.ids.E1, "deps:unresolved")))
    assert.equal("2", S.hgetall(h, V.exec(c, c.ids.E1, "deps:meta")).unsatisfied_required_count)
    local g = group(c)
    assert.equal("1", g.succeeded)
    assert.equal("satisfied", g.group_state)
    assert.is_true(tonumber(g.satisfied_at) >= t0)
    assert.equal("true", g.cancel_siblings_pending_flag)
    assert.equal("sibling_quorum_satisfied", g.cancel_siblings_reason)
    assert.equal(c.ids.U2, g.cancel_siblings_pending_members)
    assert.same({ V.group_member(c) }, S.smembers(h, V.pending_cancel_groups(c)))
  end)

  it("AnyOf + cancel_remaining, then edge_cancel_dispatcher cancels U2 and drains", function()
    local c = D.any_of(h)
    assert.same({ 1, 0 }, once())
    assert.same({ 1, 0 }, once(h, "edge_cancel_dispatcher"))
    local u2 = S.hgetall(h, V.core(c, c.ids.U2))
    assert.equal("terminal", u2.lifecycle_phase)
    assert.equal("sibling_quorum_satisfied", u2.cancellation_reason)
    assert.same({}, S.smembers(h, V.pending_cancel_groups(c)))
    assert.is_nil(group(c).cancel_siblings_pending_flag)
  end)

  it("AnyOf + let_run: satisfied, nothing queued: (1, 0)", function()
    local c = D.any_of_let_run(h)
    assert.same({ 1, 0 }, once())
    assert_promoted(c)
    local g = group(c)
    assert.equal("satisfied", g.group_state)
    assert.is_nil(g.cancel_siblings_pending_flag)
    assert.is_nil(g.cancel_siblings_pending_members)
    assert.same({}, S.smembers(h, V.pending_cancel_groups(c)))
  end)

  it("fix DR1: a quorum left pending has resolved its edge and counts: (1, 0)", function()
    local c = D.quorum_pending(h)
    assert.same({ 1, 0 }, once())
    assert.equal("satisfied", S.hgetall(h, V.exec(c, c.ids.E1, "dep:" .. c.ids.D1)).state)
    local g = group(c)
    assert.equal("1", g.succeeded)
    assert.equal("pending", g.group_state)
    assert.equal(1000, S.zset(h, V.lane(c, "blocked:dependencies"))[c.ids.E1])
  end)

  it("fix DR1: an edge resolved on an already-fired group has been written and counts: (1, 0)", function()
    -- a group cancelled by someone else while its child is still parked: the
    -- function answers already_fired, but it has marked the edge, shrunk the
    -- unresolved set and bumped the counter, so the edge was resolved
    local c = D.any_of(h, { group = { group_state = "cancelled" } })
    assert.same({ 1, 0 }, once())
    assert.equal("satisfied", S.hgetall(h, V.exec(c, c.ids.E1, "dep:" .. c.ids.D1)).state)
    assert.same({ c.ids.D2 }, S.smembers(h, V.exec(c, c.ids.E1, "deps:unresolved")))
    local g = group(c)
    assert.equal("1", g.succeeded)
    assert.equal("cancelled", g.group_state)
    assert.equal(1000, S.zset(h, V.lane(c, "blocked:dependencies"))[c.ids.E1])
    -- the next cycle finds nothing left to resolve on that edge
    assert.same({ 0, 0 }, once())
  end)

  it("AnyOf impossible: child skipped, sibling cancel queued: (1, 0)", function()
    local c = D.any_of_impossible(h)
    assert.same({ 1, 0 }, once())
    assert_skipped(c)
    local g = group(c)
    assert.equal("1", g.failed)
    assert.equal("impossible", g.group_state)
    assert.equal("sibling_quorum_impossible", g.cancel_siblings_reason)
  end)
end)

describe("dependency_reconciler at level 5", function()
  local srv5, h5
  setup(function() srv5, h5 = S.open({ library_level = 5 }) end)
  teardown(function() S.release(srv5, h5) end)

  it("sends 0.1.1's 11-KEY call: resolved, the edge group untouched: (1, 0)", function()
    local c = D.all_of(h5)
    local g0 = S.hgetall(h5, c.keys.group)
    local p, e = h5:once("dependency_reconciler")
    assert.same({ 1, 0 }, { p, e })
    assert.equal("eligible_now", S.hgetall(h5, c.keys.core).eligibility_state)
    assert.same(g0, S.hgetall(h5, c.keys.group))
  end)
end)

describe("dependency_reconciler across a library switch", function()
  it("follows the library loaded under it: 34, then 5, then 34 again", function()
    local c1 = D.any_of(h, { i = 1 })
    assert.same({ 1, 0 }, once())
    assert.equal("1", group(c1).succeeded)
    -- FlowFabric 0.1.1's library replaces scanhost's under the running host
    local restore = H.use_flowfabric5(h)
    local c2 = D.all_of(h, { i = 2 })
    local g2 = S.hgetall(h, c2.keys.group)
    assert.same({ 1, 0 }, once())
    assert.same(g2, S.hgetall(h, c2.keys.group)) -- 11 KEYS: no group touched
    assert.equal("eligible_now", S.hgetall(h, c2.keys.core).eligibility_state)
    restore()
    assert.same({ "scanhost", "34" }, { h:load_library() })
    local c3 = D.all_of(h, { i = 3 })
    assert.same({ 1, 0 }, once())
    assert.equal("satisfied", S.hgetall(h, c3.keys.group).group_state)
  end)
end)

describe("dependency_reconciler under the filter (spec 30 §3.4)", function()
  local function with_filter(f)
    return H.host(srv, { filter = f })
  end

  local function hget_calls()
    local info = assert(h:call("INFO", "commandstats"))
    local n = 0
    for cmd, calls in info:gmatch("cmdstat_(h%a*get):calls=(%d+)") do
      if cmd == "hget" or cmd == "hmget" then n = n + tonumber(calls) end
    end
    return n
  end

  it("namespace ns1 keeps the child: (1, 0)", function()
    local fh = with_filter({ namespace = "ns1" })
    finally(function() fh:close() end)
    D.all_of(h)
    assert.same({ 1, 0 }, once(fh))
  end)

  it("namespace ns2 skips it, nothing changed: (0, 0)", function()
    local fh = with_filter({ namespace = "ns2" })
    finally(function() fh:close() end)
    D.all_of(h)
    local before = S.dump(h)
    assert.same({ 0, 0 }, once(fh))
    assert.same(before, S.dump(h))
  end)

  it("a child without a namespace is skipped (fail-closed): (0, 0)", function()
    local fh = with_filter({ namespace = "ns1" })
    finally(function() fh:close() end)
    D.all_of(h, { fields = { namespace = false } })
    local before = S.dump(h)
    assert.same({ 0, 0 }, once(fh))
    assert.same(before, S.dump(h))
  end)

  it("tag: kept on the exact value, skipped on another or none", function()
    local fh = with_filter({ tag = { key = "team.owner", value = "ops" } })
    finally(function() fh:close() end)
    local c = D.all_of(h)
    local before = S.dump(h)
    assert.same({ 0, 0 }, once(fh)) -- no tags hash
    assert(h:call("HSET", V.exec(c, c.ids.E1, "tags"), "team.owner", "dev"))
    assert.same({ 0, 0 }, once(fh))
    before[V.exec(c, c.ids.E1, "tags")] = { ["team.owner"] = "dev" }
    assert.same(before, S.dump(h))
    assert(h:call("HSET", V.exec(c, c.ids.E1, "tags"), "team.owner", "ops"))
    assert.same({ 1, 0 }, once(fh))
  end)

  it("an error reply skips (fail-closed): (0, 0)", function()
    local fh = with_filter({ tag = { key = "team.owner", value = "ops" } })
    finally(function() fh:close() end)
    local c = D.all_of(h)
    assert(h:call("SET", V.exec(c, c.ids.E1, "tags"), "not-a-hash")) -- WRONGTYPE
    local before = S.dump(h)
    assert.same({ 0, 0 }, once(fh))
    assert.same(before, S.dump(h))
  end)

  it("a bad tag key skips everything without sending a command", function()
    local fh = with_filter({ tag = { key = "Team.owner", value = "ops" } })
    finally(function() fh:close() end)
    local c = D.all_of(h)
    assert(h:call("HSET", V.exec(c, c.ids.E1, "tags"), "Team.owner", "ops"))
    local before, calls = S.dump(h), hget_calls()
    assert.same({ 0, 0 }, once(fh))
    assert.equal(calls, hget_calls())
    assert.same(before, S.dump(h))
  end)
end)
