-- ff.fixtures_v34 (tests/lua/ff/fixtures_v34.lua): the recipes of spec 30
-- §11 write what §11 says, §11's ids by default, and n / i / lane place
-- independent copies that scanhost's v34 functions act on like the originals.
local S = require "spec.helpers.fb_spec"
local V = require "ff.fixtures_v34"
local F = require "ff.fixtures"
local P = require "ff.partition"
local keys = require "ff.keys"

local NOW = 1713600000000
local srv, h

setup(function() srv, h = S.start() end)
teardown(function() S.stop(srv, h) end)
before_each(function() S.reset(h) end)

describe("ids", function()
  it("are §11's by default", function()
    local I = V.ctx().ids
    assert.same({
      E1 = "{fp:24}:aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", E2 = "{fp:24}:bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb",
      U = "{fp:24}:cccccccc-cccc-4ccc-8ccc-cccccccccccc", U2 = "{fp:24}:ffffffff-ffff-4fff-8fff-ffffffffffff",
      F = "550e8400-e29b-41d4-a716-446655440000", D1 = "dddddddd-dddd-4ddd-8ddd-dddddddddddd",
      D2 = "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee", ns = "ns1",
    }, I)
  end)

  it("n and i give other, valid ids whose flow hashes to the partition", function()
    for _, o in ipairs({ { n = 24, i = 2 }, { n = 7, i = 1 }, { n = 255, i = 3 } }) do
      local c = V.ctx(o)
      assert.equal(o.n, P.flow_partition(c.ids.F, 256))
      for _, e in ipairs({ "E1", "E2", "U", "U2" }) do assert.equal(o.n, P.parse_execution_id(c.ids[e])) end
      assert.truthy(P.uuid_bytes(c.ids.D1))
      assert.are_not.equal(V.ctx().ids.E1, c.ids.E1)
    end
  end)
end)

describe("recipes C.1-C.4", function()
  it("C.1: flow core, pending member, due backlog entry, R(E1)", function()
    local c = V.cancel_reconciler.acting(h)
    local I = c.ids
    assert.same({ flow_id = I.F, public_flow_state = "cancelled", cancel_reason = "user_abort",
      cancellation_policy = "cancel_all" }, S.hgetall(h, c.keys.flow_core))
    assert.same({ I.E1 }, S.smembers(h, c.keys.pending))
    assert.same({ [I.F] = 1000 }, S.zset(h, c.keys.backlog))
    assert.equal("runnable", h:call("HGET", V.core(c, I.E1), "lifecycle_phase"))
    assert.same({ [I.E1] = 1000 }, S.zset(h, V.lane(c, "eligible")))
    S.reset(h)
    c = V.cancel_reconciler.junk_member(h)
    assert.same({ "junk", c.ids.E1 }, S.smembers(h, c.keys.pending)) -- (sorted)
    assert.is_false(S.exists(h, V.core(c, "junk")))
  end)

  it("C.2/C.3: the fired group's request, the tuple and R(E2)", function()
    local c = V.edge_cancel_dispatcher.acting(h)
    assert.same({ V.group_member(c) }, S.smembers(h, c.keys.pcg))
    assert.equal(c.ids.E2, h:call("HGET", c.keys.group, "cancel_siblings_pending_members"))
    S.reset(h)
    c = V.edge_cancel_dispatcher.malformed(h, { kind = "separator" })
    assert.same({ "noseparator" }, S.smembers(h, c.keys.pcg))
    S.reset(h)
    c = V.edge_cancel_dispatcher.bad_sibling_token(h)
    assert.equal(c.ids.E2 .. "|x", h:call("HGET", c.keys.group, "cancel_siblings_pending_members"))
  end)

  it("C.4: the 14 KEYS and 5 ARGV of the v34 call", function()
    local c = V.dependency_reconciler.all_of(h)
    local I = c.ids
    local k, a = V.resolve_call(c, "D1", "U", "success", NOW)
    assert.equal("ff:attempt:{fp:24}:" .. I.E1 .. ":0", k[8])
    assert.equal("ff:exec:{fp:24}:" .. I.U .. ":result", k[11])
    assert.equal("ff:flow:{fp:24}:" .. I.F .. ":edgegroup:" .. I.E1, k[12])
    assert.equal("ff:flow:{fp:24}:" .. I.F .. ":in:" .. I.E1, k[13])
    assert.equal("ff:idx:{fp:24}:pending_cancel_groups", k[14])
    assert.same({ I.D1, "success", tostring(NOW), I.F, I.E1 }, a)
    assert.same({ policy_variant = "all_of", n = "1", succeeded = "0", group_state = "pending" },
      S.hgetall(h, c.keys.group))
  end)

  it("copies side by side (n, i, lane) resolve, cancel and drain like the originals", function()
    local a = V.dependency_reconciler.any_of(h)
    local b = V.dependency_reconciler.any_of(h, { i = 2, lane = "blue" })
    local d = V.dependency_reconciler.any_of(h, { n = 7 })
    for _, c in ipairs({ a, b, d }) do
      local k, args = V.resolve_call(c, "D1", "U", "success", NOW)
      assert.same({ 1, "OK", "satisfied", "" }, h:fcall("ff_resolve_dependency", k, args))
      assert.same({ [c.ids.E1] = 1000 }, S.zset(h, V.lane(c, "eligible")))
      assert.same({ 1, "OK", "cancelled", "active" },
        h:fcall("ff_cancel_execution", V.cancel_call(c, "U2", { lane = c.lane })))
      assert.same({ 1, "OK", "drained", "" }, h:fcall("ff_drain_sibling_cancel_group", V.group_call(c)))
    end
    assert.same({}, S.smembers(h, V.pending_cancel_groups(a)))
    assert.same({}, S.smembers(h, V.pending_cancel_groups(d)))
  end)
end)

