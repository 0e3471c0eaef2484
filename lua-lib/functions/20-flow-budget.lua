-- 20-flow-budget.lua: scanhost's ff_unblock_execution, ff_resolve_dependency and
-- ff_reset_budget (spec 20 §B), wire-compatible with FlowFabric 0.1.1 (same KEYS,
-- ARGV, state changes and reply codes on the main paths).
-- scanhost differences, all on the "invalid data" side: every value a function
-- computes with is validated before the first write, and a bad value returns
-- {0, "invalid_state", <field>} (stored data) or {0, "invalid_argument", <name>}
-- (ARGV) with nothing changed; ff_reset_budget never resurrects a deleted budget
-- and advances its schedule in whole intervals (quirks B2, B3, B5), and re-checks
-- atomically that the reset is due, so it applies at most once per period however
-- many instances call it ({0, "not_due"} otherwise; issue 14).
-- All helpers live in ONE table so this file adds a single top-level local to
-- the shared library chunk (Lua's 200-locals limit, names of 00-common.lua).
local ffb = {}

-- Shared helpers come from 00-common.lua's table C (is_set, hgetall_map, exists,
-- eligible_score, ok/err/invalid, ms_text, close_stream_meta).

-- Strict decimal integer (optional minus sign); anything else → nil.
-- Stored timestamps/counters are always integer text, so "1.5", " 7" or "" are bad data.
-- Canonical form (no leading zero) of at most 15 digits only: a double holds it
-- exactly, and HINCRBY accepts it and cannot overflow (it refuses "01" or 2^63-1,
-- which would raise after earlier writes of the same call).
function ffb.int(v)
  local digits = type(v) == "string" and v:match("^%-?(%d+)$")
  if not digits or #digits > 15 or (#digits > 1 and digits:sub(1, 1) == "0") then return nil end
  if v == "-0" then return nil end
  return tonumber(v)
end

-- HGETALL map plus "did the key exist".
function ffb.hgetall(key)
  local map = C.hgetall_map(key)
  return map, C.exists(map)
end

-- ARGV timestamps are stored verbatim, so they must be plain integer ms text.
function ffb.check_now(v)
  if ffb.int(v) == nil then return C.err("invalid_argument", "now_ms") end
  return nil
end

---------------------------------------------------------------------------
-- ff_unblock_execution  KEYS: core, blocked set, eligible set
--                       ARGV: execution id, now_ms, expected reason (optional)
---------------------------------------------------------------------------
ffb.UNBLOCKABLE = {
  blocked_by_budget = true, blocked_by_quota = true,
  blocked_by_route = true, blocked_by_operator = true,
}

-- Every check of §B.1 plus scanhost's data checks; returns the rejection or nil, score.
function ffb.unblock_check(core, found, expected)
  if not found then return { 0, "execution_not_found" } end
  if core.lifecycle_phase ~= "runnable" then return { 0, "execution_not_eligible" } end
  if not ffb.UNBLOCKABLE[core.eligibility_state] then return { 0, "execution_not_eligible" } end
  if C.is_set(expected) and core.blocking_reason ~= expected then
    return { 0, "execution_not_eligible" }
  end
  local score, bad = C.eligible_score(core)
  if score == nil then return { 0, "invalid_state", bad } end
  return nil, score
end

function ffb.unblock_execution(keys, args)
  local eid, now = args[1], args[2]
  if not C.is_set(eid) then return { 0, "invalid_argument", "execution_id" } end
  local bad_now = ffb.check_now(now)
  if bad_now then return bad_now end
  local core, found = ffb.hgetall(keys[1])
  local reject, score = ffb.unblock_check(core, found, args[3])
  if reject then return reject end
  local bad = C.refuse_mistyped({ { keys[2], "zset" }, { keys[3], "zset" } })
  if bad then return bad end
  redis.call("HSET", keys[1],
    "lifecycle_phase", "runnable", "ownership_state", "unowned",
    "eligibility_state", "eligible_now", "blocking_reason", "waiting_for_worker",
    "blocking_detail", "", "terminal_outcome", "none",
    "attempt_state", core.attempt_state or "pending_first_attempt",
    "public_state", "waiting", "last_transition_at", now, "last_mutation_at", now)
  redis.call("ZREM", keys[2], eid)
  redis.call("ZADD", keys[3], score, eid)
  return { 1, "OK", "unblocked" }
end

