-- scanhost's own function library at FlowFabric v34 level (spec 30 §10),
-- against a real redis-server: the library level (5 | 34) and ff_version, both
-- shapes of ff_resolve_dependency and every edge-group policy, the cancel and
-- sibling-cancel functions, the producers, v34's additions to the expire
-- functions, the batch twins, and the 0.1.1 behaviour kept at level 5. Each
-- case is built with ff.fixtures_v34 (spec 30 §11) unless it says otherwise.
local S = require "spec.helpers.env"
local L = require "spec.helpers.library_source"
local V = require "ff.fixtures_v34"
local FX = require "ff.fixtures_flow"
local keys = require "ff.keys"
local json = require "ff.json"

local NOW = 1713600000000
local env, srv, h

S.suite(function(e) env, srv, h = e, e.srv, e.r end, S.SECTION_C)

local function fcall(name, k, a) return h:fcall(name, k, a) end

local function resolve(c, edge, up, outcome, now)
  local k, a = V.resolve_call(c, edge, up, outcome, now or NOW)
  return fcall("ff_resolve_dependency", k, a)
end

-- Registered function names of the loaded "scanhost" library, sorted.
local function functions()
  local r = assert(h:call("FUNCTION", "LIST", "LIBRARYNAME", "scanhost"))
  local names = {}
  for i = 1, #r[1], 2 do
    if r[1][i] == "functions" then
      for _, f in ipairs(r[1][i + 1]) do
        for j = 1, #f, 2 do
          if f[j] == "name" then names[#names + 1] = f[j + 1] end
        end
      end
    end
  end
  table.sort(names)
  return names
end

-- A subscriber to ff:dag:completions (redis-cli in the background). Its
-- messages() are the payloads published up to now, decoded: a sentinel is
-- published and awaited (bounded poll), so what precedes it is complete.
local function subscriber()
  local file = os.tmpname()
  local p = assert(io.popen(("redis-cli %s SUBSCRIBE %s > %s 2>&1 & echo $!")
    :format(srv:cli_args(), keys.COMPLETIONS_CHANNEL, file)))
  local pid = p:read("*l")
  p:close()
  local sub = { sentinels = 0 }
  local function wait(cond, what)
    for _ = 1, 400 do
      if cond() then return end
      os.execute("sleep 0.025")
    end
    error("subscriber: timed out waiting for " .. what)
  end
  wait(function()
    local r = h:call("PUBSUB", "NUMSUB", keys.COMPLETIONS_CHANNEL)
    return r and tonumber(r[2]) == 1
  end, "the subscription")
  local function payloads()
    local f = assert(io.open(file))
    local lines = {}
    for line in f:lines() do lines[#lines + 1] = line end
    f:close()
    local out = {}
    for i = 1, #lines - 2 do
      if lines[i] == "message" and lines[i + 1] == keys.COMPLETIONS_CHANNEL then out[#out + 1] = lines[i + 2] end
    end
    return out
  end
  function sub.messages()
    sub.sentinels = sub.sentinels + 1
    local mark = "sentinel-" .. sub.sentinels
    assert(h:call("PUBLISH", keys.COMPLETIONS_CHANNEL, mark))
    local got
    wait(function()
      got = payloads()
      return got[#got] == mark
    end, "the sentinel message")
    local out = {}
    for _, m in ipairs(got) do
      if not m:find("^sentinel%-") then
        local v = json.decode(m)
        out[#out + 1] = { execution_id = v.execution_id, flow_id = v.flow_id, outcome = v.outcome }
      end
    end
    return out
  end
  function sub.stop()
    os.execute("kill " .. pid .. " 2>/dev/null")
    os.remove(file)
  end
  return sub
end

local sub
before_each(function() sub = subscriber() end)
after_each(function() sub.stop() end)

-- A server timestamp written by a function is integer ms text within [t0, t1].
local function assert_now(v, t0, t1)
  assert.is_truthy(tostring(v):match("^%d+$"), "not integer ms: " .. tostring(v))
  assert.is_true(tonumber(v) >= t0 and tonumber(v) <= t1, "not a server now: " .. tostring(v))
end

-- The call refuses and the keyspace is exactly as before.
local function assert_refused(expected, fn)
  local before = S.dump(h)
  assert.same(expected, fn())
  assert.same(before, S.dump(h))
end

-- ---------------------------------------------------------------------------
describe("library level", function()
  local V05 = {
    "ff_close_waitpoint", "ff_close_waitpoint_batch", "ff_expire_execution",
    "ff_expire_execution_batch", "ff_expire_suspension", "ff_expire_suspension_batch",
    "ff_mark_lease_expired_if_due", "ff_mark_lease_expired_if_due_batch", "ff_promote_delayed",
    "ff_promote_delayed_batch", "ff_reset_budget", "ff_reset_budget_batch",
    "ff_resolve_dependency", "ff_resolve_dependency_batch", "ff_unblock_execution",
    "ff_unblock_execution_batch", "ff_version",
  }
  local V34 = {
    "ff_ack_cancel_member", "ff_ack_cancel_member_batch", "ff_cancel_execution",
    "ff_cancel_execution_batch", "ff_cancel_flow", "ff_drain_sibling_cancel_group",
    "ff_drain_sibling_cancel_group_batch", "ff_reconcile_sibling_cancel_group",
    "ff_reconcile_sibling_cancel_group_batch", "ff_set_edge_group_policy",
  }

  it("the library the C loader builds is level 34: ff_version and every function", function()
    assert.equal("scanhost", h:load_library())
    assert.equal("34", fcall("ff_version", {}, {}))
    local all = {}
    for _, n in ipairs(V05) do all[#all + 1] = n end
    for _, n in ipairs(V34) do all[#all + 1] = n end
    table.sort(all)
    assert.same(all, functions())
  end)

  it("level 5: ff_version 5, only the 0.1.1 functions", function()
    assert(L.load(h, "5"))
    finally(function() assert(L.load(h, "34")) end)
    assert.equal("5", fcall("ff_version", {}, {}))
    assert.same(V05, functions())
    -- (through redis-cli: the host would take the error for a flushed library)
    assert.matches("Function not found", srv:cli("FCALL ff_cancel_flow 0"))
  end)

  it("the level line the loader rewrites is one line, once, in the first file", function()
    local body = L.body()
    local n = 0
    for _ in body:gmatch("\nlocal FF_LIBRARY_LEVEL = \"34\"\n") do n = n + 1 end
    assert.equal(1, n)
    assert.equal(1, select(2, body:gsub("FF_LIBRARY_LEVEL%s*=[^=]", "")))
    local f = assert(io.open(L.DIR .. "/00-common.lua"))
    assert.truthy(f:read("*a"):find(L.LEVEL_LINE, 1, true))
    f:close()
  end)

  it("any other level refuses to load, naming the fix", function()
    local r, err = h:call("FUNCTION", "LOAD", L.source("7", "scanhost_level7"))
    assert.is_nil(r)
    assert.matches("FF_LIBRARY_LEVEL_must_be_5_or_34", err)
    assert.equal("34", fcall("ff_version", {}, {}))
  end)
end)

-- ---------------------------------------------------------------------------
describe("level 5 keeps the 0.1.1 behaviour", function()
  setup(function() assert(L.load(h, "5")) end)
  teardown(function() assert(L.load(h, "34")) end)

  it("a 14-KEY resolve is a 0.1.1 resolve: the edge group is not read or written (V2)", function()
    local c = V.dependency_reconciler.any_of(h)
    local group = S.hgetall(h, c.keys.group)
    assert.same({ 1, "OK", "satisfied", "" }, resolve(c, "D1", "U", "success"))
    assert.same(group, S.hgetall(h, c.keys.group))
    assert.equal("1", h:call("HGET", keys.exec(c.tag, c.ids.E1, "deps:meta"), "unsatisfied_required_count"))
    assert.equal("blocked_by_dependencies", h:call("HGET", c.keys.core, "eligibility_state"))
    assert.same({}, S.smembers(h, V.pending_cancel_groups(c)))
  end)

  it("the expire functions neither PUBLISH nor touch v34's suspension keys", function()
    local F = require "ff.fixtures"
    local e = F.attempt_timeout.active(h, { fields = { flow_id = "f1" } })
    assert.same({ 1, "OK", "expired", "active" }, fcall("ff_expire_execution", {
      keys.core(e.tag, e.eid), keys.attempt(e.tag, e.eid, 0), keys.stream_meta(e.tag, e.eid, 0),
      keys.lease_current(e.tag, e.eid), keys.lease_history(e.tag, e.eid), keys.lease_expiry(e.tag),
      keys.worker_leases(e.tag, "wi1"), keys.lane(e.tag, "default", "active"),
      keys.lane(e.tag, "default", "terminal"), keys.attempt_timeout(e.tag),
      keys.execution_deadline(e.tag), keys.lane(e.tag, "default", "suspended"),
      keys.suspension_timeout(e.tag), keys.suspension_current(e.tag, e.eid),
    }, { e.eid, "attempt_timeout" }))
    local s = F.suspension_timeout.acting(h, { i = 2, fields = { flow_id = "f1" },
      suspension = { additional_waitpoints_json = '[{"waitpoint_id":"x1"}]' } })
    local susp = keys.suspension_current(s.tag, s.eid)
    h:call("SADD", susp .. ":satisfied_set", "m")
    h:call("HSET", keys.waitpoint(s.tag, "x1"), "state", "active")
    assert.same({ 1, "OK", "fail", "failed" }, fcall("ff_expire_suspension", {
      keys.core(s.tag, s.eid), susp, keys.waitpoint(s.tag, s.wid), keys.waitpoint_condition(s.tag, s.wid),
      keys.attempt(s.tag, s.eid, 0), keys.stream_meta(s.tag, s.eid, 0), keys.suspension_timeout(s.tag),
      keys.lane(s.tag, "default", "suspended"), keys.lane(s.tag, "default", "terminal"),
      keys.lane(s.tag, "default", "eligible"), keys.lane(s.tag, "default", "delayed"),
      keys.lease_history(s.tag, s.eid),
    }, { s.eid }))
    assert.same({}, sub.messages())
    assert.same({ "m" }, S.smembers(h, susp .. ":satisfied_set"))
    assert.equal("active", h:call("HGET", keys.waitpoint(s.tag, "x1"), "state"))
  end)

  it("an 11-KEY resolve writes the same at levels 5 and 34 and never PUBLISHes", function()
    local I, K = FX.ids, FX.keys
    local k11 = {
      K.core(I.E1), K.exec(I.E1, "deps:meta"), K.exec(I.E1, "deps:unresolved"),
      K.exec(I.E1, "dep:d1"), K.lane("eligible"), K.lane("terminal"), K.lane("blocked:dependencies"),
      keys.attempt(I.tag, I.E1, 0), keys.stream_meta(I.tag, I.E1, 0), K.exec(I.E1, "payload"),
      K.exec(I.U, "result"),
    }
    local cases = {
      { outcome = "success", opts = {} },
      { outcome = "failed", opts = { core = { flow_id = I.F } } },
      { outcome = "success", opts = { data_passing_ref = "r1", upstream_result = "out" } },
    }
    for _, case in ipairs(cases) do
      local out = {}
      for _, level in ipairs({ "5", "34" }) do
        assert(L.load(h, level))
        env:flush()
        FX.dependency(h, NOW, case.opts)
        local reply = fcall("ff_resolve_dependency", k11, { "d1", case.outcome, tostring(NOW) })
        out[level] = { reply = reply, dump = S.dump(h) }
      end
      assert(L.load(h, "5"))
      assert.same(out["5"], out["34"])
      assert.equal(1, out["5"].reply[1])
    end
    assert.same({}, sub.messages())
  end)
end)

-- ---------------------------------------------------------------------------
describe("ff_resolve_dependency, v34 shape: AllOf", function()
  it("success: the 0.1.1 writes plus succeeded 1 and group_state satisfied (C.4)", function()
    local c = V.dependency_reconciler.all_of(h)
    local I = c.ids
    local k, a = V.resolve_call(c, "D1", "U", "success", NOW)
    assert.equal(14, #k)
    assert.same({ I.D1, "success", tostring(NOW), I.F, I.E1 }, a)
    assert.same({ 1, "OK", "satisfied", "" }, fcall("ff_resolve_dependency", k, a))
    assert.same({ policy_variant = "all_of", n = "1", succeeded = "1", group_state = "satisfied" },
      S.hgetall(h, c.keys.group))
    local dep = S.hgetall(h, keys.dep(c.tag, I.E1, I.D1))
    assert.equal("satisfied", dep.state)
    assert.equal(tostring(NOW), dep.last_resolved_at)
    assert.same({}, S.smembers(h, keys.exec(c.tag, I.E1, "deps:unresolved")))
    assert.same({ unsatisfied_required_count = "0", last_dependency_update_at = tostring(NOW) },
      S.hgetall(h, keys.exec(c.tag, I.E1, "deps:meta")))
    local core = S.hgetall(h, c.keys.core)
    assert.equal("eligible_now", core.eligibility_state)
    assert.equal("waiting", core.public_state)
    assert.same({}, S.zset(h, V.lane(c, "blocked:dependencies")))
    assert.same({ [I.E1] = 1000 }, S.zset(h, V.lane(c, "eligible")))
    assert.same({}, sub.messages())
  end)

  it("impossible: the child is skipped, failed 1, group impossible, skipped PUBLISHed (C.4)", function()
    local c = V.dependency_reconciler.all_of_impossible(h)
    local I = c.ids
    assert.same({ 1, "OK", "impossible", "child_skipped" }, resolve(c, "D1", "U", "failed"))
    local g = S.hgetall(h, c.keys.group)
    assert.equal("1", g.failed)
    assert.equal("impossible", g.group_state)
    local core = S.hgetall(h, c.keys.core)
    assert.equal("terminal", core.lifecycle_phase)
    assert.equal("skipped", core.terminal_outcome)
    assert.equal(tostring(NOW), core.completed_at)
    assert.same({ unsatisfied_required_count = "0", impossible_required_count = "1",
      last_dependency_update_at = tostring(NOW) }, S.hgetall(h, keys.exec(c.tag, I.E1, "deps:meta")))
    assert.same({ [I.E1] = NOW }, S.zset(h, V.lane(c, "terminal")))
    assert.same({ { execution_id = I.E1, flow_id = I.F, outcome = "skipped" } }, sub.messages())
  end)

  it("without a group (edges older than v18): exactly the 0.1.1 writes", function()
    local c = V.dependency_reconciler.no_group(h)
    assert.same({ 1, "OK", "satisfied", "" }, resolve(c, "D1", "U", "success"))
    assert.is_false(S.exists(h, c.keys.group))
    assert.same({ [c.ids.E1] = 1000 }, S.zset(h, V.lane(c, "eligible")))
  end)

  it("KEYS 13 and 14 may be missing: a 12-KEY call", function()
    local c = V.dependency_reconciler.all_of(h)
    local k, a = V.resolve_call(c, "D1", "U", "success", NOW)
    k[13], k[14] = nil, nil
    assert.same({ 1, "OK", "satisfied", "" }, fcall("ff_resolve_dependency", k, a))
    assert.equal("satisfied", h:call("HGET", c.keys.group, "group_state"))
  end)

  it("a success with edges left counts succeeded and leaves the group pending", function()
    local c = V.dependency_reconciler.all_of(h, { group = { n = "2" } })
    h:call("HSET", keys.exec(c.tag, c.ids.E1, "deps:meta"), "unsatisfied_required_count", "2")
    assert.same({ 1, "OK", "satisfied", "" }, resolve(c, "D1", "U", "success"))
    assert.same({ policy_variant = "all_of", n = "2", succeeded = "1", group_state = "pending" },
      S.hgetall(h, c.keys.group))
    assert.equal("blocked_by_dependencies", h:call("HGET", c.keys.core, "eligibility_state"))
  end)

  it("scanhost: a group that fired impossible stays impossible when its last edge succeeds", function()
    -- v34 writes group_state satisfied once unsatisfied_required_count reaches 0,
    -- also after an impossible edge consumed the other count
    local c = V.dependency_reconciler.all_of(h, { group = { n = "2", failed = "1",
      group_state = "impossible" } })
    assert.same({ 1, "OK", "satisfied", "" }, resolve(c, "D1", "U", "success"))
    local g = S.hgetall(h, c.keys.group)
    assert.equal("impossible", g.group_state)
    assert.equal("1", g.succeeded)
  end)
end)

-- ---------------------------------------------------------------------------
describe("ff_resolve_dependency, v34 shape: AnyOf / Quorum", function()
  it("AnyOf + cancel_remaining: promoted, the running sibling listed, the group indexed (C.4)", function()
    local c = V.dependency_reconciler.any_of(h)
    local I = c.ids
    assert.same({ 1, "OK", "satisfied", "" }, resolve(c, "D1", "U", "success"))
    assert.equal("satisfied", h:call("HGET", keys.dep(c.tag, I.E1, I.D1), "state"))
    assert.same({ I.D2 }, S.smembers(h, keys.exec(c.tag, I.E1, "deps:unresolved")))
    assert.same({ unsatisfied_required_count = "2" }, S.hgetall(h, keys.exec(c.tag, I.E1, "deps:meta")))
    assert.same({
      policy_variant = "any_of", on_satisfied = "cancel_remaining", k = "0", n = "2",
      succeeded = "1", failed = "0", skipped = "0", group_state = "satisfied",
      satisfied_at = tostring(NOW), cancel_siblings_pending_flag = "true",
      cancel_siblings_reason = "sibling_quorum_satisfied", cancel_siblings_pending_members = I.U2,
    }, S.hgetall(h, c.keys.group))
    assert.same({ V.group_member(c) }, S.smembers(h, V.pending_cancel_groups(c)))
    local core = S.hgetall(h, c.keys.core)
    assert.equal("eligible_now", core.eligibility_state)
    assert.equal("waiting", core.public_state)
    assert.same({ [I.E1] = 1000 }, S.zset(h, V.lane(c, "eligible")))
    assert.same({}, S.zset(h, V.lane(c, "blocked:dependencies")))
  end)

  it("AnyOf + let_run: satisfied, no sibling request and no index entry", function()
    local c = V.dependency_reconciler.any_of_let_run(h)
    assert.same({ 1, "OK", "satisfied", "" }, resolve(c, "D1", "U", "success"))
    local g = S.hgetall(h, c.keys.group)
    assert.equal("satisfied", g.group_state)
    assert.is_nil(g.cancel_siblings_pending_flag)
    assert.is_nil(g.cancel_siblings_reason)
    assert.is_nil(g.cancel_siblings_pending_members)
    assert.same({}, S.smembers(h, V.pending_cancel_groups(c)))
    assert.equal("eligible_now", h:call("HGET", c.keys.core, "eligibility_state"))
  end)

  it("Quorum pending: the edge and its counter are written, the child stays blocked (C.4)", function()
    local c = V.dependency_reconciler.quorum_pending(h)
    assert.same({ 1, "OK", "pending", "" }, resolve(c, "D1", "U", "success"))
    local g = S.hgetall(h, c.keys.group)
    assert.equal("1", g.succeeded)
    assert.equal("pending", g.group_state)
    assert.equal("satisfied", h:call("HGET", keys.dep(c.tag, c.ids.E1, c.ids.D1), "state"))
    assert.equal("blocked_by_dependencies", h:call("HGET", c.keys.core, "eligibility_state"))
  end)

  it("AnyOf impossible: group impossible, sibling_quorum_impossible, child skipped and PUBLISHed (C.4)", function()
    local c = V.dependency_reconciler.any_of_impossible(h)
    local I = c.ids
    assert.same({ 1, "OK", "impossible", "child_skipped" }, resolve(c, "D1", "U", "failed"))
    local g = S.hgetall(h, c.keys.group)
    assert.equal("1", g.failed)
    assert.equal("impossible", g.group_state)
    assert.equal("sibling_quorum_impossible", g.cancel_siblings_reason)
    assert.equal("", g.cancel_siblings_pending_members) -- its only upstream is terminal
    assert.same({ V.group_member(c) }, S.smembers(h, V.pending_cancel_groups(c)))
    assert.equal("skipped", h:call("HGET", c.keys.core, "terminal_outcome"))
    assert.same({ [I.E1] = NOW }, S.zset(h, V.lane(c, "terminal")))
    assert.same({ { execution_id = I.E1, flow_id = I.F, outcome = "skipped" } }, sub.messages())
  end)

  it("Quorum 2 of 2: satisfied at the second success", function()
    local c = V.dependency_reconciler.quorum_pending(h)
    assert.same({ 1, "OK", "pending", "" }, resolve(c, "D1", "U", "success"))
    h:call("HSET", V.core(c, c.ids.U2), "lifecycle_phase", "terminal", "terminal_outcome", "success")
    assert.same({ 1, "OK", "satisfied", "" }, resolve(c, "D2", "U2", "success"))
    local g = S.hgetall(h, c.keys.group)
    assert.equal("2", g.succeeded)
    assert.equal("satisfied", g.group_state)
    assert.equal("", g.cancel_siblings_pending_members)
    assert.equal("eligible_now", h:call("HGET", c.keys.core, "eligibility_state"))
  end)

  it("Quorum 2 of 2: one skipped upstream makes it impossible (skipped counts apart)", function()
    local c = V.dependency_reconciler.quorum_pending(h, { outcome = "skipped" })
    assert.same({ 1, "OK", "impossible", "child_skipped" }, resolve(c, "D1", "U", "skipped"))
    local g = S.hgetall(h, c.keys.group)
    assert.equal("1", g.skipped)
    assert.equal("0", g.failed)
    assert.equal("impossible", g.group_state)
    assert.equal("impossible", h:call("HGET", keys.dep(c.tag, c.ids.E1, c.ids.D1), "state"))
    -- U2 is still active: listed for cancellation
    assert.equal(c.ids.U2, g.cancel_siblings_pending_members)
  end)

  it("AnyOf of 2: one failure is pending, the second failure impossible", function()
    local c = V.dependency_reconciler.any_of(h, { outcome = "failed" })
    assert.same({ 1, "OK", "pending", "" }, resolve(c, "D1", "U", "failed"))
    h:call("HSET", V.core(c, c.ids.U2), "lifecycle_phase", "terminal", "terminal_outcome", "expired")
    assert.same({ 1, "OK", "impossible", "child_skipped" }, resolve(c, "D2", "U2", "expired"))
    assert.equal("2", h:call("HGET", c.keys.group, "failed"))
  end)

  it("a fired group only counts the edge (already_fired), the child is left alone", function()
    local c = V.dependency_reconciler.any_of(h, { group = { group_state = "satisfied", succeeded = "0" } })
    local core = S.hgetall(h, c.keys.core)
    assert.same({ 1, "OK", "already_fired", "" }, resolve(c, "D1", "U", "success"))
    assert.equal("1", h:call("HGET", c.keys.group, "succeeded"))
    assert.equal("satisfied", h:call("HGET", keys.dep(c.tag, c.ids.E1, c.ids.D1), "state"))
    assert.same(core, S.hgetall(h, c.keys.core))
    assert.same({}, S.smembers(h, V.pending_cancel_groups(c)))
  end)

  it("a satisfied group passes the upstream's result on", function()
    local c = V.dependency_reconciler.any_of(h)
    h:call("HSET", keys.dep(c.tag, c.ids.E1, c.ids.D1), "data_passing_ref", "r1")
    h:call("SET", V.exec(c, c.ids.U, "result"), "out")
    assert.same({ 1, "OK", "satisfied", "data_injected" }, resolve(c, "D1", "U", "success"))
    assert.equal("out", h:call("GET", V.exec(c, c.ids.E1, "payload")))
  end)

  it("the child core gone: the group still fires, nothing else", function()
    local c = V.dependency_reconciler.any_of(h)
    h:call("DEL", c.keys.core)
    assert.same({ 1, "OK", "satisfied", "" }, resolve(c, "D1", "U", "success"))
    assert.equal("satisfied", h:call("HGET", c.keys.group, "group_state"))
    assert.is_false(S.exists(h, c.keys.core))
  end)

  it("a second call changes nothing, for every policy and outcome", function()
    local cases = {
      { V.dependency_reconciler.all_of, "success" }, { V.dependency_reconciler.all_of_impossible, "failed" },
      { V.dependency_reconciler.any_of, "success" }, { V.dependency_reconciler.any_of_let_run, "success" },
      { V.dependency_reconciler.quorum_pending, "success" },
      { V.dependency_reconciler.any_of_impossible, "failed" },
    }
    for _, case in ipairs(cases) do
      env:flush()
      local c = case[1](h)
      local first = resolve(c, "D1", "U", case[2])
      assert.equal(1, first[1])
      local after = S.dump(h)
      assert.same({ 1, "OK", "already_resolved" }, resolve(c, "D1", "U", case[2], NOW + 5))
      assert.same(after, S.dump(h))
    end
  end)
end)

-- ---------------------------------------------------------------------------
describe("ff_resolve_dependency, v34 shape: refusals before any write", function()
  local function refused(expected, build, edit)
    env:flush()
    local c = build(h)
    if edit then edit(c) end
    local k, a = V.resolve_call(c, "D1", "U", "success", NOW)
    assert_refused(expected, function() return fcall("ff_resolve_dependency", k, a) end)
    return c
  end
  local any_of, all_of = V.dependency_reconciler.any_of, V.dependency_reconciler.all_of

  it("counters that would exceed n: invariant_violation (scanhost: nothing written)", function()
    refused({ 0, "invariant_violation", "edgegroup counters exceed n: 3/2" }, any_of, function(c)
      h:call("HSET", c.keys.group, "failed", "2")
    end)
  end)

  it("a counter, n or k that is not a non-negative integer: invalid_state", function()
    for _, f in ipairs({ "n", "succeeded", "failed", "skipped" }) do
      for _, bad in ipairs({ "", "x!", "-1", ("9"):rep(40), "1.5" }) do
        refused({ 0, "invalid_state", f }, any_of, function(c) h:call("HSET", c.keys.group, f, bad) end)
      end
    end
    refused({ 0, "invalid_state", "k" }, any_of, function(c)
      h:call("HSET", c.keys.group, "policy_variant", "quorum", "k", "two")
    end)
    refused({ 0, "invalid_state", "succeeded" }, all_of, function(c)
      h:call("HSET", c.keys.group, "succeeded", "x")
    end)
  end)

  it("an unknown policy_variant: invalid_state (v34 would run it as AllOf)", function()
    refused({ 0, "invalid_state", "policy_variant" }, any_of, function(c)
      h:call("HSET", c.keys.group, "policy_variant", "most_of")
    end)
  end)

  it("ARGV 4/5 that do not name the child's group: invalid_input", function()
    for _, edit in ipairs({
      function(_, a) a[5] = a[5] .. "x" end,
      function(_, a) a[4] = "66666666-6666-4666-8666-666666666666" end,
      function(k) k[12] = k[12] .. "x" end,
    }) do
      env:flush()
      local c = any_of(h)
      local k, a = V.resolve_call(c, "D1", "U", "success", NOW)
      edit(k, a)
      assert_refused({ 0, "invalid_input", "downstream_eid" },
        function() return fcall("ff_resolve_dependency", k, a) end)
    end
  end)

  it("a key of another type than the one written: invalid_state naming it", function()
    refused({ 0, "invalid_state", "ff:idx:{fp:24}:pending_cancel_groups" }, any_of, function(c)
      h:call("SET", V.pending_cancel_groups(c), "x")
    end)
    refused({ 0, "invalid_state", "ff:idx:{fp:24}:lane:default:eligible" }, all_of, function(c)
      h:call("RPUSH", V.lane(c, "eligible"), "x")
    end)
  end)

  it("a bad now_ms, a missing dep record, a corrupt execution_id: refused", function()
    env:flush()
    local c = any_of(h)
    local k, a = V.resolve_call(c, "D1", "U", "success", NOW)
    a[3] = "soon"
    assert_refused({ 0, "invalid_argument", "now_ms" }, function() return fcall("ff_resolve_dependency", k, a) end)
    refused({ 0, "invalid_dependency" }, any_of, function(cc) h:call("DEL", keys.dep(cc.tag, cc.ids.E1, cc.ids.D1)) end)
    refused({ 0, "invalid_state", "execution_id" }, any_of, function(cc)
      h:call("HSET", cc.keys.core, "execution_id", cc.ids.E2)
    end)
    refused({ 0, "invalid_state", "created_at" }, any_of, function(cc)
      h:call("HSET", cc.keys.core, "created_at", "soon")
    end)
  end)
end)

-- ---------------------------------------------------------------------------
describe("ff_cancel_execution", function()
  local function cancel(c, eid, o) return fcall("ff_cancel_execution", V.cancel_call(c, eid, o)) end

  it("cancels a runnable flow member (C.1)", function()
    local c = V.ctx()
    local I = c.ids
    V.runnable(h, c, I.E1)
    local t0 = S.now(h)
    assert.same({ 1, "OK", "cancelled", "runnable" }, cancel(c, "E1"))
    local t1 = S.now(h)
    local core = S.hgetall(h, V.core(c, I.E1))
    assert_now(core.completed_at, t0, t1)
    for _, f in ipairs({ "last_transition_at", "last_mutation_at" }) do assert.equal(core.completed_at, core[f]) end
    for f, v in pairs({
      lifecycle_phase = "terminal", terminal_outcome = "cancelled", public_state = "cancelled",
      eligibility_state = "not_applicable", blocking_reason = "none", blocking_detail = "",
      ownership_state = "unowned", attempt_state = "pending_first_attempt",
      cancellation_reason = "user_abort", cancelled_by = "operator_override", current_lease_id = "",
      current_worker_instance_id = "", current_waitpoint_id = "", current_suspension_id = "",
    }) do
      assert.equal(v, core[f], f)
    end
    assert.same({}, S.zset(h, V.lane(c, "eligible")))
    assert.same({ [I.E1] = tonumber(core.completed_at) }, S.zset(h, V.lane(c, "terminal")))
    assert.same({ { execution_id = I.E1, flow_id = I.F, outcome = "cancelled" } }, sub.messages())
  end)

  it("an active execution: attempt ended, stream closed, lease released, out of every index", function()
    local F = require "ff.fixtures"
    local e = F.attempt_timeout.active(h, { eid = V.ctx().ids.E1, fields = { current_attempt_id = "A1" } })
    h:call("HSET", keys.stream_meta(e.tag, e.eid, 0), "x", "y")
    h:call("ZADD", keys.idx(e.tag, "suspension_timeout"), 1, e.eid)
    local c = V.ctx()
    assert.same({ 1, "OK", "cancelled", "active" }, cancel(c, "E1", { wiid = "wi1", reason = "stop" }))
    local att = S.hgetall(h, keys.attempt(e.tag, e.eid, 0))
    assert.equal("ended_cancelled", att.attempt_state)
    assert.equal("cancelled: stop", att.failure_reason)
    assert.equal("attempt_cancelled", h:call("HGET", keys.stream_meta(e.tag, e.eid, 0), "closed_reason"))
    assert.is_false(S.exists(h, keys.lease_current(e.tag, e.eid)))
    local hist = h:call("XRANGE", keys.lease_history(e.tag, e.eid), "-", "+")
    assert.equal(1, #hist)
    local ev = {}
    for i = 1, #hist[1][2], 2 do ev[hist[1][2][i]] = hist[1][2][i + 1] end
    assert.same({ event = "released", lease_id = "L1", lease_epoch = "1", attempt_index = "0",
      reason = "cancelled", ts = ev.ts }, ev)
    for _, set in ipairs({ keys.lease_expiry(e.tag), keys.attempt_timeout(e.tag), keys.execution_deadline(e.tag),
      keys.lane(e.tag, "default", "active"), keys.idx(e.tag, "suspension_timeout") }) do
      assert.same({}, S.zset(h, set), set)
    end
    assert.same({}, S.smembers(h, keys.worker_leases(e.tag, "wi1")))
    assert.equal("attempt_terminal", h:call("HGET", keys.core(e.tag, e.eid), "attempt_state"))
    assert.same({}, sub.messages()) -- not a flow member
  end)

  it("a suspended execution: suspension, waitpoints and multi-signal state closed", function()
    local F = require "ff.fixtures"
    local c = V.ctx()
    local s = F.suspension_timeout.acting(h, { eid = c.ids.E1, fields = { flow_id = c.ids.F },
      suspension = { additional_waitpoints_json = '[{"waitpoint_id":"x1","waitpoint_key":"k"},'
        .. '{"waitpoint_id":"x2"},{"waitpoint_id":"x3"}]' } })
    local susp = keys.suspension_current(s.tag, s.eid)
    h:call("HSET", keys.waitpoint_condition(s.tag, s.wid), "closed", "0")
    h:call("HSET", keys.waitpoint(s.tag, "x1"), "state", "active", "execution_id", s.eid)
    h:call("HSET", keys.waitpoint_condition(s.tag, "x1"), "closed", "0")
    h:call("HSET", keys.waitpoint(s.tag, "x2"), "state", "active", "execution_id", c.ids.E2) -- foreign
    h:call("SADD", susp .. ":satisfied_set", "m")
    h:call("SADD", susp .. ":satisfied_set:signals", "s")
    h:call("HSET", susp .. ":member_map", "a", "b")
    assert.same({ 1, "OK", "cancelled", "suspended" }, cancel(c, "E1", { wp = s.wid, reason = "r" }))
    assert.equal("cancelled", h:call("HGET", susp, "close_reason"))
    for _, wp in ipairs({ s.wid, "x1" }) do
      assert.equal("closed", h:call("HGET", keys.waitpoint(s.tag, wp), "state"))
      assert.equal("cancelled", h:call("HGET", keys.waitpoint(s.tag, wp), "close_reason"))
      assert.equal("1", h:call("HGET", keys.waitpoint_condition(s.tag, wp), "closed"))
    end
    assert.equal("active", h:call("HGET", keys.waitpoint(s.tag, "x2"), "state"))
    assert.is_false(S.exists(h, keys.waitpoint(s.tag, "x3")))
    for _, k in ipairs({ ":satisfied_set", ":satisfied_set:signals", ":member_map" }) do
      assert.is_false(S.exists(h, susp .. k))
    end
    assert.same({}, S.zset(h, keys.lane(s.tag, "default", "suspended")))
    assert.same({}, S.zset(h, keys.suspension_timeout(s.tag)))
    assert.same({ { execution_id = c.ids.E1, flow_id = c.ids.F, outcome = "cancelled" } }, sub.messages())
  end)

  it("already terminal: execution_not_active with the record's details; a second cancel changes nothing", function()
    local c = V.ctx()
    V.runnable(h, c, c.ids.E1)
    assert.equal(1, cancel(c, "E1")[1])
    h:call("HSET", V.core(c, c.ids.E1), "current_lease_epoch", "3", "current_attempt_id", "A7")
    assert_refused({ 0, "execution_not_active", "cancelled", "3", "terminal", "A7" },
      function() return cancel(c, "E1") end)
    assert_refused({ 0, "execution_not_found" }, function() return cancel(c, "E2") end)
  end)

  it("a lease holder's own cancel is fenced; operator_override is not", function()
    local c = V.ctx()
    V.runnable(h, c, c.ids.E1, { lifecycle_phase = "active", ownership_state = "leased",
      current_lease_id = "L1", current_lease_epoch = "2" })
    assert_refused({ 0, "stale_lease" }, function()
      return cancel(c, "E1", { source = "lease_holder", lease_id = "L1", epoch = "1" })
    end)
    assert_refused({ 0, "stale_lease" }, function()
      return cancel(c, "E1", { source = "lease_holder", lease_id = "L0", epoch = "2" })
    end)
    h:call("HSET", V.core(c, c.ids.E1), "ownership_state", "lease_revoked")
    assert_refused({ 0, "lease_revoked" }, function() return cancel(c, "E1", { source = "lease_holder" }) end)
    h:call("HSET", V.core(c, c.ids.E1), "ownership_state", "leased")
    assert.same({ 1, "OK", "cancelled", "active" },
      cancel(c, "E1", { source = "lease_holder", lease_id = "L1", epoch = "2" }))
  end)

  it("source flow_cascade does not PUBLISH; an empty source is recorded as the execution id", function()
    local c = V.ctx()
    V.runnable(h, c, c.ids.E1)
    V.runnable(h, c, c.ids.E2)
    assert.equal(1, cancel(c, "E1", { source = "flow_cascade" })[1])
    assert.equal(1, cancel(c, "E2", { source = "" })[1])
    assert.equal(c.ids.E2, h:call("HGET", V.core(c, c.ids.E2), "cancelled_by"))
    assert.same({ { execution_id = c.ids.E2, flow_id = c.ids.F, outcome = "cancelled" } }, sub.messages())
  end)

  it("refuses before any write: a foreign execution id, a wrong-type key, a malformed extras list", function()
    local c = V.ctx()
    V.runnable(h, c, c.ids.E1)
    local k, a = V.cancel_call(c, "E1")
    a[1] = c.ids.E2
    assert_refused({ 0, "invalid_input", "execution_id" }, function() return fcall("ff_cancel_execution", k, a) end)
    h:call("SET", V.lane(c, "blocked:route"), "x")
    assert_refused({ 0, "invalid_state", V.lane(c, "blocked:route") }, function() return cancel(c, "E1") end)
    env:flush()
    local F = require "ff.fixtures"
    F.suspension_timeout.acting(h, { eid = c.ids.E1, suspension = { additional_waitpoints_json = "[{" } })
    assert_refused({ 0, "invalid_state", "additional_waitpoints_json" }, function() return cancel(c, "E1") end)
  end)
end)

-- ---------------------------------------------------------------------------
describe("ff_ack_cancel_member", function()
  local function ack(c, eid) return fcall("ff_ack_cancel_member", V.ack_call(c, eid)) end

  it("removes the member; the last ack takes the flow out of the backlog (C.1, two members)", function()
    local c = V.cancel_reconciler.two_members(h)
    assert.same({ 1, "OK" }, ack(c, "E1"))
    assert.same({ c.ids.E2 }, S.smembers(h, c.keys.pending))
    assert.same({ [c.ids.F] = 1000 }, S.zset(h, c.keys.backlog))
    assert.same({ 1, "OK" }, ack(c, "E2"))
    assert.is_false(S.exists(h, c.keys.pending))
    assert.same({}, S.zset(h, c.keys.backlog))
    -- a second ack changes nothing
    assert_refused({ 1, "OK" }, function() return ack(c, "E2") end)
  end)

  it("a flow whose pending set is already gone just leaves the backlog", function()
    local c = V.cancel_reconciler.pending_absent(h)
    assert.same({ 1, "OK" }, ack(c, "E1"))
    assert.same({}, S.zset(h, c.keys.backlog))
  end)

  it("refuses empty ids and wrong-type keys before any write", function()
    local c = V.cancel_reconciler.acting(h)
    assert_refused({ 0, "invalid_input", "execution_id" }, function()
      return fcall("ff_ack_cancel_member", { c.keys.pending, c.keys.backlog }, { "", c.ids.F })
    end)
    assert_refused({ 0, "invalid_input", "flow_id" }, function()
      return fcall("ff_ack_cancel_member", { c.keys.pending, c.keys.backlog }, { c.ids.E1, "" })
    end)
    h:call("DEL", c.keys.backlog)
    h:call("SET", c.keys.backlog, "x")
    assert_refused({ 0, "invalid_state", c.keys.backlog }, function() return ack(c, "E1") end)
  end)
end)

-- ---------------------------------------------------------------------------
describe("ff_drain_sibling_cancel_group", function()
  local function drain(c) return fcall("ff_drain_sibling_cancel_group", V.group_call(c)) end

  it("drains the tuple and the request, keeps the rest of the group (C.2)", function()
    local c = V.edge_cancel_dispatcher.acting(h)
    local g = S.hgetall(h, c.keys.group)
    assert.same({ 1, "OK", "drained", "" }, drain(c))
    assert.same({}, S.smembers(h, c.keys.pcg))
    g.cancel_siblings_pending_flag, g.cancel_siblings_pending_members = nil, nil
    assert.same(g, S.hgetall(h, c.keys.group))
    assert_refused({ 1, "OK", "already_drained", "" }, function() return drain(c) end)
  end)

  it("a group that is gone: drained_sans_group", function()
    local c = V.edge_cancel_dispatcher.no_group(h)
    assert.same({ 1, "OK", "drained_sans_group", "" }, drain(c))
    assert.same({}, S.smembers(h, c.keys.pcg))
  end)

  it("refuses missing ids, a group key the tuple does not name, wrong types", function()
    local c = V.edge_cancel_dispatcher.acting(h)
    assert_refused({ 0, "invalid_args", "flow_id and downstream_eid required" }, function()
      return fcall("ff_drain_sibling_cancel_group", { c.keys.pcg, c.keys.group }, { c.ids.F, "" })
    end)
    assert_refused({ 0, "invalid_input", "edgegroup" }, function()
      return fcall("ff_drain_sibling_cancel_group", { c.keys.pcg, V.edgegroup(c, c.ids.E2) },
        { c.ids.F, c.ids.E1 })
    end)
    h:call("DEL", c.keys.pcg)
    h:call("RPUSH", c.keys.pcg, "x")
    assert_refused({ 0, "invalid_state", c.keys.pcg }, function() return drain(c) end)
  end)
end)

-- ---------------------------------------------------------------------------
describe("ff_reconcile_sibling_cancel_group", function()
  local function reconcile(c) return fcall("ff_reconcile_sibling_cancel_group", V.group_call(c)) end
  local R = V.edge_cancel_reconciler

  local function assert_completed(c)
    local g = S.hgetall(h, c.keys.group)
    assert.same({ 1, "OK", "completed_drain", "" }, reconcile(c))
    g.cancel_siblings_pending_flag, g.cancel_siblings_pending_members = nil, nil
    assert.same(g, S.hgetall(h, c.keys.group))
    assert.same({}, S.smembers(h, c.keys.pcg))
    assert_refused({ 1, "OK", "no_op", "not_in_set" }, function() return reconcile(c) end)
  end

  it("every sibling terminal, or gone, or none listed: completed_drain (C.3)", function()
    for _, recipe in ipairs({ R.sibling_terminal, R.sibling_absent, R.members_empty }) do
      env:flush()
      assert_completed(recipe(h))
    end
  end)

  it("a sibling still running: no_op, nothing written (C.3)", function()
    local c = R.acting(h)
    assert_refused({ 1, "OK", "no_op", "siblings_running" }, function() return reconcile(c) end)
  end)

  it("a cleared flag or a missing group: the stale tuple goes, the group stays (C.3)", function()
    local c = R.flag_cleared(h)
    local g = S.hgetall(h, c.keys.group)
    assert.same({ 1, "OK", "sremmed_stale", "flag_cleared" }, reconcile(c))
    assert.same(g, S.hgetall(h, c.keys.group))
    assert.same({}, S.smembers(h, c.keys.pcg))
    env:flush()
    c = R.no_group(h)
    assert.same({ 1, "OK", "sremmed_stale", "missing_edgegroup" }, reconcile(c))
    assert.same({}, S.smembers(h, c.keys.pcg))
  end)

  it("refuses like the drain", function()
    local c = R.acting(h)
    assert_refused({ 0, "invalid_args", "flow_id and downstream_eid required" }, function()
      return fcall("ff_reconcile_sibling_cancel_group", { c.keys.pcg, c.keys.group }, { "", c.ids.E1 })
    end)
    assert_refused({ 0, "invalid_input", "edgegroup" }, function()
      return fcall("ff_reconcile_sibling_cancel_group", { c.keys.pcg, c.keys.group }, { c.ids.F, c.ids.E2 })
    end)
  end)
end)

-- ---------------------------------------------------------------------------
describe("ff_set_edge_group_policy", function()
  local function setup_flow()
    local c = V.ctx()
    h:call("HSET", V.flow(c, "core"), "flow_id", c.ids.F, "public_flow_state", "open")
    return c
  end
  local function set(c, variant, on_sat, k, now)
    return fcall("ff_set_edge_group_policy", { V.flow(c, "core"), V.edgegroup(c) },
      { variant, on_sat, k, now or tostring(NOW) })
  end

  it("writes the policy with zeroed counters; a restate is already_set", function()
    local c = setup_flow()
    assert.same({ 1, "OK", "set" }, set(c, "quorum", "cancel_remaining", "2"))
    assert.same({ policy_variant = "quorum", on_satisfied = "cancel_remaining", k = "2", n = "0",
      succeeded = "0", failed = "0", skipped = "0", group_state = "pending", created_at = tostring(NOW) },
      S.hgetall(h, V.edgegroup(c)))
    assert_refused({ 1, "OK", "already_set" }, function() return set(c, "quorum", "let_run", "3") end)
    env:flush()
    c = setup_flow()
    assert.same({ 1, "OK", "set" }, set(c, "any_of", "let_run", ""))
    assert.equal("0", h:call("HGET", V.edgegroup(c), "k"))
    env:flush()
    c = setup_flow()
    assert.same({ 1, "OK", "set" }, set(c, "all_of", "", ""))
  end)

  it("refuses what v34 refuses, and a bad k or now_ms, before any write", function()
    local c = setup_flow()
    local function no(expected, ...)
      local args = { ... }
      assert_refused(expected, function() return set(c, unpack(args)) end)
    end
    no({ 0, "invalid_input", "unsupported_policy_variant: most_of" }, "most_of", "let_run", "1")
    no({ 0, "invalid_input", "quorum k must be >= 1" }, "quorum", "let_run", "0")
    no({ 0, "invalid_input", "quorum k must be an integer >= 1" }, "quorum", "let_run", "1.5")
    no({ 0, "invalid_input", "on_satisfied required for any_of/quorum: cancel_remaining | let_run" },
      "any_of", "", "1")
    no({ 0, "invalid_input", "now_ms" }, "any_of", "let_run", "1", "later")
    h:call("HSET", V.edgegroup(c), "policy_variant", "all_of", "n", "1")
    no({ 0, "invalid_input", "edge_group_policy_already_fixed: dependencies already staged" },
      "any_of", "let_run", "1")
    h:call("HSET", V.edgegroup(c), "n", "x")
    no({ 0, "invalid_state", "n" }, "any_of", "let_run", "1")
    h:call("DEL", V.flow(c, "core"))
    no({ 0, "flow_not_found" }, "any_of", "let_run", "1")
  end)

  it("a policy set before the edges drives the resolution (AnyOf + cancel_remaining)", function()
    local c = V.dependency_reconciler.any_of(h)
    h:call("DEL", c.keys.group)
    h:call("HSET", V.flow(c, "core"), "flow_id", c.ids.F, "public_flow_state", "open")
    assert.same({ 1, "OK", "set" }, set(c, "any_of", "cancel_remaining", "1"))
    h:call("HINCRBY", c.keys.group, "n", 2) -- what ff_apply_dependency_to_child does per edge
    assert.same({ 1, "OK", "satisfied", "" }, resolve(c, "D1", "U", "success"))
    assert.equal(c.ids.U2, h:call("HGET", c.keys.group, "cancel_siblings_pending_members"))
  end)
end)

-- ---------------------------------------------------------------------------
describe("ff_cancel_flow", function()
  local function build(members)
    local c = V.ctx()
    h:call("HSET", V.flow(c, "core"), "flow_id", c.ids.F, "public_flow_state", "open")
    for _, m in ipairs(members or {}) do h:call("SADD", V.flow(c, "members"), c.ids[m]) end
    return c
  end
  local function cancel_flow(c, policy, grace, fid)
    return fcall("ff_cancel_flow", { V.flow(c, "core"), V.flow(c, "members"), keys.flow_index(c.tag),
      V.pending_cancels(c), V.cancel_backlog(c) }, { fid or c.ids.F, "user_abort", policy, "0", grace })
  end

  it("cancel_all: the flow is cancelled and its members owed a cancel after the grace", function()
    local c = build({ "E1", "E2" })
    local t0 = S.now(h)
    local r = cancel_flow(c, "cancel_all", "60000")
    local t1 = S.now(h)
    assert.same({ 1, "OK", "cancel_all" }, { r[1], r[2], r[3] })
    local members = { r[4], r[5] }
    table.sort(members)
    assert.same({ c.ids.E1, c.ids.E2 }, members)
    assert.equal(5, #r)
    local core = S.hgetall(h, V.flow(c, "core"))
    assert.equal("cancelled", core.public_flow_state)
    assert.equal("user_abort", core.cancel_reason)
    assert.equal("cancel_all", core.cancellation_policy)
    assert_now(core.cancelled_at, t0, t1)
    assert.same({ c.ids.E1, c.ids.E2 }, S.smembers(h, V.pending_cancels(c)))
    assert.same({ [c.ids.F] = tonumber(core.cancelled_at) + 60000 }, S.zset(h, V.cancel_backlog(c)))
    assert_refused({ 0, "flow_already_terminal" }, function() return cancel_flow(c, "cancel_all", "") end)
  end)

  it("the whole C.1 chain: cancel_flow, each member cancelled and acked, the backlog cleared", function()
    local c = build({ "E1", "E2" })
    V.runnable(h, c, c.ids.E1)
    V.runnable(h, c, c.ids.E2)
    assert.equal(1, cancel_flow(c, "cancel_all", "0")[1])
    for _, m in ipairs({ "E1", "E2" }) do
      assert.same({ 1, "OK", "cancelled", "runnable" }, fcall("ff_cancel_execution", V.cancel_call(c, m)))
      assert.same({ 1, "OK" }, fcall("ff_ack_cancel_member", V.ack_call(c, m)))
    end
    assert.same({}, S.zset(h, V.cancel_backlog(c)))
    assert.is_false(S.exists(h, V.pending_cancels(c)))
    assert.equal(2, #sub.messages())
  end)

  it("another policy, or no members: no backlog; the default grace is 30 s", function()
    local c = build({ "E1" })
    assert.same({ 1, "OK", "cancel_flow_only", c.ids.E1 }, cancel_flow(c, "cancel_flow_only", ""))
    assert.same({}, S.zset(h, V.cancel_backlog(c)))
    env:flush()
    c = build({})
    assert.same({ 1, "OK", "cancel_all" }, cancel_flow(c, "cancel_all", ""))
    assert.same({}, S.zset(h, V.cancel_backlog(c)))
    env:flush()
    c = build({ "E1" })
    cancel_flow(c, "cancel_all", nil)
    local at = tonumber(h:call("HGET", V.flow(c, "core"), "cancelled_at"))
    assert.same({ [c.ids.F] = at + 30000 }, S.zset(h, V.cancel_backlog(c)))
  end)

  it("refuses a bad grace, a missing flow, a flow id that is not the keys' flow", function()
    local c = build({ "E1" })
    for _, g in ipairs({ "-1", "1.5", "x", "inf", "nan", "9007199254740992" }) do
      assert_refused({ 0, "invalid_grace_ms" }, function() return cancel_flow(c, "cancel_all", g) end)
    end
    assert_refused({ 0, "invalid_input", "flow_id" }, function()
      return cancel_flow(c, "cancel_all", "", "66666666-6666-4666-8666-666666666666")
    end)
    h:call("DEL", V.flow(c, "core"))
    assert_refused({ 0, "flow_not_found" }, function() return cancel_flow(c, "cancel_all", "") end)
  end)
end)

-- ---------------------------------------------------------------------------
describe("v34 additions to the expire functions", function()
  local F = require "ff.fixtures"

  local function expire_execution(e)
    return fcall("ff_expire_execution", {
      keys.core(e.tag, e.eid), keys.attempt(e.tag, e.eid, 0), keys.stream_meta(e.tag, e.eid, 0),
      keys.lease_current(e.tag, e.eid), keys.lease_history(e.tag, e.eid), keys.lease_expiry(e.tag),
      keys.worker_leases(e.tag, "wi1"), keys.lane(e.tag, "default", "active"),
      keys.lane(e.tag, "default", "terminal"), keys.attempt_timeout(e.tag),
      keys.execution_deadline(e.tag), keys.lane(e.tag, "default", "suspended"),
      keys.suspension_timeout(e.tag), keys.suspension_current(e.tag, e.eid),
    }, { e.eid, "attempt_timeout" })
  end

  local function expire_suspension(s)
    return fcall("ff_expire_suspension", {
      keys.core(s.tag, s.eid), keys.suspension_current(s.tag, s.eid), keys.waitpoint(s.tag, s.wid),
      keys.waitpoint_condition(s.tag, s.wid), keys.attempt(s.tag, s.eid, 0),
      keys.stream_meta(s.tag, s.eid, 0), keys.suspension_timeout(s.tag),
      keys.lane(s.tag, "default", "suspended"), keys.lane(s.tag, "default", "terminal"),
      keys.lane(s.tag, "default", "eligible"), keys.lane(s.tag, "default", "delayed"),
      keys.lease_history(s.tag, s.eid),
    }, { s.eid })
  end

  it("ff_expire_execution PUBLISHes expired for a flow member only", function()
    local e1 = F.attempt_timeout.active(h, { i = 1, fields = { flow_id = "f1" } })
    local e2 = F.attempt_timeout.active(h, { i = 2 })
    assert.same({ 1, "OK", "expired", "active" }, expire_execution(e1))
    assert.same({ 1, "OK", "expired", "active" }, expire_execution(e2))
    assert.same({ { execution_id = e1.eid, flow_id = "f1", outcome = "expired" } }, sub.messages())
  end)

  local function suspended(behavior, extras)
    local s = F.suspension_timeout.acting(h, { behavior = behavior, fields = { flow_id = "f1" },
      suspension = { additional_waitpoints_json = extras } })
    local susp = keys.suspension_current(s.tag, s.eid)
    h:call("SADD", susp .. ":satisfied_set", "m")
    h:call("HSET", susp .. ":member_map", "a", "b")
    h:call("HSET", keys.waitpoint(s.tag, "x1"), "state", "active", "execution_id", s.eid)
    h:call("HSET", keys.waitpoint_condition(s.tag, "x1"), "closed", "0")
    h:call("HSET", keys.waitpoint(s.tag, "x2"), "state", "active", "execution_id", "someone-else")
    return s, susp
  end
  local EXTRAS = '[{"waitpoint_id":"x1"},{"waitpoint_id":"x2"}]'

  it("ff_expire_suspension, terminal: multi-signal state dropped, own extras closed, PUBLISH", function()
    local s, susp = suspended("cancel", EXTRAS)
    assert.same({ 1, "OK", "cancel", "cancelled" }, expire_suspension(s))
    assert.is_false(S.exists(h, susp .. ":satisfied_set"))
    assert.is_false(S.exists(h, susp .. ":member_map"))
    assert.equal("timed_out_cancel", h:call("HGET", keys.waitpoint(s.tag, "x1"), "close_reason"))
    assert.equal("timed_out_cancel", h:call("HGET", keys.waitpoint_condition(s.tag, "x1"), "closed_reason"))
    assert.equal("active", h:call("HGET", keys.waitpoint(s.tag, "x2"), "state"))
    assert.same({ { execution_id = s.eid, flow_id = "f1", outcome = "cancelled" } }, sub.messages())
  end)

  it("ff_expire_suspension, auto_resume: cleaned up and closed, no PUBLISH", function()
    local s, susp = suspended("auto_resume", EXTRAS)
    assert.same({ 1, "OK", "auto_resume", "waiting" }, expire_suspension(s))
    assert.is_false(S.exists(h, susp .. ":satisfied_set"))
    assert.equal("timed_out_auto_resume", h:call("HGET", keys.waitpoint(s.tag, "x1"), "close_reason"))
    assert.same({}, sub.messages())
  end)

  it("ff_expire_suspension refuses a malformed extras list before any write", function()
    for _, bad in ipairs({ "[{", '"x"', '[{"waitpoint_key":"k"}]', '[{"waitpoint_id":""}]' }) do
      env:flush()
      local s = suspended("fail", bad)
      assert_refused({ 0, "invalid_state", "additional_waitpoints_json" }, function() return expire_suspension(s) end)
    end
    env:flush()
    local s = suspended("fail", '[{"waitpoint_id":"x3"}]')
    h:call("SET", keys.waitpoint(s.tag, "x3"), "x")
    assert_refused({ 0, "invalid_state", keys.waitpoint(s.tag, "x3") }, function() return expire_suspension(s) end)
  end)
end)

-- ---------------------------------------------------------------------------
describe("batch twins of the v34 per-item functions", function()
  it("answer per item exactly as the item function", function()
    local c1 = V.edge_cancel_reconciler.sibling_terminal(h)
    local c2 = V.edge_cancel_reconciler.acting(h, { i = 2 })
    local k1, a1 = V.group_call(c1)
    local k2, a2 = V.group_call(c2)
    local kk = { k1[1], k1[2], k2[1], k2[2] }
    assert.same({ { 1, "OK", "completed_drain", "" }, { 1, "OK", "no_op", "siblings_running" } },
      fcall("ff_reconcile_sibling_cancel_group_batch", kk, { 2, a1[1], a1[2], a2[1], a2[2] }))
    -- (the first group's tuple went with its completed drain)
    assert.same({ { 1, "OK", "already_drained", "" }, { 1, "OK", "drained", "" } },
      fcall("ff_drain_sibling_cancel_group_batch", kk, { 2, a1[1], a1[2], a2[1], a2[2] }))
    local c = V.cancel_reconciler.two_members(h, { i = 3 })
    local ck1, ca1 = V.cancel_call(c, "E1")
    local ck2, ca2 = V.cancel_call(c, "E2")
    local ck, ca = {}, { 2 }
    for i = 1, 21 do ck[i], ck[21 + i] = ck1[i], ck2[i] end
    for i = 1, 5 do ca[1 + i], ca[6 + i] = ca1[i], ca2[i] end
    assert.same({ { 1, "OK", "cancelled", "runnable" }, { 1, "OK", "cancelled", "runnable" } },
      fcall("ff_cancel_execution_batch", ck, ca))
    local ak1, aa1 = V.ack_call(c, "E1")
    local ak2, aa2 = V.ack_call(c, "E2")
    assert.same({ { 1, "OK" }, { 1, "OK" } }, fcall("ff_ack_cancel_member_batch",
      { ak1[1], ak1[2], ak2[1], ak2[2] }, { 2, aa1[1], aa1[2], aa2[1], aa2[2] }))
    assert.same({}, S.zset(h, c.keys.backlog))
  end)
end)

-- ---------------------------------------------------------------------------
describe("the sibling-cancel chain (C.4 -> C.2 -> C.3)", function()
  it("a fired AnyOf group's sibling is cancelled, its request drained, and nothing is left", function()
    local c = V.dependency_reconciler.any_of(h)
    local I = c.ids
    h:call("HSET", V.core(c, I.U2), "execution_id", I.U2, "flow_id", I.F)
    assert.same({ 1, "OK", "satisfied", "" }, resolve(c, "D1", "U", "success"))
    local g = S.hgetall(h, c.keys.group)
    -- the dispatcher: cancel each listed sibling with the group's reason, then drain
    assert.same({ 1, "OK", "cancelled", "active" },
      fcall("ff_cancel_execution", V.cancel_call(c, g.cancel_siblings_pending_members,
        { reason = g.cancel_siblings_reason })))
    assert.equal("sibling_quorum_satisfied", h:call("HGET", V.core(c, I.U2), "cancellation_reason"))
    assert.same({ 1, "OK", "drained", "" }, fcall("ff_drain_sibling_cancel_group", V.group_call(c)))
    assert.same({ 1, "OK", "no_op", "not_in_set" }, fcall("ff_reconcile_sibling_cancel_group", V.group_call(c)))
    -- the child runs; a late resolution of D2 only counts the edge
    assert.same({ 1, "OK", "already_fired", "" }, resolve(c, "D2", "U2", "cancelled"))
    assert.equal("eligible_now", h:call("HGET", c.keys.core, "eligibility_state"))
    assert.same({ { execution_id = I.U2, flow_id = I.F, outcome = "cancelled" } }, sub.messages())
  end)
end)
