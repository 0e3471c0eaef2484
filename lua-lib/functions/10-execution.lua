-- 10-execution.lua: the five execution-partition maintenance functions of
-- FlowFabric 0.1.1 (spec 10 §B), wire-compatible (same KEYS, ARGV, writes,
-- reply shapes and codes) with scanhost's fixes:
--   * every stored field is parsed and validated before the first write; a bad
--     one gives {0, "invalid_state", "<field>"} and nothing changes;
--   * so is the type of every key a path writes: Redis does not undo the writes
--     of a function that raises (WRONGTYPE) half-way, so a key of another type
--     is refused first ({0, "invalid_state", "<key>"}); keys already read with
--     a typed command (the core's HGETALL) need no second look;
--   * ff_promote_delayed promotes an item whose delay_until is "" (due time
--     taken from its delayed-set score);
--   * ff_expire_execution re-checks atomically that the timeout is really due;
--   * index entries that can never be acted on are removed;
--   * no stray hash is written for an empty waitpoint id or lane.
-- At library level 34 (00-common.lua) they also do what v34 added (spec 30
-- §10.6): ff_expire_execution and ff_expire_suspension PUBLISH the completion
-- of a flow member, and an ending suspension drops its multi-signal state and
-- closes its extra waitpoints.
-- Uses the helper table C of 00-common.lua.

local X = {}

-- ---------------------------------------------------------------- lease expiry

-- The stream meta of the core's current attempt, or nil.
function X.attempt_meta_key(core_key, core)
  local ai = core.current_attempt_index
  local tag, eid = C.tag_of(core_key), C.eid_from_core_key(core_key)
  if C.is_set(ai) and tag and eid then
    return "ff:stream:" .. tag .. ":" .. eid .. ":" .. ai .. ":meta"
  end
  return nil
end

-- Fields written when a lease is marked expired (B.1 step 7.1).
function X.mark_expired(core_key, hist_key, core, now, meta_key, seen)
  local t = C.ms_text(now)
  C.hset(core_key, {
    "lifecycle_phase", core.lifecycle_phase or "active",
    "ownership_state", "lease_expired_reclaimable",
    "eligibility_state", core.eligibility_state or "not_applicable",
    "blocking_reason", "waiting_for_worker",
    "blocking_detail", "lease expired, awaiting reclaim",
    "terminal_outcome", core.terminal_outcome or "none",
    "attempt_state", "attempt_interrupted",
    "public_state", "active",
    "lease_expired_at", t,
    "last_mutation_at", t,
  })
  local f = C.field_or_empty
  redis.call("XADD", hist_key, "MAXLEN", "~", "1000", "*",
    "event", "expired", "lease_id", f(core, "current_lease_id"),
    "lease_epoch", f(core, "current_lease_epoch"),
    "attempt_index", f(core, "current_attempt_index"),
    "attempt_id", f(core, "current_attempt_id"), "worker_id", f(core, "current_worker_id"),
    "worker_instance_id", f(core, "current_worker_instance_id"), "ts", t)
  if meta_key then C.close_stream_meta(meta_key, now, "lease_expired", true, seen) end
end

-- The core fields a lease expiry reads (X.mark_lease_expired_if_due,
-- X.attempt_meta_key, X.mark_expired).
X.LEASE_FIELDS = { "lifecycle_phase", "ownership_state", "lease_expires_at", "current_attempt_index",
  "eligibility_state", "terminal_outcome", "current_lease_id", "current_lease_epoch", "current_attempt_id",
  "current_worker_id", "current_worker_instance_id" }

-- KEYS: core, lease:current (unused), lease_expiry zset, lease:history. ARGV: eid.
-- call: the batch call's state (C.now_of).
function X.mark_lease_expired_if_due(keys, args, call)
  local eid = args[1]
  if not C.is_set(eid) then return C.err("invalid_input", "execution_id") end
  local core = C.hmget_map(keys[1], X.LEASE_FIELDS)
  local function done(reason, clean)
    if clean then redis.call("ZREM", keys[3], eid) end
    return { 1, "ALREADY_SATISFIED", reason }
  end
  if not C.found(keys[1], core) then return done("execution_not_found", true) end
  if core.lifecycle_phase ~= "active" then return done("not_active", true) end
  local own = core.ownership_state
  if own == "lease_expired_reclaimable" then return done("already_expired") end
  if own == "lease_revoked" then return done("already_revoked") end
  if own == "unowned" then return done("unowned", true) end
  local expires = C.num_field(core, "lease_expires_at", 0)
  if expires == nil then return C.invalid("lease_expires_at") end
  local now = C.now_of(call)
  if expires > now then return done("not_yet_expired") end
  local meta = X.attempt_meta_key(keys[1], core)
  local seen = {}
  local bad = C.refuse_mistyped({ { keys[4], "stream" }, { meta, "hash" } }, seen)
  if bad then return bad end
  X.mark_expired(keys[1], keys[4], core, now, meta, seen)
  return C.ok("marked_expired")
end

-- ------------------------------------------------------------ delayed promoter

-- Due time of a delayed record: delay_until, or (fix for quirk 8) the member's
-- delayed-set score when delay_until is "". nil + field when unparsable.
function X.delay_due(core, delayed_key, eid)
  local v = core.delay_until
  if v == "" then
    return tonumber(redis.call("ZSCORE", delayed_key, eid) or "0")
  end
  local due = C.num_field(core, "delay_until", 0)
  if due == nil then return nil, "delay_until" end
  return due
end

-- The core fields a promotion reads (X.delay_due, C.eligible_score).
X.DELAYED_FIELDS = { "lifecycle_phase", "eligibility_state", "delay_until", "priority", "created_at" }

-- The refusal of a delayed or eligible set of another type, or nil (checked
-- before the first write). A batch call (call: its state) looks at a pair
-- once: its promotions write these sets only with ZREM and ZADD, and a core
-- only where a hash already is, so a pair found to be sorted sets (or
-- missing) stays so for the rest of the call.
function X.refuse_lane_sets(call, delayed, eligible)
  if call and call.delayed == delayed and call.eligible == eligible then return nil end
  local bad = C.refuse_mistyped({ { delayed, "zset" }, { eligible, "zset" } })
  if not bad and call then call.delayed, call.eligible = delayed, eligible end
  return bad
end

-- KEYS: core, lane delayed, lane eligible. ARGV: eid, now_ms (caller's
-- clock). call: the batch call's state (X.refuse_lane_sets).
function X.promote_delayed(keys, args, call)
  local now = tonumber(args[2])
  if now == nil then
    return C.err("invalid_input", "now_ms must be a number, got: " .. tostring(args[2]))
  end
  local eid = args[1]
  if not C.is_set(eid) then return C.err("invalid_input", "execution_id") end
  local core = C.hmget_map(keys[1], X.DELAYED_FIELDS)
  local function cleaned(code)
    redis.call("ZREM", keys[2], eid)
    return C.ok(code)
  end
  if not C.found(keys[1], core) then return cleaned("not_found_cleaned") end
  if core.lifecycle_phase ~= "runnable" then return cleaned("not_runnable_cleaned") end
  if core.eligibility_state ~= "not_eligible_until_time" then return cleaned("not_delayed_cleaned") end
  local due, bad = X.delay_due(core, keys[2], eid)
  if due == nil then return C.invalid(bad) end
  if due > now then return C.ok("not_yet_due") end
  local score, bad_field = C.eligible_score(core)
  if score == nil then return C.invalid(bad_field) end
  local mistyped = X.refuse_lane_sets(call, keys[2], keys[3])
  if mistyped then return mistyped end
  local t = C.ms_text(now)
  C.hset(keys[1], {
    "lifecycle_phase", "runnable", "ownership_state", "unowned",
    "eligibility_state", "eligible_now", "blocking_reason", "waiting_for_worker",
    "blocking_detail", "", "terminal_outcome", "none", "public_state", "waiting",
    "delay_until", "", "last_transition_at", t, "last_mutation_at", t,
  })
  redis.call("ZREM", keys[2], eid)
  redis.call("ZADD", keys[3], C.ms_text(score), eid)
  return C.ok("promoted")
end

-- ----------------------------------------------------------- expire execution

-- End the current attempt (only when an attempt index is set).
function X.end_attempt(core, attempt_key, now, reason)
  if C.is_set(core.current_attempt_index) then
    redis.call("HSET", attempt_key, "attempt_state", "ended_failure",
      "ended_at", C.ms_text(now), "failure_reason", reason)
  end
end

-- The lease-history entry of a lease given back (expiry, cancel).
function X.lease_released(hist_key, core, reason, now)
  local f = C.field_or_empty
  redis.call("XADD", hist_key, "MAXLEN", "~", "1000", "*",
    "event", "released", "lease_id", f(core, "current_lease_id"),
    "lease_epoch", f(core, "current_lease_epoch"),
    "attempt_index", f(core, "current_attempt_index"), "reason", reason, "ts", C.ms_text(now))
end

-- B.3 step 3: release the lease of an active execution.
function X.expire_active(keys, eid, core, now, reason, seen)
  X.end_attempt(core, keys[2], now, reason)
  C.close_stream_meta(keys[3], now, "expired", false, seen)
  redis.call("DEL", keys[4])
  redis.call("ZREM", keys[6], eid)
  redis.call("SREM", keys[7], eid)
  local wiid = core.current_worker_instance_id
  if C.is_set(wiid) then
    redis.call("SREM", "ff:idx:" .. C.tag_of(keys[1]) .. ":worker:" .. wiid .. ":leases", eid)
  end
  redis.call("ZREM", keys[8], eid)
  X.lease_released(keys[5], core, "expired:" .. reason, now)
end

-- B.3 step 4: close the suspension of a suspended execution.
function X.expire_suspended(keys, eid, core, now, reason, seen)
  X.end_attempt(core, keys[2], now, reason)
  if C.key_exists(keys[14], seen) then
    redis.call("HSET", keys[14], "closed_at", C.ms_text(now), "close_reason", "expired:" .. reason)
  end
  C.close_stream_meta(keys[3], now, "expired", false, seen)
  redis.call("ZREM", keys[12], eid)
  redis.call("ZREM", keys[13], eid)
end

-- B.3 step 5: drop a runnable execution from its lane set (all seven when the
-- eligibility is unknown). The lane never comes out empty (C.lane_of).
function X.expire_runnable(keys, eid, core)
  local tag, lane = C.tag_of(keys[1]), C.lane_of(core)
  local set = C.RUNNABLE_SETS[core.eligibility_state or ""]
  if set then
    redis.call("ZREM", C.lane_key(tag, lane, set), eid)
    return
  end
  for _, es in ipairs(C.RUNNABLE_ORDER) do
    redis.call("ZREM", C.lane_key(tag, lane, C.RUNNABLE_SETS[es]), eid)
  end
end

-- The core write of an execution that ends with `outcome` (expiry, cancel):
-- the terminal state vector, attempt_terminal when an attempt index is set,
-- completed_at, the lease, worker, suspension and waitpoint ids cleared;
-- extra: more {field, value, ...} of the caller.
function X.terminal_core(core_key, core, now, outcome, extra)
  local att = core.attempt_state or "none"
  if C.is_set(core.current_attempt_index) then att = "attempt_terminal" end
  local t = C.ms_text(now)
  local flat = {
    "lifecycle_phase", "terminal", "ownership_state", "unowned",
    "eligibility_state", "not_applicable", "blocking_reason", "none", "blocking_detail", "",
    "terminal_outcome", outcome, "attempt_state", att, "public_state", outcome,
    "completed_at", t, "current_lease_id", "",
    "current_worker_id", "", "current_worker_instance_id", "", "lease_expires_at", "",
    "current_suspension_id", "", "current_waitpoint_id", "",
    "last_transition_at", t, "last_mutation_at", t,
  }
  for i = 1, #extra do flat[#flat + 1] = extra[i] end
  C.hset(core_key, flat)
end

-- B.3 step 7: the terminal write common to all non-terminal paths.
function X.expire_core(keys, eid, core, now, reason)
  local t = C.ms_text(now)
  X.terminal_core(keys[1], core, now, "expired", { "failure_reason", reason })
  redis.call("ZREM", keys[10], eid)
  redis.call("ZREM", keys[11], eid)
  redis.call("ZADD", keys[9], t, eid)
end

-- Atomic due re-check (fix): the reason's own index holds the due time.
-- Returns nil when due, else the no-op code. Unknown reasons trust the caller.
function X.expiry_not_due(keys, eid, reason, now)
  local idx = ({ attempt_timeout = keys[10], execution_deadline = keys[11] })[reason]
  if not idx then return nil end
  local score = redis.call("ZSCORE", idx, eid)
  if not score then return "no_timeout_pending" end
  if tonumber(score) > now then return "not_yet_due" end
  return nil
end

-- The keys the path of `phase` writes, with their types (X.expire_active,
-- X.expire_suspended, X.expire_runnable, then X.expire_core).
function X.expire_writes(keys, core, phase)
  local list = { { keys[9], "zset" }, { keys[10], "zset" }, { keys[11], "zset" } }
  local function add(key, kind) list[#list + 1] = { key, kind } end
  if phase == "active" or phase == "suspended" then
    if C.is_set(core.current_attempt_index) then add(keys[2], "hash") end
    add(keys[3], "hash")
  end
  if phase == "active" then
    add(keys[5], "stream")
    add(keys[6], "zset")
    add(keys[7], "set")
    add(keys[8], "zset")
    local wiid = core.current_worker_instance_id
    if C.is_set(wiid) then add("ff:idx:" .. C.tag_of(keys[1]) .. ":worker:" .. wiid .. ":leases", "set") end
  elseif phase == "suspended" then
    add(keys[12], "zset")
    add(keys[13], "zset")
    add(keys[14], "hash")
  elseif phase == "runnable" then
    local tag, lane = C.tag_of(keys[1]), C.lane_of(core)
    local set = C.RUNNABLE_SETS[core.eligibility_state or ""]
    if set then
      add(C.lane_key(tag, lane, set), "zset")
    else
      for _, es in ipairs(C.RUNNABLE_ORDER) do add(C.lane_key(tag, lane, C.RUNNABLE_SETS[es]), "zset") end
    end
  end
  return list
end

-- The core fields an expiry reads (X.expire_writes, X.expire_active,
-- X.expire_suspended, X.expire_runnable, X.terminal_core, X.lease_released,
-- C.publish_completion).
X.EXPIRE_FIELDS = { "lifecycle_phase", "current_attempt_index", "current_worker_instance_id", "lane_id",
  "current_lane", "eligibility_state", "attempt_state", "current_lease_id", "current_lease_epoch", "flow_id" }

-- KEYS(14): see spec 10 §B.3. ARGV: eid, reason (default attempt_timeout).
-- call: the batch call's state (C.now_of).
function X.expire_execution(keys, args, call)
  local eid, reason = args[1], args[2] or "attempt_timeout"
  if not C.is_set(eid) then return C.err("invalid_input", "execution_id") end
  local core = C.hmget_map(keys[1], X.EXPIRE_FIELDS)
  local phase = core.lifecycle_phase
  local found = C.found(keys[1], core)
  if not found or phase == "terminal" then
    local bad = C.refuse_mistyped({ { keys[10], "zset" }, { keys[11], "zset" } })
    if bad then return bad end
    redis.call("ZREM", keys[10], eid)
    redis.call("ZREM", keys[11], eid)
    return C.ok(found and "already_terminal" or "not_found_cleaned")
  end
  local now = C.now_of(call)
  local not_due = X.expiry_not_due(keys, eid, reason, now)
  if not_due then return C.ok(not_due) end
  local seen = {}
  local bad = C.refuse_mistyped(X.expire_writes(keys, core, phase), seen)
  if bad then return bad end
  if phase == "active" then
    X.expire_active(keys, eid, core, now, reason, seen)
  elseif phase == "suspended" then
    X.expire_suspended(keys, eid, core, now, reason, seen)
  elseif phase == "runnable" then
    X.expire_runnable(keys, eid, core)
  end
  X.expire_core(keys, eid, core, now, reason)
  if C.V34 then C.publish_completion(core, eid, "expired") end
  return { 1, "OK", "expired", phase }
end

-- ---------------------------------------------------------- expire suspension

-- Terminal mapping of a timeout behaviour (anything unknown takes "fail").
X.SUSPENSION_OUTCOMES = {
  cancel = { "cancelled", "timed_out_cancel", "ended_cancelled" },
  expire = { "expired", "timed_out_expire", "ended_failure" },
}
X.SUSPENSION_FAIL = { "failed", "timed_out_fail", "ended_failure" }

-- Does the waitpoint hash exist and belong to execution eid? A bogus or
-- foreign id must neither create stray hashes nor close another execution's
-- live waitpoint.
function X.owns_waitpoint(wp_key, eid)
  if redis.call("EXISTS", wp_key) == 0 then return false end
  local owner = redis.call("HGET", wp_key, "execution_id")
  return not C.is_set(owner) or owner == eid
end

-- Close the waitpoint, its condition and the suspension record. The waitpoint
-- hashes are written only for a waitpoint the execution owns (X.owns_waitpoint).
function X.close_suspension(keys, core, now, reason)
  local t = C.ms_text(now)
  if C.is_set(core.current_waitpoint_id)
    and X.owns_waitpoint(keys[3], C.eid_from_core_key(keys[1])) then
    redis.call("HSET", keys[3], "state", "closed", "closed_at", t, "close_reason", reason)
    redis.call("HSET", keys[4], "closed", "1", "closed_at", t, "closed_reason", reason)
  end
  redis.call("HSET", keys[2], "closed_at", t, "close_reason", reason)
end

-- ------------------------------------------- v34: the end of a suspension

-- The extra waitpoints of a suspension (v34 multi-waitpoint suspensions:
-- additional_waitpoints_json, a JSON array of {waitpoint_id, waitpoint_key})
-- that exist and belong to eid, as {waitpoint, condition} key pairs (tag of
-- susp_key), appended to wps (default {}). Checked before the first write: a
-- list that does not decode, an entry without a waitpoint id or a waitpoint
-- key of another type gives nil + the refusal.
function X.extra_waitpoints(susp_key, susp, eid, wps)
  local out, raw = wps or {}, susp.additional_waitpoints_json
  if not C.is_set(raw) then return out end
  local decoded, list = pcall(cjson.decode, raw)
  if not decoded or type(list) ~= "table" then return nil, C.invalid("additional_waitpoints_json") end
  local tag = C.tag_of(susp_key)
  for i = 1, #list do
    local id = type(list[i]) == "table" and list[i].waitpoint_id
    if type(id) ~= "string" or id == "" then return nil, C.invalid("additional_waitpoints_json") end
    local wp = "ff:wp:" .. tag .. ":" .. id
    local bad = C.mistyped({ { wp, "hash" }, { wp .. ":condition", "hash" } })
    if bad then return nil, C.invalid(bad) end
    if X.owns_waitpoint(wp, eid) then out[#out + 1] = { wp, wp .. ":condition" } end
  end
  return out
end

-- Close waitpoints ({waitpoint, condition} key pairs; the waitpoint hash is
-- known to exist) and their existing conditions.
function X.close_waitpoints(wps, now, reason)
  local t = C.ms_text(now)
  for i = 1, #wps do
    local wp, cond = wps[i][1], wps[i][2]
    redis.call("HSET", wp, "state", "closed", "closed_at", t, "close_reason", reason)
    if redis.call("EXISTS", cond) == 1 then
      redis.call("HSET", cond, "closed", "1", "closed_at", t, "closed_reason", reason)
    end
  end
end

-- v34: a suspension that ends drops its multi-signal resume state and closes
-- its extra waitpoints (nothing at level 5, as 0.1.1).
function X.end_suspension_v34(susp_key, extras, now, reason)
  if not C.V34 then return end
  redis.call("DEL", susp_key .. ":satisfied_set", susp_key .. ":satisfied_set:signals",
    susp_key .. ":member_map")
  X.close_waitpoints(extras, now, reason)
end

-- B.4 step 6: auto_resume back to eligible (score validated by the caller).
function X.suspension_auto_resume(keys, eid, core, now, score, extras)
  local t = C.ms_text(now)
  C.hset(keys[1], {
    "lifecycle_phase", "runnable", "ownership_state", "unowned",
    "eligibility_state", "eligible_now", "blocking_reason", "waiting_for_worker",
    "blocking_detail", "", "terminal_outcome", "none", "attempt_state", "attempt_interrupted",
    "public_state", "waiting", "current_suspension_id", "", "current_waitpoint_id", "",
    "last_transition_at", t, "last_mutation_at", t,
  })
  redis.call("ZREM", keys[8], eid)
  redis.call("ZADD", keys[10], C.ms_text(score), eid)
  X.close_suspension(keys, core, now, "timed_out_auto_resume")
  X.end_suspension_v34(keys[2], extras, now, "timed_out_auto_resume")
  redis.call("ZREM", keys[7], eid)
  return C.ok("auto_resume", "waiting")
end

-- B.4 step 7: escalate to an operator; the suspension stays open.
function X.suspension_escalate(keys, eid, core, susp, now, timeout)
  C.hset(keys[1], {
    "lifecycle_phase", "suspended", "ownership_state", "unowned",
    "eligibility_state", "not_applicable", "blocking_reason", "paused_by_operator",
    "blocking_detail", "suspension escalated: timeout at " .. C.ms_text(timeout),
    "terminal_outcome", "none", "attempt_state", core.attempt_state or "attempt_interrupted",
    "public_state", "suspended", "last_mutation_at", C.ms_text(now),
  })
  redis.call("HSET", keys[2], "reason_code", "waiting_for_operator_review",
    "timeout_at", "", "timeout_behavior", "")
  redis.call("ZREM", keys[7], eid)
  return C.ok("escalate", "suspended")
end

-- B.4 step 8: terminal outcomes (fail, cancel, expire, anything else -> fail).
function X.suspension_terminal(keys, eid, core, now, behavior, extras)
  local m = X.SUSPENSION_OUTCOMES[behavior] or X.SUSPENSION_FAIL
  local outcome, close_reason, attempt_end = m[1], m[2], m[3]
  local t, failure = C.ms_text(now), "suspension_timeout:" .. behavior
  C.hset(keys[1], {
    "lifecycle_phase", "terminal", "ownership_state", "unowned",
    "eligibility_state", "not_applicable", "blocking_reason", "none", "blocking_detail", "",
    "terminal_outcome", outcome, "attempt_state", "attempt_terminal", "public_state", outcome,
    "failure_reason", failure, "completed_at", t, "current_suspension_id", "",
    "current_waitpoint_id", "", "last_transition_at", t, "last_mutation_at", t,
  })
  if C.is_set(core.current_attempt_index) then
    redis.call("HSET", keys[5], "attempt_state", attempt_end, "ended_at", t,
      "failure_reason", failure, "suspended_at", "", "suspension_id", "")
  end
  C.close_stream_meta(keys[6], now, "suspension_timeout", false)
  X.close_suspension(keys, core, now, close_reason)
  X.end_suspension_v34(keys[2], extras, now, close_reason)
  redis.call("ZREM", keys[7], eid)
  redis.call("ZREM", keys[8], eid)
  redis.call("ZADD", keys[9], t, eid)
  if C.V34 then C.publish_completion(core, eid, outcome) end
  return C.ok(behavior, outcome)
end

-- The keys an ending suspension writes (auto resume or a terminal outcome),
-- with their types; keys[2] was read by HGETALL.
function X.suspension_writes(keys, core, resume)
  local list = { { keys[7], "zset" }, { keys[8], "zset" } }
  if C.is_set(core.current_waitpoint_id) then
    list[#list + 1] = { keys[3], "hash" }
    list[#list + 1] = { keys[4], "hash" }
  end
  if resume then
    list[#list + 1] = { keys[10], "zset" }
    return list
  end
  list[#list + 1] = { keys[9], "zset" }
  list[#list + 1] = { keys[6], "hash" }
  if C.is_set(core.current_attempt_index) then list[#list + 1] = { keys[5], "hash" } end
  return list
end

-- The core fields an ending suspension reads (X.suspension_writes,
-- X.close_suspension, X.suspension_escalate, C.eligible_score,
-- C.publish_completion).
X.SUSPENSION_FIELDS = { "lifecycle_phase", "current_waitpoint_id", "current_attempt_index", "attempt_state",
  "priority", "created_at", "flow_id" }

-- KEYS(12): see spec 10 §B.4 (11 and 12 unused). ARGV: eid. call: the batch
-- call's state (C.now_of).
function X.expire_suspension(keys, args, call)
  local eid = args[1]
  if not C.is_set(eid) then return C.err("invalid_input", "execution_id") end
  local core = C.hmget_map(keys[1], X.SUSPENSION_FIELDS)
  local function cleaned(code)
    redis.call("ZREM", keys[7], eid)
    return C.ok(code)
  end
  if not C.found(keys[1], core) then return cleaned("not_found_cleaned") end
  if core.lifecycle_phase ~= "suspended" then return cleaned("not_suspended_cleaned") end
  local susp = C.hgetall_map(keys[2])
  if not C.is_set(susp.suspension_id) or C.is_set(susp.closed_at) then
    return cleaned("no_active_suspension_cleaned")
  end
  local timeout = C.num_field(susp, "timeout_at", 0)
  if timeout == nil then return C.invalid("timeout_at") end
  local now = C.now_of(call)
  if timeout == 0 or timeout > now then return C.ok("not_yet_due") end
  local behavior = susp.timeout_behavior or "fail"
  if behavior == "escalate" then
    local bad = C.refuse_mistyped({ { keys[7], "zset" } })
    if bad then return bad end
    return X.suspension_escalate(keys, eid, core, susp, now, timeout)
  end
  local extras, refusal = {}, nil
  if C.V34 then extras, refusal = X.extra_waitpoints(keys[2], susp, eid) end
  if not extras then return refusal end
  local resume = behavior == "auto_resume" or behavior == "auto_resume_with_timeout_signal"
  local score, bad = 0, nil
  if resume then
    score, bad = C.eligible_score(core)
    if score == nil then return C.invalid(bad) end
  end
  local mistyped = C.refuse_mistyped(X.suspension_writes(keys, core, resume))
  if mistyped then return mistyped end
  if resume then return X.suspension_auto_resume(keys, eid, core, now, score, extras) end
  return X.suspension_terminal(keys, eid, core, now, behavior, extras)
end

-- -------------------------------------------------------------- close waitpoint

-- KEYS: core (unused), waitpoint hash, pending_waitpoint_expiry. ARGV: wp id,
-- reason (default proactive_close). A missing or already closed waitpoint can
-- never be acted on again, so its pending entry is removed (fix for quirk 14).
-- call: the batch call's state (C.now_of).
function X.close_waitpoint(keys, args, call)
  local wid, reason = args[1], args[2] or "proactive_close"
  if not C.is_set(wid) then return C.err("invalid_input", "waitpoint_id") end
  local wp = C.hmget_map(keys[2], { "state" })
  if not C.found(keys[2], wp) then
    redis.call("ZREM", keys[3], wid)
    return C.err("waitpoint_not_found")
  end
  local state = wp.state
  if state ~= "pending" and state ~= "active" then
    if state == "closed" or state == "expired" then
      redis.call("ZREM", keys[3], wid)
      return C.ok("already_closed")
    end
    return C.err("waitpoint_not_open")
  end
  local bad = C.refuse_mistyped({ { keys[3], "zset" } })
  if bad then return bad end
  redis.call("HSET", keys[2], "state", "closed", "closed_at", C.ms_text(C.now_of(call)),
    "close_reason", reason)
  redis.call("ZREM", keys[3], wid)
  return C.ok()
end

C.register_item("ff_mark_lease_expired_if_due", X.mark_lease_expired_if_due, 4)
C.register_item("ff_promote_delayed", X.promote_delayed, 3)
C.register_item("ff_expire_execution", X.expire_execution, 14)
C.register_item("ff_expire_suspension", X.expire_suspension, 12)
C.register_item("ff_close_waitpoint", X.close_waitpoint, 3)