---------------------------------------------------------------------------
-- ff_resolve_dependency  KEYS (11): core, deps:meta, deps:unresolved, dep:<edge>,
--   eligible, terminal, blocked:dependencies, attempt hash, stream meta, payload,
--   upstream result.   ARGV: edge id, upstream outcome, now_ms
-- At library level 34 a call with more KEYS is v34's shape (KEYS 12-14: edge
-- group, inbound edge set, pending_cancel_groups; ARGV 4-5: flow id,
-- downstream id), handled by ffb.resolve_v34 in 25-v34.lua.
---------------------------------------------------------------------------

-- deps:meta counters go through HINCRBY: a present non-integer value would make
-- HINCRBY fail after the dep record was already written, so reject it up front.
function ffb.check_meta(meta_key)
  local vals = redis.call("HMGET", meta_key, "unsatisfied_required_count", "impossible_required_count")
  local names = { "unsatisfied_required_count", "impossible_required_count" }
  for i = 1, 2 do
    if vals[i] and ffb.int(vals[i]) == nil then return nil, names[i] end
  end
  return (ffb.int(vals[1] or "0"))
end

-- Promotion happens only with a remaining count of exactly 0 and this exact state (§B.2 3.7).
function ffb.promotable(core, remaining)
  return remaining == 0 and core.lifecycle_phase == "runnable"
    and core.ownership_state == "unowned" and core.terminal_outcome == "none"
    and core.eligibility_state == "blocked_by_dependencies"
end

-- v34's AllOf path (spec 30 §10.1 steps 4-5) also counts the edge in the
-- edge-group hash; eg is nil on the 0.1.1 path. eg = { key = the group hash
-- or nil (none), fired = its group_state is no longer pending }. The state
-- only leaves pending: v34 would turn an impossible group satisfied when its
-- last edge resolves (scanhost difference).
function ffb.count_edge(eg, counter, verdict)
  if not (eg and eg.key) then return end
  redis.call("HINCRBY", eg.key, counter, 1)
  if verdict and not eg.fired then redis.call("HSET", eg.key, "group_state", verdict) end
end

function ffb.mark_edge(keys, args, state)
  redis.call("HSET", keys[4], "state", state, "last_resolved_at", args[3])
  redis.call("SREM", keys[3], args[1])
end

-- COPY the upstream result over the child's payload when the edge passes data.
function ffb.inject_data(keys, dep, core)
  if C.is_set(dep.data_passing_ref) and core.terminal_outcome == "none" then
    if redis.call("COPY", keys[11], keys[10], "REPLACE") == 1 then return "data_injected" end
  end
  return ""
end

function ffb.promote(keys, core, now, score)
  local member = core.execution_id or ""
  local attempt = core.attempt_state
  if not C.is_set(attempt) or attempt == "none" then attempt = "pending_first_attempt" end
  redis.call("HSET", keys[1],
    "lifecycle_phase", core.lifecycle_phase, "ownership_state", core.ownership_state or "unowned",
    "eligibility_state", "eligible_now", "blocking_reason", "waiting_for_worker",
    "blocking_detail", "", "terminal_outcome", "none", "attempt_state", attempt,
    "public_state", "waiting", "last_transition_at", now, "last_mutation_at", now)
  redis.call("ZREM", keys[7], member)
  redis.call("ZADD", keys[5], score, member)
end

-- The child's ZSET member is the core's execution_id (0.1.1); it must name the
-- core's own key, or a corrupt value would put a foreign member in the indexes.
function ffb.member_ok(keys, core)
  return core.execution_id == C.eid_from_core_key(keys[1])
end

function ffb.resolve_satisfied(keys, args, dep, unsatisfied, eg)
  local core, found = ffb.hgetall(keys[1])
  local score
  if found and ffb.promotable(core, unsatisfied - 1) then
    if not ffb.member_ok(keys, core) then return { 0, "invalid_state", "execution_id" } end
    local bad
    score, bad = C.eligible_score(core)
    if score == nil then return { 0, "invalid_state", bad } end
  end
  ffb.mark_edge(keys, args, "satisfied")
  local remaining = redis.call("HINCRBY", keys[2], "unsatisfied_required_count", -1)
  redis.call("HSET", keys[2], "last_dependency_update_at", args[3])
  ffb.count_edge(eg, "succeeded", remaining == 0 and "satisfied")
  if not found then return { 1, "OK", "satisfied", "" } end
  local marker = ffb.inject_data(keys, dep, core)
  if remaining == 0 and score then ffb.promote(keys, core, args[3], score) end
  return { 1, "OK", "satisfied", marker }
