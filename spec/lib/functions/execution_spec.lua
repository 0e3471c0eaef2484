-- scanhost's execution functions (spec 10 §B) called directly with FCALL on
-- the §C recipes: main case, every no-op case, and the scanhost fixes.
local env_mod = require "spec.helpers.env"
local F = require "ff.fixtures"
local K = require "ff.keys"
local X = require "ff.exec_fcall"

local hgetall, zscore, dump = env_mod.hgetall, env_mod.zscore, env_mod.dump

describe("execution functions", function()
  local env, r
  local T, E, W = F.T, F.E, F.W
  local function core() return hgetall(r, K.core(T, E)) end

  env_mod.suite(function(e) env, r = e, e.r end)

  -- Asserts that `t0 <= v <= now` for a timestamp text field.
  local function assert_now(v, t0)
    local n = assert(tonumber(v), "timestamp expected, got " .. tostring(v))
    assert.is_true(n >= t0 and n <= env_mod.now_ms(r) + 1, "timestamp " .. tostring(v))
  end

  describe("ff_mark_lease_expired_if_due", function()
    local function call()
      return r:fcall("ff_mark_lease_expired_if_due", X.mark_lease_expired_keys(T, E), { E })
    end

    it("asks each key it writes for its type once: closing the stream meta sends no EXISTS", function()
      F.lease_expiry.acting(r)
      r:call("CONFIG", "RESETSTAT")
      assert.same({ 1, "OK", "marked_expired" }, call())
      local stats = r:call("INFO", "commandstats")
      assert.equal("2", stats:match("cmdstat_type:calls=(%d+)")) -- lease history, stream meta
      assert.is_nil(stats:match("cmdstat_exists:"))
      r:call("DEL", K.stream_meta(T, E, 0))
      r:call("HSET", K.core(T, E), "ownership_state", "leased")
      assert.same({ 1, "OK", "marked_expired" }, call())
      assert.equal(0, r:call("EXISTS", K.stream_meta(T, E, 0))) -- an absent meta stays absent
    end)

    it("marks a due lease expired (C.1 acting case)", function()
      F.lease_expiry.acting(r)
      local t0 = env_mod.now_ms(r)
      assert.same({ 1, "OK", "marked_expired" }, call())
      local c = core()
      assert.equal("lease_expired_reclaimable", c.ownership_state)
      assert.equal("waiting_for_worker", c.blocking_reason)
      assert.equal("lease expired, awaiting reclaim", c.blocking_detail)
      assert.equal("attempt_interrupted", c.attempt_state)
      assert.equal("active", c.public_state)
      assert.equal("active", c.lifecycle_phase)
      assert.equal("not_applicable", c.eligibility_state)
      assert.equal("none", c.terminal_outcome)
      assert_now(c.lease_expired_at, t0)
      assert.equal(c.lease_expired_at, c.last_mutation_at)
      assert.is_nil(c.last_transition_at)
      local h = env_mod.xrange(r, K.lease_history(T, E))
      assert.same({ { event = "expired", lease_id = "L1", lease_epoch = "1", attempt_index = "0",
        attempt_id = "A1", worker_id = "w", worker_instance_id = "wi1", ts = c.lease_expired_at } }, h)
      assert.same({ x = "y", closed_at = c.lease_expired_at, closed_reason = "lease_expired" },
        hgetall(r, K.stream_meta(T, E, 0)))
      assert.equal(1000, zscore(r, K.lease_expiry(T), E))
      assert.same({ 1, "ALREADY_SATISFIED", "already_expired" }, call())
    end)

    it("fills defaults for a minimal core and copies absent fields as empty", function()
      F.lease_expiry.acting(r, { minimal = true })
      assert.same({ 1, "OK", "marked_expired" }, call())
      local c = core()
      assert.equal("not_applicable", c.eligibility_state)
      assert.equal("none", c.terminal_outcome)
      local h = env_mod.xrange(r, K.lease_history(T, E))[1]
      assert.equal("", h.lease_id)
      assert.equal("", h.worker_instance_id)
    end)

    it("does not close an already closed stream meta", function()
      F.lease_expiry.acting(r)
      F.hset(r, K.stream_meta(T, E, 0), { closed_at = "5", closed_reason = "x" })
      assert.same({ 1, "OK", "marked_expired" }, call())
      assert.same({ x = "y", closed_at = "5", closed_reason = "x" }, hgetall(r, K.stream_meta(T, E, 0)))
    end)

    local cases = {
      { "not yet due (record)", "not_yet_due_record", "not_yet_expired", true },
      { "already terminal", "already_terminal", "not_active", false },
      { "revoked", "revoked", "already_revoked", true },
      { "unowned", "unowned", "unowned", false },
      { "missing core", "missing_core", "execution_not_found", false },
    }
    for _, cs in ipairs(cases) do
      it("no-op: " .. cs[1], function()
        F.lease_expiry[cs[2]](r)
        local before = dump(r)
        assert.same({ 1, "ALREADY_SATISFIED", cs[3] }, call())
        local after = dump(r)
        if cs[4] then
          assert.same(before, after)
        else
          assert.is_nil(zscore(r, K.lease_expiry(T), E))
          after[K.lease_expiry(T)] = before[K.lease_expiry(T)]
          assert.same(before, after)
        end
      end)
    end

    it("fix: an empty lease_expires_at is refused before any write", function()
      F.lease_expiry.fault(r)
      local before = dump(r)
      assert.same({ 0, "invalid_state", "lease_expires_at" }, call())
      assert.same(before, dump(r))
    end)
  end)

  describe("ff_promote_delayed", function()
    local function call(now, lane)
      return r:fcall("ff_promote_delayed", X.promote_delayed_keys(T, E, lane or "default"),
        { E, now or "5000" })
    end

    it("promotes a due item (C.2 acting case)", function()
      F.delayed_promoter.acting(r)
      assert.same({ 1, "OK", "promoted" }, call("1713600000000"))
      assert.same({
        lifecycle_phase = "runnable", ownership_state = "unowned", eligibility_state = "eligible_now",
        blocking_reason = "waiting_for_worker", blocking_detail = "", terminal_outcome = "none",
        public_state = "waiting", delay_until = "", last_transition_at = "1713600000000",
        last_mutation_at = "1713600000000", priority = "0", created_at = "1000",
        attempt_state = "pending_first_attempt",
      }, core())
      assert.is_nil(zscore(r, K.lane(T, "default", "delayed"), E))
      assert.equal(1000, zscore(r, K.lane(T, "default", "eligible"), E))
    end)

    it("uses the composite eligible score", function()
      F.delayed_promoter.acting(r, { fields = { priority = "5", created_at = "1700000000000" } })
      assert.same({ 1, "OK", "promoted" }, call())
      assert.equal(-3300000000000, zscore(r, K.lane(T, "default", "eligible"), E))
    end)

    it("refuses a non-numeric now_ms first", function()
      F.delayed_promoter.acting(r)
      assert.same({ 0, "invalid_input", "now_ms must be a number, got: abc" }, call("abc"))
      assert.same({ 0, "invalid_input", "now_ms must be a number, got: nil" },
        r:fcall("ff_promote_delayed", X.promote_delayed_keys(T, E, "default"), { E }))
    end)

    it("no-op: not yet due (record) keeps the entry", function()
      F.delayed_promoter.not_yet_due_record(r)
      local before = dump(r)
      assert.same({ 1, "OK", "not_yet_due" }, call())
      assert.same(before, dump(r))
    end)

    local cleaned = {
      { "already terminal", "already_terminal", "not_runnable_cleaned" },
      { "not delayed", "not_delayed", "not_delayed_cleaned" },
      { "missing core", "missing_core", "not_found_cleaned" },
    }
    for _, cs in ipairs(cleaned) do
      it("no-op: " .. cs[1] .. " removes the entry", function()
        F.delayed_promoter[cs[2]](r)
        local before = dump(r)
        assert.same({ 1, "OK", cs[3] }, call())
        local after = dump(r)
        assert.is_nil(zscore(r, K.lane(T, "default", "delayed"), E))
        before[K.lane(T, "default", "delayed")] = nil
        assert.same(before, after)
      end)
    end

    it("fix: promotes an item whose delay_until is empty (quirk 8)", function()
      F.delayed_promoter.empty_delay_until(r)
      assert.same({ 1, "OK", "promoted" }, call())
      assert.equal("eligible_now", core().eligibility_state)
      assert.equal(1000, zscore(r, K.lane(T, "default", "eligible"), E))
    end)

    it("fix: an empty delay_until still waits for its delayed-set score", function()
      F.delayed_promoter.empty_delay_until(r, { score = "9000" })
      assert.same({ 1, "OK", "not_yet_due" }, call("5000"))
      assert.same({ 1, "OK", "promoted" }, call("9000"))
    end)

    -- Every outcome, two lanes, a member twice, 2,400 promotions in one
    -- call (one TIME, lane-set types checked once per pair): the batch must
    -- leave what the calls one by one leave.
    it("a batch leaves exactly the data and replies of its items called one by one", function()
      local D, NOW, items = F.delayed_promoter, "1713600000000", {}
      local function seed()
        assert(r:call("FLUSHALL"))
        items = {}
        local function add(c) items[#items + 1] = { eid = c.eid, lane = c.lane } end
        for i = 1, 2400 do add(D.acting(r, { i = i, lane = i % 3 == 0 and "blue" or "default" })) end
        local odd = { "not_yet_due_index", "not_yet_due_record", "already_terminal", "not_delayed",
          "missing_core", "empty_delay_until", "bad_priority" }
        for k, name in ipairs(odd) do add(D[name](r, { i = 3000 + k })) end
        items[#items + 1] = items[1]                 -- promoted, then met again
        items[#items + 1] = items[2400 + 5]          -- cleaned twice
      end
      local function keys_of(it) return X.promote_delayed_keys(T, it.eid, it.lane) end

      seed()
      local one_by_one = {}
      for i, it in ipairs(items) do
        one_by_one[i] = r:fcall("ff_promote_delayed", keys_of(it), { it.eid, NOW })
      end
      local want = dump(r)

      seed()
      local keys, args = {}, { #items }
      for _, it in ipairs(items) do
        for _, k in ipairs(keys_of(it)) do keys[#keys + 1] = k end
        args[#args + 1], args[#args + 2] = it.eid, NOW
      end
      assert.same(one_by_one, r:fcall("ff_promote_delayed_batch", keys, args))
      assert.same(want, dump(r))
      assert.same({ 1, "OK", "promoted" }, one_by_one[1])
      assert.same({ 1, "OK", "not_delayed_cleaned" }, one_by_one[#items - 1])
      assert.same({ 1, "OK", "not_found_cleaned" }, one_by_one[#items])
    end)

    it("fix: a bad priority is refused before any write (quirk 9)", function()
      F.delayed_promoter.bad_priority(r)
      local before = dump(r)
      assert.same({ 0, "invalid_state", "priority" }, call())
      assert.same(before, dump(r))
      F.hset(r, K.core(T, E), { priority = "0", created_at = "x" })
      before = dump(r)
      assert.same({ 0, "invalid_state", "created_at" }, call())
      assert.same(before, dump(r))
      F.hset(r, K.core(T, E), { created_at = "1", delay_until = "soon" })
      before = dump(r)
      assert.same({ 0, "invalid_state", "delay_until" }, call())
      assert.same(before, dump(r))
    end)
  end)

  describe("ff_expire_execution", function()
    local function call(reason, p)
      p = p or { lane = "default", ai = "0", wiid = "wi1" }
      return r:fcall("ff_expire_execution", X.expire_execution_keys(T, E, p), { E, reason })
    end

    local function assert_terminal(c, reason, t0)
      assert.equal("terminal", c.lifecycle_phase)
      assert.equal("unowned", c.ownership_state)
      assert.equal("not_applicable", c.eligibility_state)
      assert.equal("none", c.blocking_reason)
      assert.equal("", c.blocking_detail)
      assert.equal("expired", c.terminal_outcome)
      assert.equal("expired", c.public_state)
      assert.equal(reason, c.failure_reason)
      assert_now(c.completed_at, t0)
      for _, f in ipairs({ "current_lease_id", "current_worker_id", "current_worker_instance_id",
        "lease_expires_at", "current_suspension_id", "current_waitpoint_id" }) do
        assert.equal("", c[f], f)
      end
      assert.equal(c.completed_at, c.last_transition_at)
      assert.equal(c.completed_at, c.last_mutation_at)
    end

    it("expires an active execution (C.3 acting case)", function()
      F.attempt_timeout.acting(r)
      local t0 = env_mod.now_ms(r)
      assert.same({ 1, "OK", "expired", "active" }, call("attempt_timeout"))
      local c = core()
      assert_terminal(c, "attempt_timeout", t0)
      assert.equal("attempt_terminal", c.attempt_state)
      assert.equal("0", c.current_attempt_index)
      assert.equal("1", c.current_lease_epoch)
      local now = c.completed_at
      assert.same({ attempt_state = "ended_failure", ended_at = now, failure_reason = "attempt_timeout" },
        hgetall(r, K.attempt(T, E, 0)))
      assert.is_false(env_mod.exists(r, K.lease_current(T, E)))
      assert.is_nil(zscore(r, K.lease_expiry(T), E))
      assert.is_false(env_mod.sismember(r, K.worker_leases(T, "wi1"), E))
      assert.is_nil(zscore(r, K.lane(T, "default", "active"), E))
      assert.is_nil(zscore(r, K.attempt_timeout(T), E))
      assert.is_nil(zscore(r, K.execution_deadline(T), E))
      assert.equal(tonumber(now), zscore(r, K.lane(T, "default", "terminal"), E))
      assert.same({ { event = "released", lease_id = "L1", lease_epoch = "1", attempt_index = "0",
        reason = "expired:attempt_timeout", ts = now } }, env_mod.xrange(r, K.lease_history(T, E)))
    end)

    it("removes E from the real worker set through the core even with a placeholder key", function()
      F.attempt_timeout.acting(r)
      assert.same({ 1, "OK", "expired", "active" }, call("attempt_timeout", { lane = "default", ai = "0" }))
      assert.is_false(env_mod.sismember(r, K.worker_leases(T, "wi1"), E))
      assert.is_false(env_mod.exists(r, K.noop(T)))
    end)

    it("expires a runnable execution (C.4 acting case)", function()
      F.execution_deadline.acting(r)
      local t0 = env_mod.now_ms(r)
      assert.same({ 1, "OK", "expired", "runnable" },
        call("execution_deadline", { lane = "default", ai = "" }))
      local c = core()
      assert_terminal(c, "execution_deadline", t0)
      assert.equal("pending_first_attempt", c.attempt_state)
      assert.is_nil(zscore(r, K.lane(T, "default", "eligible"), E))
      assert.is_nil(zscore(r, K.execution_deadline(T), E))
      assert.equal(tonumber(c.completed_at), zscore(r, K.lane(T, "default", "terminal"), E))
      assert.is_false(env_mod.exists(r, K.lease_history(T, E)))
      assert.same({}, r:call("KEYS", "ff:attempt:*"))
      assert.is_false(env_mod.exists(r, K.noop(T)))
    end)

    it("expires a suspended execution (C.4 variant)", function()
      F.execution_deadline.suspended(r)
      assert.same({ 1, "OK", "expired", "suspended" },
        call("execution_deadline", { lane = "blue", ai = "2" }))
      local c = core()
      local now = c.completed_at
      assert.equal("attempt_terminal", c.attempt_state)
      assert.same({ attempt_state = "ended_failure", ended_at = now, failure_reason = "execution_deadline" },
        hgetall(r, K.attempt(T, E, 2)))
      assert.same({ suspension_id = "S1", closed_at = now, close_reason = "expired:execution_deadline" },
        hgetall(r, K.suspension_current(T, E)))
      assert.same({ x = "y", closed_at = now, closed_reason = "expired" }, hgetall(r, K.stream_meta(T, E, 2)))
      assert.is_nil(zscore(r, K.lane(T, "blue", "suspended"), E))
      assert.is_nil(zscore(r, K.suspension_timeout(T), E))
      assert.equal(tonumber(now), zscore(r, K.lane(T, "blue", "terminal"), E))
      assert.same({ state = "active" }, hgetall(r, K.waitpoint(T, W)))
    end)

    it("no-op: already terminal removes both timeout entries only", function()
      F.attempt_timeout.already_terminal(r)
      local before = dump(r)
      assert.same({ 1, "OK", "already_terminal" }, call("attempt_timeout"))
      local after = dump(r)
      assert.is_nil(after[K.attempt_timeout(T)])
      assert.is_nil(after[K.execution_deadline(T)])
      before[K.attempt_timeout(T)], before[K.execution_deadline(T)] = nil, nil
      assert.same(before, after)
    end)

    it("no-op: missing core removes both timeout entries", function()
      F.attempt_timeout.missing_core(r)
      assert.same({ 1, "OK", "not_found_cleaned" }, call("attempt_timeout"))
      assert.same({}, r:call("KEYS", "*"))
    end)

    it("fix: re-checks atomically that the timeout is due", function()
      F.attempt_timeout.not_yet_due(r)
      local before = dump(r)
      assert.same({ 1, "OK", "not_yet_due" }, call("attempt_timeout"))
      assert.same(before, dump(r))
      -- the deadline index decides for reason execution_deadline
      F.zadd(r, K.execution_deadline(T), F.FUTURE, E)
      F.zadd(r, K.attempt_timeout(T), F.PAST, E)
      before = dump(r)
      assert.same({ 1, "OK", "not_yet_due" }, call("execution_deadline"))
      assert.same(before, dump(r))
      assert.same({ 1, "OK", "expired", "active" }, call("attempt_timeout"))
    end)

    it("fix: no entry in the reason's index means no pending timeout", function()
      F.attempt_timeout.acting(r)
      F.call(r, "ZREM", K.attempt_timeout(T), E)
      local before = dump(r)
      assert.same({ 1, "OK", "no_timeout_pending" }, call("attempt_timeout"))
      assert.same(before, dump(r))
    end)

    it("fix: an empty lane_id falls back without malformed keys", function()
      F.execution_deadline.acting(r, { fields = { lane_id = "", current_lane = "default" } })
      assert.same({ 1, "OK", "expired", "runnable" },
        call("execution_deadline", { lane = X.lane("", "default"), ai = "" }))
      assert.is_nil(zscore(r, K.lane(T, "default", "eligible"), E))
      assert.same({}, r:call("KEYS", "*lane::*"))
    end)
  end)

  describe("ff_expire_suspension", function()
    local function call(p)
      p = p or { lane = "default", ai = "0", wp = W }
      return r:fcall("ff_expire_suspension", X.expire_suspension_keys(T, E, p), { E })
    end

    it("fails the execution on timeout (C.5 acting case, fail)", function()
      F.suspension_timeout.acting(r)
      local t0 = env_mod.now_ms(r)
      assert.same({ 1, "OK", "fail", "failed" }, call())
      local c = core()
      local now = c.completed_at
      assert_now(now, t0)
      for k, v in pairs({ lifecycle_phase = "terminal", terminal_outcome = "failed", public_state = "failed",
        attempt_state = "attempt_terminal", blocking_reason = "none", blocking_detail = "",
        failure_reason = "suspension_timeout:fail", current_suspension_id = "", current_waitpoint_id = "",
        last_transition_at = now, last_mutation_at = now, ownership_state = "unowned",
        eligibility_state = "not_applicable" }) do
        assert.equal(v, c[k], k)
      end
      assert.same({ attempt_state = "ended_failure", ended_at = now, failure_reason = "suspension_timeout:fail",
        suspended_at = "", suspension_id = "" }, hgetall(r, K.attempt(T, E, 0)))
      assert.same({ state = "closed", closed_at = now, close_reason = "timed_out_fail" },
        hgetall(r, K.waitpoint(T, W)))
      assert.same({ closed = "1", closed_at = now, closed_reason = "timed_out_fail" },
        hgetall(r, K.waitpoint_condition(T, W)))
      assert.same({ suspension_id = "S1", timeout_at = "1000", timeout_behavior = "fail",
        closed_at = now, close_reason = "timed_out_fail" }, hgetall(r, K.suspension_current(T, E)))
      assert.is_nil(zscore(r, K.suspension_timeout(T), E))
      assert.is_nil(zscore(r, K.lane(T, "default", "suspended"), E))
      assert.equal(tonumber(now), zscore(r, K.lane(T, "default", "terminal"), E))
    end)

    local variants = {
      { "cancel", "cancelled", "timed_out_cancel", "ended_cancelled" },
      { "expire", "expired", "timed_out_expire", "ended_failure" },
      { "weird", "failed", "timed_out_fail", "ended_failure" },
    }
    for _, v in ipairs(variants) do
      it("behavior " .. v[1], function()
        F.suspension_timeout.acting(r, { behavior = v[1] })
        assert.same({ 1, "OK", v[1], v[2] }, call())
        local c = core()
        assert.equal(v[2], c.terminal_outcome)
        assert.equal(v[2], c.public_state)
        assert.equal("suspension_timeout:" .. v[1], c.failure_reason)
        assert.equal(v[4], hgetall(r, K.attempt(T, E, 0)).attempt_state)
        assert.equal(v[3], hgetall(r, K.waitpoint(T, W)).close_reason)
        assert.equal(v[3], hgetall(r, K.suspension_current(T, E)).close_reason)
      end)
    end

    it("absent behavior takes fail", function()
      F.suspension_timeout.acting(r, { behavior = false })
      assert.same({ 1, "OK", "fail", "failed" }, call())
    end)

    it("closes stream meta on the terminal paths", function()
      F.suspension_timeout.acting(r)
      F.hset(r, K.stream_meta(T, E, 0), { x = "y" })
      call()
      local m = hgetall(r, K.stream_meta(T, E, 0))
      assert.equal("suspension_timeout", m.closed_reason)
    end)

    it("behavior auto_resume", function()
      F.suspension_timeout.acting(r, { behavior = "auto_resume" })
      F.hset(r, K.attempt(T, E, 0), { attempt_state = "suspended" })
      assert.same({ 1, "OK", "auto_resume", "waiting" }, call())
      local c = core()
      for k, v in pairs({ lifecycle_phase = "runnable", ownership_state = "unowned",
        eligibility_state = "eligible_now", blocking_reason = "waiting_for_worker", blocking_detail = "",
        terminal_outcome = "none", attempt_state = "attempt_interrupted", public_state = "waiting",
        current_suspension_id = "", current_waitpoint_id = "" }) do
        assert.equal(v, c[k], k)
      end
      local now = c.last_transition_at
      assert.is_nil(zscore(r, K.lane(T, "default", "suspended"), E))
      assert.equal(1000, zscore(r, K.lane(T, "default", "eligible"), E))
      assert.is_nil(zscore(r, K.suspension_timeout(T), E))
      assert.same({ state = "closed", closed_at = now, close_reason = "timed_out_auto_resume" },
        hgetall(r, K.waitpoint(T, W)))
      assert.same({ closed = "1", closed_at = now, closed_reason = "timed_out_auto_resume" },
        hgetall(r, K.waitpoint_condition(T, W)))
      assert.equal("timed_out_auto_resume", hgetall(r, K.suspension_current(T, E)).close_reason)
      assert.same({ attempt_state = "suspended" }, hgetall(r, K.attempt(T, E, 0)))
    end)

    it("behavior auto_resume_with_timeout_signal replies auto_resume", function()
      F.suspension_timeout.acting(r, { behavior = "auto_resume_with_timeout_signal" })
      assert.same({ 1, "OK", "auto_resume", "waiting" }, call())
    end)

    it("behavior escalate", function()
      F.suspension_timeout.acting(r, { behavior = "escalate" })
      assert.same({ 1, "OK", "escalate", "suspended" }, call())
      local c = core()
      assert.equal("suspended", c.lifecycle_phase)
      assert.equal("paused_by_operator", c.blocking_reason)
      assert.equal("suspension escalated: timeout at 1000", c.blocking_detail)
      assert.equal("attempt_interrupted", c.attempt_state)
      assert.equal("suspended", c.public_state)
      assert.same({ suspension_id = "S1", reason_code = "waiting_for_operator_review", timeout_at = "",
        timeout_behavior = "" }, hgetall(r, K.suspension_current(T, E)))
      assert.is_nil(zscore(r, K.suspension_timeout(T), E))
      assert.equal(1000, zscore(r, K.lane(T, "default", "suspended"), E))
      assert.same({ state = "active" }, hgetall(r, K.waitpoint(T, W)))
    end)

    for _, cs in ipairs({ { "not yet due (record)", "not_yet_due_record" }, { "timeout_at 0", "zero_timeout" } }) do
      it("no-op: " .. cs[1] .. " keeps the entry", function()
        F.suspension_timeout[cs[2]](r)
        local before = dump(r)
        assert.same({ 1, "OK", "not_yet_due" }, call())
        assert.same(before, dump(r))
      end)
    end

    local cleaned = {
      { "already terminal", "already_terminal", "not_suspended_cleaned" },
      { "suspension hash absent", "no_suspension", "no_active_suspension_cleaned" },
      { "no suspension_id", "no_suspension_id", "no_active_suspension_cleaned" },
      { "closed_at set", "suspension_closed", "no_active_suspension_cleaned" },
      { "missing core", "missing_core", "not_found_cleaned" },
    }
    for _, cs in ipairs(cleaned) do
      it("no-op: " .. cs[1] .. " removes the entry", function()
        F.suspension_timeout[cs[2]](r)
        local before = dump(r)
        assert.same({ 1, "OK", cs[3] }, call())
        local after = dump(r)
        assert.is_nil(zscore(r, K.suspension_timeout(T), E))
        before[K.suspension_timeout(T)] = nil
        assert.same(before, after)
      end)
    end

    it("fix: an empty timeout_at is refused before any write", function()
      F.suspension_timeout.fault(r)
      local before = dump(r)
      assert.same({ 0, "invalid_state", "timeout_at" }, call())
      assert.same(before, dump(r))
    end)

    it("fix: a bad created_at on auto_resume is refused before any write", function()
      F.suspension_timeout.acting(r, { behavior = "auto_resume", fields = { created_at = "" } })
      local before = dump(r)
      assert.same({ 0, "invalid_state", "created_at" }, call())
      assert.same(before, dump(r))
    end)

    it("fix: an empty waitpoint id writes no stray waitpoint hash", function()
      F.suspension_timeout.acting(r, { fields = { current_waitpoint_id = "" }, waitpoint = false })
      assert.same({ 1, "OK", "fail", "failed" }, call({ lane = "default", ai = "0", wp = "" }))
      assert.same({}, r:call("KEYS", "ff:wp:*"))
      assert.is_false(env_mod.exists(r, K.noop(T)))
    end)
  end)

  describe("ff_close_waitpoint", function()
    local function call(reason)
      return r:fcall("ff_close_waitpoint", X.close_waitpoint_keys(T, W, E), { W, reason })
    end

    it("closes a pending waitpoint (C.6 acting case)", function()
      F.pending_wp_expiry.acting(r)
      local t0 = env_mod.now_ms(r)
      assert.same({ 1, "OK" }, call("never_committed"))
      local wp = hgetall(r, K.waitpoint(T, W))
      assert.equal("closed", wp.state)
      assert.equal("never_committed", wp.close_reason)
      assert_now(wp.closed_at, t0)
      assert.is_nil(zscore(r, K.pending_waitpoint_expiry(T), W))
      assert.is_false(env_mod.exists(r, K.core(T, E)))
    end)

    it("defaults the reason to proactive_close and closes active waitpoints too", function()
      F.pending_wp_expiry.acting(r, { state = "active" })
      assert.same({ 1, "OK" }, r:fcall("ff_close_waitpoint", X.close_waitpoint_keys(T, W, E), { W }))
      assert.equal("proactive_close", hgetall(r, K.waitpoint(T, W)).close_reason)
    end)

    it("no-op: unknown state keeps the entry", function()
      F.pending_wp_expiry.unknown_state(r)
      local before = dump(r)
      assert.same({ 0, "waitpoint_not_open" }, call("never_committed"))
      assert.same(before, dump(r))
      env:flush()
      F.pending_wp_expiry.acting(r, { state = false })
      assert.same({ 0, "waitpoint_not_open" }, call("never_committed"))
    end)

    it("fix: already closed or expired removes the entry, no other write", function()
      for _, st in ipairs({ "closed", "expired" }) do
        env:flush()
        F.pending_wp_expiry.already_closed(r, { state = st })
        local before = dump(r)
        assert.same({ 1, "OK", "already_closed" }, call("never_committed"))
        assert.is_nil(zscore(r, K.pending_waitpoint_expiry(T), W))
        before[K.pending_waitpoint_expiry(T)] = nil
        assert.same(before, dump(r))
      end
    end)

    it("fix: a missing waitpoint removes the entry", function()
      F.pending_wp_expiry.missing_waitpoint(r)
      assert.same({ 0, "waitpoint_not_found" }, call("never_committed"))
      assert.same({}, r:call("KEYS", "*"))
    end)
  end)
end)
