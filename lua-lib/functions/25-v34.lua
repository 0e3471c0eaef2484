-- 25-v34.lua: what FlowFabric's library version 34 added for its scanners
-- (spec 30 §10), registered at library level 34 only (00-common.lua):
--   * the v34 shape of ff_resolve_dependency (14 KEYS / 5 ARGV: edge groups,
--     AllOf / AnyOf / Quorum, pending_cancel_groups), reached through the one
--     registration in 20-flow-budget.lua (ffb.resolve_v34);
--   * ff_cancel_execution (21 KEYS), ff_ack_cancel_member,
--     ff_drain_sibling_cancel_group and ff_reconcile_sibling_cancel_group, the
--     per-item calls of the three new scanners (C.register_item: this file
--     comes before 30-batch.lua, which gives each its "_batch" twin);
--   * the producers ff_set_edge_group_policy and ff_cancel_flow (5 KEYS / 5 ARGV).
-- Same names, KEYS, ARGV, writes and reply codes as v34. As the 0.1.1 set
-- does, every function reads and checks what it needs before its first write:
-- a malformed record or argument gives {0, "invalid_state"|"invalid_input",
-- <field or key>} and nothing changes. Where v34 does something accidental,
-- these functions do what was intended; README lists every difference
-- ("Where scanhost's own library differs from FlowFabric v34").
-- Uses C (00-common.lua), X (10-execution.lua) and ffb (20-flow-budget.lua):
-- one library chunk, so earlier files' locals are visible.
local V = {}

-- A non-negative counter that HINCRBY can take (ffb.int: at most 15 digits,
-- canonical form); absent counts as 0. nil for anything else.
function V.counter(map, field)
  local v = map[field]
  if v == nil then return 0 end
  local n = ffb.int(v)
  if n == nil or n < 0 then return nil end
  return n
end

-- Is key ff:flow:<its tag>:<fid>:<suffix>?
function V.names_flow_key(key, fid, suffix)
  local tag = C.tag_of(key)
  return tag ~= nil and key == "ff:flow:" .. tag .. ":" .. fid .. ":" .. suffix
end

-- Is key the edge-group hash of (flow fid, downstream deid), whatever its tag?
function V.names_group(key, fid, deid)
  return V.names_flow_key(key, fid, "edgegroup:" .. deid)
end

-- A group whose state is no longer pending has fired once and for all.
V.FIRED = { satisfied = true, impossible = true, cancelled = true }

---------------------------------------------------------------------------
-- ff_resolve_dependency, v34 shape (spec 30 §10.1, §10.2)
--   KEYS: 1 core, 2 deps:meta, 3 deps:unresolved, 4 dep:<edge>, 5 eligible,
--   6 terminal, 7 blocked:dependencies, 8 attempt hash, 9 stream meta,
--   10 payload, 11 upstream result, 12 edge group, 13 inbound edge-id set,
--   14 pending_cancel_groups (13 and 14 may be missing or "")
--   ARGV: edge id, upstream outcome, now_ms, flow id (may be ""), downstream
--   execution id (may be "")
---------------------------------------------------------------------------

