-- ff.fixtures_v34: the fixture recipes of spec 30 §11 (C.1-C.6: the three new
-- scanners, dependency_reconciler and unblock at library version 34, and the
-- v34 edge cases of the unchanged scanners) as plain Redis commands. Test-only:
-- tests/lua is on busted's path (.busted), not on the daemon's.
--
-- Written like ff.fixtures: a recipe takes `r` (anything with r:call(cmd, ...):
-- the test host, ctx.redis, ff.fixtures.recorder()) and opts:
--   n      partition (default 24: §11's {fp:24}); the flow id is chosen to hash
--          to it (256 flow partitions), so flow and member keys share the slot
--   i      which independent set of ids on that partition (default 1: exactly
--          §11's E1, E2, U, U2, F, D1, D2), so several cases sit side by side
--   lane   lane of the executions (default "default")
--   fields extra or overriding fields of the record the recipe is about (the
--          one its variants vary); a value of false removes the field
-- plus the recipe's own options. It returns the context c: c.ids (E1, E2, U,
-- U2, F, D1, D2, ns), c.tag, c.lane, c.n and c.keys (the keys it is about).
-- Scores are §11's NOW-relative ones with ff.fixtures' clock-free convention:
-- due = PAST ("1000"), not due = FUTURE.
local F = require "ff.fixtures"
local K = require "ff.keys"
local P = require "ff.partition"

local M = {}

M.N, M.FLOW_PARTITIONS = 24, 256
M.PAST, M.FUTURE = F.PAST, F.FUTURE
M.NS = "ns1"
-- §11's budget and quota ids (spec 20 §C): {b:31} and {q:18} with 32 partitions.
M.B, M.BTAG = "11111111-1111-4111-8111-111111111111", "{b:31}"
M.Q, M.QTAG = "22222222-2222-4222-8222-222222222222", "{q:18}"

local merge, call, hset = F.merge, F.call, F.hset

-- Copy of base with extra on top; a value of false removes the field.
local function fields(base, extra)
  local out = merge(base, extra)
  for k, v in pairs(out) do
    if v == false then out[k] = nil end
  end
  return out
end

-- uuid(digit, i): §11's one-digit UUIDs (i = 1), or the same prefix with i
-- as the last 12 hex digits.
local function uuid(d, i)
  local tail = i == 1 and d:rep(12) or string.format("%012x", i)
  return ("%s-%s-4%s-8%s-%s"):format(d:rep(8), d:rep(4), d:rep(3), d:rep(3), tail)
end

-- A flow id on partition n: §11's F for (24, 1), else the first id of a
-- deterministic sequence that hashes there.
local function flow_id(n, i)
  local spec = "550e8400-e29b-41d4-a716-446655440000"
  if n == M.N and i == 1 then return spec end
  for j = 0, 1e6 do
    local fid = ("550e8400-e29b-41d4-%04x-%012x"):format(i % 0x10000, j)
    if P.flow_partition(fid, M.FLOW_PARTITIONS) == n then return fid end
  end
  error("no flow id found for partition " .. n)
end

-- ctx(opts): ids, tag and key builders of one recipe instance.
function M.ctx(opts)
  opts = opts or {}
  local n, i = opts.n or M.N, opts.i or 1
  local tag = P.tag("flow", n)
  local function eid(d) return tag .. ":" .. uuid(d, i) end
  local c = {
    n = n, i = i, tag = tag, lane = opts.lane or "default", keys = {},
    ids = {
      E1 = eid("a"), E2 = eid("b"), U = eid("c"), U2 = eid("f"),
      F = flow_id(n, i), D1 = uuid("d", i), D2 = uuid("e", i), ns = M.NS,
    },
  }
  return c
end

-- Key builders bound to a context (ff.keys has no v34 names).
function M.core(c, eid) return K.core(c.tag, eid) end
function M.exec(c, eid, suffix) return K.exec(c.tag, eid, suffix) end
function M.lane(c, suffix) return K.lane(c.tag, c.lane, suffix) end
function M.flow(c, suffix) return K.flow(c.tag, c.ids.F, suffix) end
function M.edgegroup(c, deid) return M.flow(c, "edgegroup:" .. (deid or c.ids.E1)) end
function M.pending_cancel_groups(c) return K.idx(c.tag, "pending_cancel_groups") end
function M.cancel_backlog(c) return K.idx(c.tag, "cancel_backlog") end
function M.pending_cancels(c) return M.flow(c, "pending_cancels") end

-- The pending_cancel_groups member of the (F, E1) group.
function M.group_member(c) return c.ids.F .. "|" .. c.ids.E1 end

-- §11's runnable-core template R(X): the core and its eligible entry.
function M.runnable(r, c, eid, extra)
  hset(r, M.core(c, eid), fields({
    execution_id = eid, namespace = c.ids.ns, lane_id = c.lane, flow_id = c.ids.F,
    lifecycle_phase = "runnable", ownership_state = "unowned", eligibility_state = "eligible_now",
    blocking_reason = "waiting_for_worker", terminal_outcome = "none",
    attempt_state = "pending_first_attempt", public_state = "waiting",
    current_attempt_index = "", priority = "0", created_at = "1000",
  }, extra))
  call(r, "ZADD", M.lane(c, "eligible"), 1000, eid)
end

-- Names in recipe options ("E1", "U2", ...) or literal member strings.
local function id_of(c, name) return c.ids[name] or name end

-- The waitpoint id cancel calls use when the core names none (spec 30 §12
-- CR1: v34 uses a fresh random one; a test must not assert on KEYS 9/10).
M.NO_WAITPOINT = "00000000-0000-4000-8000-0000000000ff"

-- The 21 KEYS and 5 ARGV of ff_cancel_execution for execution eid (a name or
-- an id), as the v34 scanners build them (spec 30 §7.B), on eid's own tag.
-- o: lane (default c.lane), attempt (default 0), wp (default NO_WAITPOINT),
-- wiid (worker instance, default ""), reason (default "user_abort"), source
-- (default "operator_override"), lease_id, epoch (default "").
function M.cancel_call(c, eid, o)
  o = o or {}
  eid = id_of(c, eid)
  local T = P.tag("flow", assert(P.parse_execution_id(eid), "not an execution id"))
  local lane, a, wp = o.lane or c.lane, o.attempt or 0, o.wp or M.NO_WAITPOINT
  local function ln(suffix) return K.lane(T, lane, suffix) end
  return {
    K.core(T, eid), K.attempt(T, eid, a), K.stream_meta(T, eid, a), K.lease_current(T, eid),
    K.lease_history(T, eid), K.lease_expiry(T), K.worker_leases(T, o.wiid or ""),
    K.suspension_current(T, eid), K.waitpoint(T, wp), K.waitpoint_condition(T, wp),
    K.suspension_timeout(T), ln("terminal"), K.attempt_timeout(T), K.execution_deadline(T),
    ln("eligible"), ln("delayed"), ln("blocked:dependencies"), ln("blocked:budget"),
    ln("blocked:quota"), ln("blocked:route"), ln("blocked:operator"),
  }, { eid, o.reason or "user_abort", o.source or "operator_override", o.lease_id or "", o.epoch or "" }
end

-- KEYS and ARGV of ff_ack_cancel_member for member eid of c's flow.
function M.ack_call(c, eid)
  return { M.pending_cancels(c), M.cancel_backlog(c) }, { id_of(c, eid), c.ids.F }
end

-- KEYS and ARGV of ff_drain_sibling_cancel_group and
-- ff_reconcile_sibling_cancel_group for the (F, E1) group.
function M.group_call(c)
  return { M.pending_cancel_groups(c), M.edgegroup(c) }, { c.ids.F, c.ids.E1 }
end

---------------------------------------------------------------------------
-- C.1 cancel_reconciler
---------------------------------------------------------------------------
local cr = {}
M.cancel_reconciler = cr

-- acting: a cancelled cancel_all flow (cancel_reason user_abort) that owes
-- its members a cancel. Options: members (names or ids owed, default {"E1"}),
-- reason (false: no cancel_reason), score (backlog, default PAST), backlog
-- (the backlog member, default F), flow_core = false, pending = false;
-- fields go to every member core.
function cr.acting(r, opts)
  opts = opts or {}
  local c = M.ctx(opts)
  local I = c.ids
  c.keys = { flow_core = M.flow(c, "core"), pending = M.pending_cancels(c), backlog = M.cancel_backlog(c) }
  if opts.flow_core ~= false then
    local reason = opts.reason
    if reason == nil then reason = "user_abort" end
    hset(r, c.keys.flow_core, fields({ flow_id = I.F, public_flow_state = "cancelled",
      cancel_reason = reason, cancellation_policy = "cancel_all" }, {}))
  end
  c.members = {}
  for _, m in ipairs(opts.members or { "E1" }) do c.members[#c.members + 1] = id_of(c, m) end
  if opts.pending ~= false then
    for _, m in ipairs(c.members) do call(r, "SADD", c.keys.pending, m) end
  end
  call(r, "ZADD", c.keys.backlog, opts.score or M.PAST, opts.backlog or I.F)
  for _, m in ipairs(c.members) do
    if P.parse_execution_id(m) then M.runnable(r, c, m, opts.fields) end
  end
  return c
end

local function variant(base, extra)
  return function(r, opts) return base(r, merge(extra, opts)) end
end

cr.reason_absent = variant(cr.acting, { reason = false })
cr.two_members = variant(cr.acting, { members = { "E1", "E2" } })
cr.not_due = variant(cr.acting, { score = M.FUTURE })
cr.flow_core_absent = variant(cr.acting, { flow_core = false })
cr.pending_absent = variant(cr.acting, { pending = false })
cr.bad_backlog_member = variant(cr.acting, { backlog = "not-a-uuid" })
cr.junk_member = variant(cr.acting, { members = { "E1", "junk" } })
function cr.already_terminal(r, opts)
  opts = opts or {}
  return cr.acting(r, merge(opts, { fields = merge({ lifecycle_phase = "terminal" }, opts.fields) }))
end

---------------------------------------------------------------------------
-- C.2 edge_cancel_dispatcher / C.3 edge_cancel_reconciler (one base)
---------------------------------------------------------------------------
local sib = {}
M.edge_cancel_dispatcher = sib
M.edge_cancel_reconciler = sib

-- acting: E1's any_of / cancel_remaining group fired satisfied and asks for
-- its still-running sibling E2 to be cancelled; the tuple "F|E1" in
-- pending_cancel_groups; R(E2). Options: group (extra/overriding group
-- fields, false removes one), no_group, member (the tuple, default "F|E1"),
-- sibling = false (no E2 core); fields go to E2's core.
function sib.acting(r, opts)
  opts = opts or {}
  local c = M.ctx(opts)
  local I = c.ids
  c.keys = { group = M.edgegroup(c), pcg = M.pending_cancel_groups(c) }
  if not opts.no_group then
    hset(r, c.keys.group, fields({
      policy_variant = "any_of", on_satisfied = "cancel_remaining", k = "1", n = "2",
      succeeded = "1", failed = "0", skipped = "0", group_state = "satisfied", satisfied_at = "5000",
      cancel_siblings_pending_flag = "true", cancel_siblings_reason = "sibling_quorum_satisfied",
      cancel_siblings_pending_members = I.E2,
    }, opts.group))
  end
  c.member = opts.member or M.group_member(c)
  call(r, "SADD", c.keys.pcg, c.member)
  if opts.sibling ~= false then M.runnable(r, c, I.E2, opts.fields) end
  return c
end

sib.reason_absent = variant(sib.acting, { group = { cancel_siblings_reason = false } })
sib.impossible_reason = variant(sib.acting, { group = {
  group_state = "impossible", cancel_siblings_reason = "sibling_quorum_impossible" } })
sib.no_request = variant(sib.acting, { group = {
  cancel_siblings_pending_flag = false, cancel_siblings_pending_members = false } })
sib.no_group = variant(sib.acting, { no_group = true })
sib.members_empty = variant(sib.acting, { group = { cancel_siblings_pending_members = "" } })
sib.flag_cleared = variant(sib.acting, { group = { cancel_siblings_pending_flag = false } })
sib.sibling_absent = variant(sib.acting, { sibling = false })
function sib.sibling_terminal(r, opts)
  opts = opts or {}
  return sib.acting(r, merge(opts, { fields = merge({ lifecycle_phase = "terminal" }, opts.fields) }))
end
-- A sibling token that is not an execution id beside E2 ("E2|x").
function sib.bad_sibling_token(r, opts)
  local c = M.ctx(opts)
  return sib.acting(r, merge({ group = { cancel_siblings_pending_members = c.ids.E2 .. "|x" } }, opts))
end
-- Malformed tuples (opts.kind: "flow" = junk|E1, "eid" = F|junk, "separator").
function sib.malformed(r, opts)
  opts = opts or {}
  local c = M.ctx(opts)
  local member = ({ flow = "junk|" .. c.ids.E1, eid = c.ids.F .. "|junk",
    separator = "noseparator" })[opts.kind or "flow"]
  return sib.acting(r, merge(opts, { member = member }))
end

---------------------------------------------------------------------------
-- C.4 dependency_reconciler (version 34)
---------------------------------------------------------------------------
local dep = {}
M.dependency_reconciler = dep

-- The 14 KEYS and 5 ARGV of v34's ff_resolve_dependency (spec 30 §6.B) for
-- child E1's edge `edge` (a name, "D1", or an id) whose upstream is `up`;
-- attempt index 0 (never claimed), lane c.lane.
function M.resolve_call(c, edge, up, outcome, now)
  local I, T = c.ids, c.tag
  local d, u = id_of(c, edge), id_of(c, up)
  return {
    M.core(c, I.E1), M.exec(c, I.E1, "deps:meta"), M.exec(c, I.E1, "deps:unresolved"),
    K.dep(T, I.E1, d), M.lane(c, "eligible"), M.lane(c, "terminal"),
    M.lane(c, "blocked:dependencies"), K.attempt(T, I.E1, 0), K.stream_meta(T, I.E1, 0),
    M.exec(c, I.E1, "payload"), M.exec(c, u, "result"), M.edgegroup(c), M.flow(c, "in:" .. I.E1),
    M.pending_cancel_groups(c),
  }, { d, outcome, tostring(now), I.F, I.E1 }
end

-- The child E1 of spec 20 §C.3 with namespace and flow_id F, blocked on
-- `edges` ({ {edge, upstream}, ... }, names or ids); fields go to its core.
local function blocked_child(r, c, edges, extra)
  local I = c.ids
  hset(r, M.core(c, I.E1), fields({
    execution_id = I.E1, namespace = I.ns, flow_id = I.F, lane_id = c.lane,
    lifecycle_phase = "runnable", ownership_state = "unowned", terminal_outcome = "none",
    eligibility_state = "blocked_by_dependencies", blocking_reason = "waiting_for_children",
    attempt_state = "pending_first_attempt", public_state = "waiting_children",
    priority = "0", created_at = "1000", current_attempt_index = "",
  }, extra))
  call(r, "ZADD", M.lane(c, "blocked:dependencies"), 1000, I.E1)
  for _, e in ipairs(edges) do
    local d, u = id_of(c, e[1]), id_of(c, e[2])
    call(r, "SADD", M.exec(c, I.E1, "deps:unresolved"), d)
    hset(r, K.dep(c.tag, I.E1, d), {
      edge_id = d, flow_id = I.F, upstream_execution_id = u, downstream_execution_id = I.E1,
      dependency_kind = "success_only", state = "unsatisfied", data_passing_ref = "",
      last_resolved_at = "",
    })
    -- the flow side: inbound set and edge hash (the sibling relation, §2.3)
    call(r, "SADD", M.flow(c, "in:" .. I.E1), d)
    hset(r, M.flow(c, "edge:" .. d), { edge_id = d, upstream_execution_id = u,
      downstream_execution_id = I.E1 })
  end
  call(r, "HSET", M.exec(c, I.E1, "deps:meta"), "unsatisfied_required_count", tostring(#edges))
end

local function upstream(r, c, name, phase, outcome)
  hset(r, M.core(c, c.ids[name]), fields({ execution_id = c.ids[name], lifecycle_phase = phase,
    terminal_outcome = outcome }, {}))
end

-- all_of: one edge D1 from U (terminal, opts.outcome default success), E1's
-- AllOf group (n 1; opts.group extra fields; opts.no_group = none).
function dep.all_of(r, opts)
  opts = opts or {}
  local c = M.ctx(opts)
  local edge = opts.edge or "D1"
  blocked_child(r, c, { { edge, "U" } }, opts.fields)
  if not opts.no_group then
    hset(r, M.edgegroup(c), fields({ policy_variant = "all_of", n = "1", succeeded = "0",
      group_state = "pending" }, opts.group))
  end
  upstream(r, c, "U", "terminal", opts.outcome or "success")
  c.keys = { group = M.edgegroup(c), core = M.core(c, c.ids.E1) }
  return c
end

dep.all_of_impossible = variant(dep.all_of, { outcome = "failed" })
dep.no_group = variant(dep.all_of, { no_group = true })
dep.no_flow_id = variant(dep.all_of, { fields = { flow_id = false } })
dep.bad_edge_id = variant(dep.all_of, { edge = "d1" })

-- any_of: edges D1 (from U, terminal success) and D2 (from U2, active); E1's
-- any_of group with on_satisfied opts.on_satisfied (default cancel_remaining),
-- n 2, k 0; opts.group extra fields.
function dep.any_of(r, opts)
  opts = opts or {}
  local c = M.ctx(opts)
  blocked_child(r, c, { { "D1", "U" }, { "D2", "U2" } }, opts.fields)
  hset(r, M.edgegroup(c), fields({
    policy_variant = "any_of", on_satisfied = opts.on_satisfied or "cancel_remaining", k = "0",
    n = "2", succeeded = "0", failed = "0", skipped = "0", group_state = "pending",
  }, opts.group))
  upstream(r, c, "U", "terminal", opts.outcome or "success")
  upstream(r, c, "U2", "active", "none")
  c.keys = { group = M.edgegroup(c), core = M.core(c, c.ids.E1) }
  return c
end

dep.any_of_let_run = variant(dep.any_of, { on_satisfied = "let_run" })
-- quorum k 2 of n 2 with only U terminal: the resolution leaves it pending.
dep.quorum_pending = variant(dep.any_of, { group = { policy_variant = "quorum", k = "2" } })

-- any_of with one edge (n 1) whose upstream U failed: impossible.
function dep.any_of_impossible(r, opts)
  opts = opts or {}
  local c = M.ctx(opts)
  blocked_child(r, c, { { "D1", "U" } }, opts.fields)
  hset(r, M.edgegroup(c), fields({
    policy_variant = "any_of", on_satisfied = "cancel_remaining", k = "0", n = "1",
    succeeded = "0", failed = "0", skipped = "0", group_state = "pending",
  }, opts.group))
  upstream(r, c, "U", "terminal", "failed")
  c.keys = { group = M.edgegroup(c), core = M.core(c, c.ids.E1) }
  return c
end

---------------------------------------------------------------------------
-- C.5 unblock (version 34): namespaced worker capabilities
---------------------------------------------------------------------------
local ub = {}
M.unblock = ub

function M.workers_index(ns) return "ff:idx:" .. ns .. ":workers" end
function M.worker_caps(ns, w) return "ff:worker:" .. ns .. ":" .. w .. ":caps" end

-- E1 blocked in `set` (budget | quota | route) as spec 20 §C.1, plus the
-- namespace; fields go to its core.
local function blocked(r, c, set, extra)
  local reasons = { budget = { "blocked_by_budget", "waiting_for_budget" },
    quota = { "blocked_by_quota", "waiting_for_quota" },
    route = { "blocked_by_route", "waiting_for_capable_worker" } }
  local I = c.ids
  hset(r, M.core(c, I.E1), fields({
    execution_id = I.E1, namespace = I.ns, lane_id = c.lane, lifecycle_phase = "runnable",
    ownership_state = "unowned", terminal_outcome = "none", attempt_state = "pending_first_attempt",
    priority = "0", created_at = "1000", public_state = "rate_limited",
    eligibility_state = reasons[set][1], blocking_reason = reasons[set][2],
  }, extra))
  call(r, "ZADD", M.lane(c, "blocked:" .. set), M.PAST, I.E1)
  c.keys = { core = M.core(c, I.E1), set = M.lane(c, "blocked:" .. set) }
end

-- route: required gpu,linux; worker w1 in namespace opts.worker_ns (default
-- ns1) with caps_csv gpu,linux. opts.legacy: only the 0.1.1 keys;
-- opts.caps_string: the namespaced caps key is a STRING (WRONGTYPE).
function ub.route(r, opts)
  opts = opts or {}
  local c = M.ctx(opts)
  blocked(r, c, "route", merge({ required_capabilities = "gpu,linux" }, opts.fields))
  local ns = opts.worker_ns or c.ids.ns
  if opts.legacy then
    call(r, "SADD", K.WORKERS, "w1")
    call(r, "SET", K.worker_caps("w1"), "gpu,linux")
    return c
  end
  call(r, "SADD", M.workers_index(ns), "w1")
  if opts.caps_string then
    call(r, "SET", M.worker_caps(ns, "w1"), "gpu,linux")
  else
    call(r, "HSET", M.worker_caps(ns, "w1"), "caps_csv", "gpu,linux")
  end
  return c
end

ub.other_namespace = variant(ub.route, { worker_ns = "ns2" })
ub.legacy_only = variant(ub.route, { legacy = true })
ub.caps_string = variant(ub.route, { caps_string = true })

-- budget: budget B (usage opts.usage, default 50, under the hard limit 100).
function ub.budget(r, opts)
  opts = opts or {}
  local c = M.ctx(opts)
  blocked(r, c, "budget", merge({ budget_ids = M.B }, opts.fields))
  call(r, "HSET", K.budget_limits(M.BTAG, M.B), "hard:tokens", "100", "soft:tokens", "80")
  call(r, "HSET", K.budget_usage(M.BTAG, M.B), "tokens", tostring(opts.usage or 50))
  return c
end

-- quota: policy Q with 3 requests per 60 s and a window of two recent
-- entries at opts.now (server ms, required) and one expired: cleared.
function ub.quota(r, opts)
  opts = opts or {}
  local now = assert(opts.now, "fixtures_v34.unblock.quota needs opts.now")
  local c = M.ctx(opts)
  blocked(r, c, "quota", merge({ quota_policy_id = M.Q }, opts.fields))
  call(r, "HSET", K.quota(M.QTAG, M.Q), "max_requests_per_window", "3",
    "requests_per_window_seconds", "60", "active_concurrency_cap", "0")
  for _, e in ipairs({ { "x1", 120000 }, { "x2", 1000 }, { "x3", 500 } }) do
    call(r, "ZADD", K.quota_window(M.QTAG, M.Q), now - e[2], e[1])
  end
  return c
end

-- no_namespace: E1 in opts.set (default route) without a namespace.
function ub.no_namespace(r, opts)
  opts = opts or {}
  local set = opts.set or "route"
  local c = M.ctx(opts)
  blocked(r, c, set, merge({ namespace = false,
    required_capabilities = set == "route" and "gpu,linux" or nil }, opts.fields))
  return c
end

-- stale_member: E1 in blocked:route with no core at all.
function ub.stale_member(r, opts)
  local c = M.ctx(opts)
  call(r, "ZADD", M.lane(c, "blocked:route"), M.PAST, c.ids.E1)
  c.keys = { set = M.lane(c, "blocked:route") }
  return c
end

---------------------------------------------------------------------------
-- C.6 the unchanged scanners' v34 edge cases
---------------------------------------------------------------------------
local edge = {}
M.edge_cases = edge

-- pending_wp_expiry: a due entry whose waitpoint hash does not exist.
function edge.pending_wp_missing(r, opts)
  local c = M.ctx(opts)
  c.wid = F.W
  call(r, "ZADD", K.pending_waitpoint_expiry(c.tag), M.PAST, c.wid)
  c.keys = { index = K.pending_waitpoint_expiry(c.tag) }
  return c
end

-- budget_reset: a due schedule entry that is not a UUID ({b:31}).
function edge.budget_reset_bad_id(r, opts)
  opts = opts or {}
  call(r, "ZADD", K.budget_resets(M.BTAG), opts.score or M.PAST, "not-a-uuid")
  return { keys = { index = K.budget_resets(M.BTAG) } }
end

-- flow_projector: a flow_index member that is not a UUID.
function edge.flow_index_junk(r, opts)
  local c = M.ctx(opts)
  call(r, "SADD", K.flow_index(c.tag), "junk")
  c.keys = { index = K.flow_index(c.tag) }
  return c
end

-- lease_expiry under a namespace filter: ff.fixtures' due lease of E1 with
-- namespace opts.namespace (default ns2; false = no namespace field).
function edge.filtered_lease(r, opts)
  opts = opts or {}
  local c = M.ctx(opts)
  local ns = opts.namespace
  if ns == nil then ns = "ns2" end
  local item = F.lease_expiry.acting(r, { eid = c.ids.E1, lane = c.lane,
    fields = fields({ namespace = ns or nil }, opts.fields) })
  c.keys = item.keys
  return c
end

return M