describe("recipes C.5 (unblock at v34)", function()
  local function unblock(c, set, reason)
    return h:fcall("ff_unblock_execution", { c.keys.core, c.keys.set, V.lane(c, "eligible") },
      { c.ids.E1, tostring(NOW), reason })
  end

  it("route: namespaced worker caps (a hash), the core's namespace", function()
    local c = V.unblock.route(h)
    assert.same({ "w1" }, S.smembers(h, V.workers_index("ns1")))
    assert.same({ caps_csv = "gpu,linux" }, S.hgetall(h, V.worker_caps("ns1", "w1")))
    assert.equal("ns1", h:call("HGET", c.keys.core, "namespace"))
    assert.same({ 1, "OK", "unblocked" }, unblock(c, "route", "waiting_for_capable_worker"))
  end)

  it("the variants: another namespace, legacy keys only, a STRING caps key", function()
    V.unblock.other_namespace(h)
    assert.same({ caps_csv = "gpu,linux" }, S.hgetall(h, V.worker_caps("ns2", "w1")))
    assert.is_false(S.exists(h, V.workers_index("ns1")))
    S.reset(h)
    V.unblock.legacy_only(h)
    assert.same({ "w1" }, S.smembers(h, keys.WORKERS))
    assert.equal("gpu,linux", h:call("GET", keys.worker_caps("w1")))
    assert.is_false(S.exists(h, V.workers_index("ns1")))
    S.reset(h)
    V.unblock.caps_string(h)
    assert.equal("gpu,linux", h:call("GET", V.worker_caps("ns1", "w1")))
  end)

  it("budget and quota as spec 20 C.1 plus the namespace; unblocked by the function", function()
    local c = V.unblock.budget(h)
    assert.equal(V.B, h:call("HGET", c.keys.core, "budget_ids"))
    assert.same({ tokens = "50" }, S.hgetall(h, keys.budget_usage(V.BTAG, V.B)))
    assert.same({ 1, "OK", "unblocked" }, unblock(c, "budget", "waiting_for_budget"))
    S.reset(h)
    local now = S.now(h)
    c = V.unblock.quota(h, { now = now })
    assert.equal(3, h:call("ZCARD", keys.quota_window(V.QTAG, V.Q)))
    assert.same({ 1, "OK", "unblocked" }, unblock(c, "quota", "waiting_for_quota"))
  end)

  it("no namespace, stale member", function()
    for _, set in ipairs({ "budget", "quota", "route" }) do
      S.reset(h)
      local c = V.unblock.no_namespace(h, { set = set })
      assert.is_nil(S.hgetall(h, c.keys.core).namespace)
      assert.same({ [c.ids.E1] = 1000 }, S.zset(h, c.keys.set))
    end
    S.reset(h)
    local c = V.unblock.stale_member(h)
    assert.same({ c.keys.set }, h:call("KEYS", "*"))
  end)
end)

describe("recipes C.6 (edge cases of the unchanged scanners)", function()
  it("a pending waitpoint entry without its hash, a bad budget id, a junk flow id", function()
    local c = V.edge_cases.pending_wp_missing(h)
    assert.same({ [F.W] = 1000 }, S.zset(h, c.keys.index))
    assert.is_false(S.exists(h, keys.waitpoint(c.tag, F.W)))
    local b = V.edge_cases.budget_reset_bad_id(h)
    assert.same({ ["not-a-uuid"] = 1000 }, S.zset(h, b.keys.index))
    c = V.edge_cases.flow_index_junk(h)
    assert.same({ "junk" }, S.smembers(h, c.keys.index))
  end)

  it("a due lease in namespace ns2, or with none", function()
    local c = V.edge_cases.filtered_lease(h)
    assert.equal("ns2", h:call("HGET", c.keys.core, "namespace"))
    assert.same({ [c.ids.E1] = 1000 }, S.zset(h, keys.lease_expiry(c.tag)))
    S.reset(h)
    c = V.edge_cases.filtered_lease(h, { namespace = false })
    assert.is_false(h:call("HGET", c.keys.core, "namespace"))
  end)
end)