-- The keys a resolution may write, with their types (refused before any write).
function V.resolve_types(keys)
  local list = ffb.resolve_types(keys)
  list[#list + 1] = { keys[12], "hash" }
  list[#list + 1] = { keys[13], "set" }
  list[#list + 1] = { keys[14], "set" }
  return list
end

-- ARGV 4 and 5 name the group that pending_cancel_groups will point the
-- dispatcher at: when both are set they must name KEYS[12] and the child.
function V.resolve_args_ok(keys, args)
  if not (C.is_set(args[4]) and C.is_set(args[5])) then return true end
  return args[5] == C.eid_from_core_key(keys[1])
    and (not C.is_set(keys[12]) or V.names_group(keys[12], args[4], args[5]))
end

function V.resolve(keys, args)
  local bad = C.mistyped(V.resolve_types(keys))
  if bad then return C.invalid(bad) end
  local dep, reply = ffb.open_dep(keys, args)
  if not dep then return reply end
  if not V.resolve_args_ok(keys, args) then return C.err("invalid_input", "downstream_eid") end
  local group, has_group = {}, false
  if C.is_set(keys[12]) then group, has_group = ffb.hgetall(keys[12]) end
  local variant = group.policy_variant
  if has_group and (variant == "any_of" or variant == "quorum") then
    return V.resolve_quorum(keys, args, dep, group)
  end
  -- v34 runs any other variant as AllOf; here only all_of and an absent one
  -- (a group written before version 20) do, another value is a corrupt policy
  if variant ~= nil and variant ~= "all_of" then return C.invalid("policy_variant") end
  return V.resolve_all_of(keys, args, dep, has_group and keys[12] or nil, group)
end

-- AllOf (and no group at all): the 0.1.1 path plus the group counters and
-- the skipped PUBLISH (ffb.count_edge, ffb.resolve_impossible).
function V.resolve_all_of(keys, args, dep, group_key, group)
  local counter = args[2] == "success" and "succeeded" or "failed"
  if group_key and V.counter(group, counter) == nil then return C.invalid(counter) end
  local unsatisfied, bad = ffb.check_meta(keys[2])
  if unsatisfied == nil then return { 0, "invalid_state", bad } end
  local eg = { key = group_key, fired = V.FIRED[group.group_state or ""] or false }
  if args[2] == "success" then return ffb.resolve_satisfied(keys, args, dep, unsatisfied, eg) end
  return ffb.resolve_impossible(keys, args, eg)
end

-- Counters of a quorum group, or nil + the bad field. k: 1 for any_of; for
-- quorum the stored k (absent: 1), raised to 1 when below (v34).
function V.group_counts(group)
  local c = {}
  for _, f in ipairs({ "n", "succeeded", "failed", "skipped" }) do
    c[f] = V.counter(group, f)
    if c[f] == nil then return nil, f end
  end
  c.k = 1
  if group.policy_variant == "quorum" and group.k ~= nil then
    local k = ffb.int(group.k)
    if k == nil then return nil, "k" end
    if k > 1 then c.k = k end
  end
  return c
end

-- satisfied | impossible | nil (still pending), with this edge counted.
function V.verdict(c)
  if c.succeeded >= c.k then return "satisfied" end
  if c.failed + c.skipped > c.n - c.k then return "impossible" end
  return nil
end

-- The resolved edge: dep record, unresolved set, the group counter.
function V.count_in_group(keys, args, bucket)
  ffb.mark_edge(keys, args, bucket == "succeeded" and "satisfied" or "impossible")
  redis.call("HINCRBY", keys[12], bucket, 1)
end

V.BUCKETS = { success = "succeeded", skipped = "skipped" } -- any other outcome: failed

function V.resolve_quorum(keys, args, dep, group)
  local c, bad = V.group_counts(group)
  if not c then return C.invalid(bad) end
  local bucket = V.BUCKETS[args[2]] or "failed"
  c[bucket] = c[bucket] + 1
  local sum = c.succeeded + c.failed + c.skipped
  if sum > c.n then
    -- corrupt counters: refused before any write (v34 writes the edge first)
    return C.err("invariant_violation", "edgegroup counters exceed n: " .. sum .. "/" .. c.n)
  end
  local fired = V.FIRED[group.group_state or ""]
  local verdict = not fired and V.verdict(c)
  if not verdict then
    V.count_in_group(keys, args, bucket)
    return C.ok(fired and "already_fired" or "pending", "")
  end
  local plan, refusal = V.plan_fire(keys, args, group, verdict)
  if not plan then return refusal end
  V.count_in_group(keys, args, bucket)
  V.fire_group(keys, args, group, verdict, plan.siblings)
  return V.fire_child(keys, args, dep, plan, verdict, bucket)
end

-- Upstreams of the child's other inbound edges whose core is set and not
-- terminal (the siblings a cancel_remaining group cancels), sorted. Needs
-- KEYS[12], KEYS[13] and ARGV[4]; sibling cores are on KEYS[12]'s tag.
function V.running_siblings(keys, args)
  local out = {}
  if not (C.is_set(keys[12]) and C.is_set(keys[13]) and C.is_set(args[4])) then return out end
  local tag = C.tag_of(keys[12])
  local prefix = "ff:flow:" .. tag .. ":" .. args[4] .. ":edge:"
  local edges = redis.call("SMEMBERS", keys[13])
  for i = 1, #edges do
    local up = redis.call("HGET", prefix .. edges[i], "upstream_execution_id")
    if C.is_set(up) then
      local phase = redis.call("HGET", "ff:exec:" .. tag .. ":" .. up .. ":core", "lifecycle_phase")
      if C.is_set(phase) and phase ~= "terminal" then out[#out + 1] = up end
    end
  end
  table.sort(out)
  return out
end

-- Everything a firing group needs, read and checked before the first write:
-- the siblings to cancel, the child core and what happens to it.
function V.plan_fire(keys, args, group, verdict)
  local plan = { siblings = {} }
  if group.on_satisfied == "cancel_remaining" then plan.siblings = V.running_siblings(keys, args) end
  local core, found = ffb.hgetall(keys[1])
  if not found then return plan end
  plan.core = core
  if verdict == "satisfied" then
    if not ffb.promotable(core, 0) then return plan end
    if not ffb.member_ok(keys, core) then return nil, C.invalid("execution_id") end
    local score, bad = C.eligible_score(core)
    if score == nil then return nil, C.invalid(bad) end
    plan.score = score
  elseif core.terminal_outcome == "none" then
    if not ffb.member_ok(keys, core) then return nil, C.invalid("execution_id") end
    plan.skip = true
  end
  return plan
end

-- §10.2 steps 8-9: the group's new state, and for cancel_remaining the
-- sibling-cancel request the edge_cancel_dispatcher drains.
function V.fire_group(keys, args, group, verdict, siblings)
  if verdict == "satisfied" then
    redis.call("HSET", keys[12], "group_state", verdict, "satisfied_at", args[3])
  else
    redis.call("HSET", keys[12], "group_state", verdict)
  end
  if group.on_satisfied ~= "cancel_remaining" then return end
  redis.call("HSET", keys[12], "cancel_siblings_pending_flag", "true",
    "cancel_siblings_reason", "sibling_quorum_" .. verdict,
    "cancel_siblings_pending_members", table.concat(siblings, "|"))
  if C.is_set(keys[14]) and C.is_set(args[4]) and C.is_set(args[5]) then
    redis.call("SADD", keys[14], args[4] .. "|" .. args[5])
  end
end

-- §10.2 steps 10-12: promote or skip the child as the AllOf path does.
function V.fire_child(keys, args, dep, plan, verdict, bucket)
  if not plan.core then return C.ok(verdict, "") end
  if verdict == "satisfied" then
    local marker = ""
    if bucket == "succeeded" then marker = ffb.inject_data(keys, dep, plan.core) end
    if plan.score then ffb.promote(keys, plan.core, args[3], plan.score) end
    return C.ok("satisfied", marker)
  end
  if not plan.skip then return C.ok("impossible", "") end
  ffb.skip_child(keys, plan.core, args[3])
  C.publish_completion(plan.core, plan.core.execution_id, "skipped")
  return C.ok("impossible", "child_skipped")
end

ffb.resolve_v34 = V.resolve

---------------------------------------------------------------------------
-- ff_ack_cancel_member  KEYS: pending_cancels, cancel_backlog
--                       ARGV: execution id, flow id          (spec 30 §10.3)
---------------------------------------------------------------------------
function V.ack_cancel_member(keys, args)
  local eid, fid = args[1], args[2]
  if not C.is_set(eid) then return C.err("invalid_input", "execution_id") end
  if not C.is_set(fid) then return C.err("invalid_input", "flow_id") end
  local bad = C.mistyped({ { keys[1], "set" }, { keys[2], "zset" } })
  if bad then return C.invalid(bad) end
  redis.call("SREM", keys[1], eid)
  if redis.call("EXISTS", keys[1]) == 0 then redis.call("ZREM", keys[2], fid) end
  return C.ok()
end

---------------------------------------------------------------------------
-- ff_drain_sibling_cancel_group, ff_reconcile_sibling_cancel_group
--   KEYS: pending_cancel_groups, edge group   ARGV: flow id, downstream id
--   (spec 30 §10.4, §10.5)
---------------------------------------------------------------------------

-- The pending_cancel_groups member of the call, or nil + the refusal. The
-- edge-group key must be the one the tuple names: a mismatch would drain one
-- group's tuple and clear another group's request.
function V.group_member(keys, args)
  local fid, deid = args[1], args[2]
  if not (C.is_set(fid) and C.is_set(deid)) then
    return nil, C.err("invalid_args", "flow_id and downstream_eid required")
  end
  if not V.names_group(keys[2], fid, deid) then return nil, C.err("invalid_input", "edgegroup") end
  local bad = C.mistyped({ { keys[1], "set" }, { keys[2], "hash" } })
  if bad then return nil, C.invalid(bad) end
  return fid .. "|" .. deid
end

function V.clear_request(group_key)
  redis.call("HDEL", group_key, "cancel_siblings_pending_flag", "cancel_siblings_pending_members")
end

function V.drain_sibling_cancel_group(keys, args)
  local member, refusal = V.group_member(keys, args)
  if not member then return refusal end
  local removed = redis.call("SREM", keys[1], member)
  local has_group = redis.call("EXISTS", keys[2]) == 1
  if has_group then V.clear_request(keys[2]) end
  if removed == 0 then return C.ok("already_drained", "") end
  return C.ok(has_group and "drained" or "drained_sans_group", "")
end

-- Is a sibling of the "|"-joined list still running? A missing core counts
-- as terminal; cores are looked up on the group's tag (flow members share it).
function V.sibling_running(tag, members)
  for s in string.gmatch(members or "", "[^|]+") do
    local phase = redis.call("HGET", "ff:exec:" .. tag .. ":" .. s .. ":core", "lifecycle_phase")
    if C.is_set(phase) and phase ~= "terminal" then return true end
  end
  return false
end

function V.reconcile_sibling_cancel_group(keys, args)
  local member, refusal = V.group_member(keys, args)
  if not member then return refusal end
  if redis.call("SISMEMBER", keys[1], member) == 0 then return C.ok("no_op", "not_in_set") end
  local why
  if redis.call("EXISTS", keys[2]) == 0 then
    why = "missing_edgegroup"
  else
    local req = redis.call("HMGET", keys[2], "cancel_siblings_pending_flag",
      "cancel_siblings_pending_members")
    if req[1] ~= "true" then
      why = "flag_cleared"
    elseif V.sibling_running(C.tag_of(keys[2]), req[2] or "") then
      return C.ok("no_op", "siblings_running")
    end
  end
  if not why then V.clear_request(keys[2]) end
  redis.call("SREM", keys[1], member)
  if why then return C.ok("sremmed_stale", why) end
  return C.ok("completed_drain", "")
end

---------------------------------------------------------------------------
-- ff_cancel_execution  KEYS (21, spec 30 §7.B / §10.8): core, attempt,
--   stream meta, lease:current, lease:history, lease_expiry, worker leases,
--   suspension:current, waitpoint, waitpoint condition, suspension_timeout,
--   lane terminal, attempt_timeout, execution_deadline, lane eligible, lane
--   delayed, lane blocked:{dependencies,budget,quota,route,operator}
--   ARGV: execution id, reason, source, lease id, lease epoch
---------------------------------------------------------------------------

-- The indexes a cancelled execution leaves (every ZSET in KEYS but terminal).
V.CANCEL_ZSETS = { 6, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21 }

-- The keys a cancel writes beyond KEYS: the lane's active and suspended sets
-- (tag of the core, lane of the record) and the holder's own worker-lease set.
function V.cancel_extra_keys(keys, core)
  local tag, lane = C.tag_of(keys[1]), C.lane_of(core)
  local wiid = core.current_worker_instance_id
  return {
    active = C.lane_key(tag, lane, "active"), suspended = C.lane_key(tag, lane, "suspended"),
    leases = C.is_set(wiid) and ("ff:idx:" .. tag .. ":worker:" .. wiid .. ":leases") or nil,
  }
end

function V.cancel_types(keys, extra)
  local list = {
    { keys[2], "hash" }, { keys[3], "hash" }, { keys[5], "stream" }, { keys[7], "set" },
    { keys[8], "hash" }, { keys[9], "hash" }, { keys[10], "hash" }, { keys[12], "zset" },
    { extra.active, "zset" }, { extra.suspended, "zset" }, { extra.leases, "set" },
  }
  for _, i in ipairs(V.CANCEL_ZSETS) do list[#list + 1] = { keys[i], "zset" } end
  return list
end

-- Refusals of an active execution cancelled by someone else than an operator.
function V.lease_refusal(core, source, lease_id, epoch)
  if core.lifecycle_phase ~= "active" or source == "operator_override" then return nil end
  if core.ownership_state == "lease_revoked" then return C.err("lease_revoked") end
  if C.is_set(lease_id) and (core.current_lease_id ~= lease_id or core.current_lease_epoch ~= epoch) then
    return C.err("stale_lease")
  end
  return nil
end

-- The waitpoints a suspended execution's cancel closes: KEYS[9] (when it
-- exists and belongs to the execution) and the suspension's extras; nil +
-- refusal for a malformed extras list.
function V.cancel_waitpoints(keys, eid)
  local susp = C.hgetall_map(keys[8])
  local wps = {}
  if X.owns_waitpoint(keys[9], eid) then wps[1] = { keys[9], keys[10] } end
  return X.extra_waitpoints(keys[8], susp, eid, wps)
end

-- End the attempt and release the lease (active) or close the suspension
-- (suspended), as v34 does before the terminal write.
function V.cancel_attempt(keys, core, now, reason, wps)
  local phase, t = core.lifecycle_phase, C.ms_text(now)
  if phase ~= "active" and phase ~= "suspended" then return end
  if C.is_set(core.current_attempt_index) then
    redis.call("HSET", keys[2], "attempt_state", "ended_cancelled", "ended_at", t,
      "failure_reason", "cancelled: " .. reason)
  end
  C.close_stream_meta(keys[3], now, "attempt_cancelled", false)
  if phase == "active" then
    redis.call("DEL", keys[4])
    X.lease_released(keys[5], core, "cancelled", now)
    return
  end
  if redis.call("EXISTS", keys[8]) == 1 then
    redis.call("HSET", keys[8], "closed_at", t, "close_reason", "cancelled")
  end
  X.end_suspension_v34(keys[8], wps, now, "cancelled")
end

function V.cancel_core(keys, eid, core, now, reason, source)
  if not C.is_set(source) then source = eid end
  X.terminal_core(keys[1], core, now, "cancelled", { "cancellation_reason", reason,
    "cancelled_by", source, "lease_last_renewed_at", "", "lease_renewal_deadline", "" })
end

-- Out of every index but terminal, into terminal.
function V.cancel_indexes(keys, eid, extra, now)
  for _, i in ipairs(V.CANCEL_ZSETS) do redis.call("ZREM", keys[i], eid) end
  redis.call("ZREM", extra.active, eid)
  redis.call("ZREM", extra.suspended, eid)
  redis.call("SREM", keys[7], eid)
  if extra.leases and extra.leases ~= keys[7] then redis.call("SREM", extra.leases, eid) end
  redis.call("ZADD", keys[12], C.ms_text(now), eid)
end

function V.cancel_execution(keys, args)
  local eid, reason, source = args[1], args[2] or "", args[3] or ""
  if not C.is_set(eid) or eid ~= C.eid_from_core_key(keys[1]) then
    return C.err("invalid_input", "execution_id")
  end
  local bad = C.mistyped({ { keys[1], "hash" } })
  if bad then return C.invalid(bad) end
  local core = C.hgetall_map(keys[1])
  if not C.exists(core) then return C.err("execution_not_found") end
  local f = C.field_or_empty
  if core.lifecycle_phase == "terminal" then
    return { 0, "execution_not_active", f(core, "terminal_outcome"), f(core, "current_lease_epoch"),
      "terminal", f(core, "current_attempt_id") }
  end
  local refused = V.lease_refusal(core, source, args[4] or "", args[5] or "")
  if refused then return refused end
  local extra = V.cancel_extra_keys(keys, core)
  bad = C.mistyped(V.cancel_types(keys, extra))
  if bad then return C.invalid(bad) end
  local wps, refusal = {}, nil
  if core.lifecycle_phase == "suspended" then wps, refusal = V.cancel_waitpoints(keys, eid) end
  if not wps then return refusal end
  local now = C.now_ms()
  V.cancel_attempt(keys, core, now, reason, wps)
  V.cancel_core(keys, eid, core, now, reason, source)
  V.cancel_indexes(keys, eid, extra, now)
  if source ~= "flow_cascade" then C.publish_completion(core, eid, "cancelled") end
  return C.ok("cancelled", f(core, "lifecycle_phase"))
end

---------------------------------------------------------------------------
-- ff_set_edge_group_policy  KEYS: flow core, edge group
--   ARGV: policy_variant, on_satisfied, k, now_ms           (spec 30 §10.7)
---------------------------------------------------------------------------
V.VARIANTS = { all_of = true, any_of = true, quorum = true }
V.ON_SATISFIED = { cancel_remaining = true, let_run = true }

-- k as stored: quorum needs an integer >= 1; the others store k's integer
-- value or 0, as v34 does. nil + the refusal otherwise.
function V.policy_k(variant, raw)
  local k = ffb.int(raw or "0")
  if variant ~= "quorum" then return C.ms_text(k or 0) end
  if k == nil then return nil, C.err("invalid_input", "quorum k must be an integer >= 1") end
  if k < 1 then return nil, C.err("invalid_input", "quorum k must be >= 1") end
  return raw
end

function V.set_edge_group_policy(keys, args)
  local variant, on_sat, now = args[1], args[2] or "", args[4]
  local bad = C.mistyped({ { keys[1], "hash" }, { keys[2], "hash" } })
  if bad then return C.invalid(bad) end
  if redis.call("EXISTS", keys[1]) == 0 then return C.err("flow_not_found") end
  if not V.VARIANTS[variant] then
    return C.err("invalid_input", "unsupported_policy_variant: " .. tostring(variant))
  end
  local k, refusal = V.policy_k(variant, args[3])
  if not k then return refusal end
  if variant ~= "all_of" and not V.ON_SATISFIED[on_sat] then
    return C.err("invalid_input", "on_satisfied required for any_of/quorum: cancel_remaining | let_run")
  end
  if ffb.int(now or "") == nil then return C.err("invalid_input", "now_ms") end
  local stored = redis.call("HMGET", keys[2], "n", "policy_variant")
  local n = V.counter({ n = stored[1] or nil }, "n")
  if n == nil then return C.invalid("n") end
  if n > 0 then
    return C.err("invalid_input", "edge_group_policy_already_fixed: dependencies already staged")
  end
  if stored[2] == variant then return C.ok("already_set") end
  redis.call("HSET", keys[2], "policy_variant", variant, "on_satisfied", on_sat, "k", k,
    "n", "0", "succeeded", "0", "failed", "0", "skipped", "0", "group_state", "pending",
    "created_at", now)
  return C.ok("set")
end

---------------------------------------------------------------------------
-- ff_cancel_flow  KEYS: flow core, members, flow_index (unused),
--   pending_cancels, cancel_backlog
--   ARGV: flow id, reason, cancellation_policy, now_ms (unused: server time),
--   grace_ms (default 30000)                                  (spec 30 §2.4)
---------------------------------------------------------------------------

-- grace_ms: "" or absent = 30000; otherwise a finite integer in 0..2^53-1.
function V.grace_ms(raw)
  if raw == nil or raw == "" then return 30000 end
  local g = tonumber(raw)
  if g == nil or g ~= g or g < 0 or g > 9007199254740991 or g ~= math.floor(g) then return nil end
  return g
end

V.TERMINAL_FLOW = { cancelled = true, completed = true, failed = true }

function V.cancel_flow(keys, args)
  local fid, reason, policy = args[1], args[2] or "", args[3] or ""
  local grace = V.grace_ms(args[5])
  if not grace then return C.err("invalid_grace_ms") end
  if not (C.is_set(fid) and V.names_flow_key(keys[1], fid, "core")
      and V.names_flow_key(keys[4], fid, "pending_cancels")) then
    return C.err("invalid_input", "flow_id")
  end
  local bad = C.mistyped({ { keys[1], "hash" }, { keys[2], "set" }, { keys[4], "set" },
    { keys[5], "zset" } })
  if bad then return C.invalid(bad) end
  local flow = C.hgetall_map(keys[1])
  if not C.exists(flow) then return C.err("flow_not_found") end
  if V.TERMINAL_FLOW[flow.public_flow_state or ""] then return C.err("flow_already_terminal") end
  local members = redis.call("SMEMBERS", keys[2])
  local now = C.now_ms()
  local t = C.ms_text(now)
  redis.call("HSET", keys[1], "public_flow_state", "cancelled", "cancelled_at", t,
    "cancel_reason", reason, "cancellation_policy", policy, "last_mutation_at", t)
  if policy == "cancel_all" and #members > 0 then
    for first = 1, #members, 1000 do
      redis.call("SADD", keys[4], unpack(members, first, math.min(first + 999, #members)))
    end
    redis.call("ZADD", keys[5], C.ms_text(now + grace), fid)
  end
  local reply = { 1, "OK", policy }
  for i = 1, #members do reply[#reply + 1] = members[i] end
  return reply
end

---------------------------------------------------------------------------
-- Registration: level 34 only (the 0.1.1 library has none of these shapes).
---------------------------------------------------------------------------

if C.V34 then
  C.register_item("ff_cancel_execution", V.cancel_execution, 21)
  C.register_item("ff_ack_cancel_member", V.ack_cancel_member, 2)
  C.register_item("ff_drain_sibling_cancel_group", V.drain_sibling_cancel_group, 2)
  C.register_item("ff_reconcile_sibling_cancel_group", V.reconcile_sibling_cancel_group, 2)
  redis.register_function("ff_set_edge_group_policy", V.set_edge_group_policy)
  redis.register_function("ff_cancel_flow", V.cancel_flow)
end