end

-- Attempt state for a skipped child; ends a running attempt as 0.1.1 does.
function ffb.skip_attempt(keys, core, now)
  local attempt = core.attempt_state or "none"
  if attempt == "running_attempt" or attempt == "attempt_interrupted" then
    redis.call("HSET", keys[8], "attempt_state", "ended_cancelled", "ended_at", now,
      "failure_reason", "dependency_impossible")
    C.close_stream_meta(keys[9], tonumber(now), "dependency_impossible", false)
    return "attempt_terminal"
  end
  if attempt ~= "" and attempt ~= "none" then return "none" end
  return attempt
end

function ffb.skip_child(keys, core, now)
  local member = core.execution_id or ""
  local attempt = ffb.skip_attempt(keys, core, now)
  redis.call("HSET", keys[1],
    "lifecycle_phase", "terminal", "ownership_state", "unowned",
    "eligibility_state", "not_applicable", "blocking_reason", "none", "blocking_detail", "",
    "terminal_outcome", "skipped", "attempt_state", attempt, "public_state", "skipped",
    "completed_at", now, "last_transition_at", now, "last_mutation_at", now)
  redis.call("ZREM", keys[7], member)
  redis.call("ZADD", keys[6], tonumber(now), member)
end

-- eg: as ffb.count_edge; v34 also PUBLISHes the skipped child.
function ffb.resolve_impossible(keys, args, eg)
  local core, found = ffb.hgetall(keys[1])
  local skip = found and core.terminal_outcome == "none"
  if skip and not ffb.member_ok(keys, core) then return { 0, "invalid_state", "execution_id" } end
  ffb.mark_edge(keys, args, "impossible")
  redis.call("HINCRBY", keys[2], "unsatisfied_required_count", -1)
  redis.call("HINCRBY", keys[2], "impossible_required_count", 1)
  redis.call("HSET", keys[2], "last_dependency_update_at", args[3])
  ffb.count_edge(eg, "failed", "impossible")
  if skip then
    ffb.skip_child(keys, core, args[3])
    if eg then C.publish_completion(core, core.execution_id, "skipped") end
    return { 1, "OK", "impossible", "child_skipped" }
  end
  return { 1, "OK", "impossible", "" }
end

-- The dep record of a call that has work to do, or nil + the reply (a bad
-- now_ms, no record, already resolved): the opening both shapes share.
function ffb.open_dep(keys, args)
  local bad_now = ffb.check_now(args[3])
  if bad_now then return nil, bad_now end
  local dep, found = ffb.hgetall(keys[4])
  if not found then return nil, { 0, "invalid_dependency" } end
  if dep.state == "satisfied" or dep.state == "impossible" then
    return nil, { 1, "OK", "already_resolved" }
  end
  return dep
end

-- The two shapes are told apart by the number of KEYS, which is safe: Redis
-- hands a function exactly the numkeys keys its caller declared, so #KEYS is
-- the caller's own statement of the contract it speaks, never a guess from
-- data. FlowFabric added KEYS 12-14 (versions 18-23) to the same 11 KEYS and
-- 3 ARGV, with the same meaning in both shapes; an 11-KEY caller speaks 0.1.1
-- (v34 itself runs such a call without edge groups) and gets exactly the 0.1.1
-- behaviour at either level. At level 5 surplus KEYS and ARGV are ignored, as
-- by the 0.1.1 library (spec 30 §12 V2).
-- The keys a resolution may write, with their types: refused before any
-- write (a WRONGTYPE half-way would leave the edge consumed and the child as
-- it was). KEYS 10 and 11 are COPY's, which takes any type.
function ffb.resolve_types(keys)
  return {
    { keys[1], "hash" }, { keys[2], "hash" }, { keys[3], "set" }, { keys[4], "hash" },
    { keys[5], "zset" }, { keys[6], "zset" }, { keys[7], "zset" }, { keys[8], "hash" },
    { keys[9], "hash" },
  }
end

function ffb.resolve_dependency(keys, args)
  if #keys < 11 then return { 0, "invalid_argument", "keys" } end
  if C.V34 and #keys > 11 then return ffb.resolve_v34(keys, args) end
  local mistyped = C.refuse_mistyped(ffb.resolve_types(keys))
  if mistyped then return mistyped end
  local dep, reply = ffb.open_dep(keys, args)
  if not dep then return reply end
  local unsatisfied, bad = ffb.check_meta(keys[2])
  if unsatisfied == nil then return { 0, "invalid_state", bad } end
  if args[2] == "success" then return ffb.resolve_satisfied(keys, args, dep, unsatisfied) end
  return ffb.resolve_impossible(keys, args)
end

---------------------------------------------------------------------------
-- ff_reset_budget  KEYS: definition, usage, budget_resets   ARGV: budget id, now_ms
---------------------------------------------------------------------------

-- reset_interval_ms: absent or empty (unset) → 0 = never resets; other non-integer → invalid.
function ffb.reset_interval(def)
  local v = def.reset_interval_ms
  if not C.is_set(v) then return 0 end
  return ffb.int(v)
end

-- Next reset = previous schedule + the smallest whole number of intervals that lands
-- after now: no drift from scanner latency, one reset (not a burst) after downtime.
function ffb.next_reset(prev, now, interval)
  if prev == nil then return now + interval end
  local steps = 1
  if prev <= now then steps = math.floor((now - prev) / interval) + 1 end
  return prev + steps * interval
end

-- Previous schedule: the score the scanner found the budget under, else the
-- definition's next_reset_at, else nothing (first schedule starts from now);
-- and whether the budget is in the schedule.
function ffb.previous_schedule(keys, bid, def)
  local score = redis.call("ZSCORE", keys[3], bid)
  if score then return tonumber(score), true end
  return ffb.int(def.next_reset_at or ""), false
end

-- Is the reset due at now (issue 14: concurrent callers reset once per period)?
-- A scheduled budget is due when its schedule is <= now. One that left the
-- schedule is due only if its next_reset_at (when set) is <= now and no reset was
-- applied since: the reset of a one-off budget (no interval) happens once.
function ffb.reset_due(prev, scheduled, def, now)
  local last = ffb.int(def.last_reset_at or "")
  if prev == nil then return last == nil end
  return prev <= now and (scheduled or not (last and last >= prev))
end

function ffb.zero_usage(usage_key)
  local fields = redis.call("HKEYS", usage_key)
  if #fields == 0 then return end
  local argv = {}
  for _, f in ipairs(fields) do
    argv[#argv + 1] = f
    argv[#argv + 1] = "0"
  end
  redis.call("HSET", usage_key, unpack(argv))
end

function ffb.reset_budget(keys, args)
  local bid, now_s = args[1], args[2]
  if not C.is_set(bid) then return { 0, "invalid_argument", "budget_id" } end
  local bad_now = ffb.check_now(now_s)
  if bad_now then return bad_now end
  local def, found = ffb.hgetall(keys[1])
  if not found then
    -- deleted budget: drop the schedule entry instead of writing a stub (B2)
    redis.call("ZREM", keys[3], bid)
    return { 0, "budget_not_found" }
  end
  local interval = ffb.reset_interval(def)
  if interval == nil then return { 0, "invalid_state", "reset_interval_ms" } end
  -- HINCRBY would fail after usage was already zeroed
  if def.reset_count ~= nil and ffb.int(def.reset_count) == nil then
    return { 0, "invalid_state", "reset_count" }
  end
  local now = tonumber(now_s)
  local prev, scheduled = ffb.previous_schedule(keys, bid, def)
  if not ffb.reset_due(prev, scheduled, def, now) then return { 0, "not_due" } end
  local next_at = 0
  if interval > 0 then next_at = ffb.next_reset(prev, now, interval) end
  ffb.zero_usage(keys[2])
  redis.call("HINCRBY", keys[1], "reset_count", 1)
  redis.call("HSET", keys[1], "last_reset_at", now_s, "last_updated_at", now_s,
    "last_breach_at", "", "last_breach_dim", "")
  if next_at > 0 then
    redis.call("HSET", keys[1], "next_reset_at", C.ms_text(next_at))
    redis.call("ZADD", keys[3], next_at, bid)
  else
    redis.call("ZREM", keys[3], bid)
  end
  return { 1, "OK", C.ms_text(next_at) }
end

C.register_item("ff_unblock_execution", ffb.unblock_execution, 3)
C.register_item("ff_resolve_dependency", ffb.resolve_dependency, 11)
C.register_item("ff_reset_budget", ffb.reset_budget, 3)
