-- The seven execution scanners (spec 10 §A) run one full cycle (h:once) over
-- each §C recipe. Each case asserts the (processed, errors) pair and that the
-- resulting database equals the state produced by calling the function
-- directly with the exact §A KEYS/ARGV (timestamps normalised to "NOW"), plus
-- explicit checks of the main effects. Partition count 8, recipes on {fp:5}.
local env_mod = require "spec.support.exec_env"
local F = require "ff.fixtures"
local K = require "ff.keys"

local hgetall, zscore, dump = env_mod.hgetall, env_mod.zscore, env_mod.dump
local normalize = env_mod.normalize

describe("execution scanners", function()
  local env, r
  local T, E, W = F.T, F.E, F.W
  local X1 = "ff:exec:{fp:5}:" .. E

  setup(function()
    env = env_mod.start({ partitions = 8 })
    r = env.r
  end)
  teardown(function() env:stop() end)
  before_each(function() env:flush() end)

  local function snapshot(fn)
    local t0 = env_mod.now_ms(r)
    local a, b, c = fn()
    local t1 = env_mod.now_ms(r) + 1
    return normalize(dump(r), t0, t1), a, b, c
  end

  -- once(name[, host_opts]) with a fresh host (fresh failure tracker).
  local function once(name, host_opts)
    local h = env.new_host(host_opts)
    local p, e, s = h:once(name)
    h:close()
    return p, e, s
  end

  -- case(seed, scanner, direct, counts[, host_opts]) -> reply of direct;
  -- counts = { processed, errors, skipped } of one cycle
  local function case(seed, scanner, direct, counts, host_opts)
    env:flush()
    seed(r)
    local via_scan, p, e, s = snapshot(function() return once(scanner, host_opts) end)
    env:flush()
    seed(r)
    local reply
    local via_call = snapshot(function() reply = direct and direct(r) end)
    assert.same(counts, { p, e, s })
    assert.same(via_call, via_scan)
    return reply
  end

  -- The exact §A calls, written out literally.
  local function mark(rr)
    return rr:fcall("ff_mark_lease_expired_if_due", { X1 .. ":core", X1 .. ":lease:current",
      "ff:idx:{fp:5}:lease_expiry", X1 .. ":lease:history" }, { E })
  end
  local function promote(lane)
    return function(rr)
      return rr:fcall("ff_promote_delayed", { X1 .. ":core", "ff:idx:{fp:5}:lane:" .. lane .. ":delayed",
        "ff:idx:{fp:5}:lane:" .. lane .. ":eligible" }, { E, env_mod.now_ms(rr) })
    end
  end
  local function expire(reason, lane, ai, wiid)
    return function(rr)
      local att = ai and ("ff:attempt:{fp:5}:" .. E .. ":" .. ai) or "ff:noop:{fp:5}"
      local meta = ai and ("ff:stream:{fp:5}:" .. E .. ":" .. ai .. ":meta") or "ff:noop:{fp:5}"
      return rr:fcall("ff_expire_execution", { X1 .. ":core", att, meta, X1 .. ":lease:current",
        X1 .. ":lease:history", "ff:idx:{fp:5}:lease_expiry",
        wiid and ("ff:idx:{fp:5}:worker:" .. wiid .. ":leases") or "ff:noop:{fp:5}",
        "ff:idx:{fp:5}:lane:" .. lane .. ":active", "ff:idx:{fp:5}:lane:" .. lane .. ":terminal",
        "ff:idx:{fp:5}:attempt_timeout", "ff:idx:{fp:5}:execution_deadline",
        "ff:idx:{fp:5}:lane:" .. lane .. ":suspended", "ff:idx:{fp:5}:suspension_timeout",
        X1 .. ":suspension:current" }, { E, reason })
    end
  end
  local function expire_susp(wp, ai, lane)
    return function(rr)
      local noop = "ff:noop:{fp:5}"
      return rr:fcall("ff_expire_suspension", { X1 .. ":core", X1 .. ":suspension:current",
        wp and ("ff:wp:{fp:5}:" .. wp) or noop, wp and ("ff:wp:{fp:5}:" .. wp .. ":condition") or noop,
        ai and ("ff:attempt:{fp:5}:" .. E .. ":" .. ai) or noop,
        ai and ("ff:stream:{fp:5}:" .. E .. ":" .. ai .. ":meta") or noop,
        "ff:idx:{fp:5}:suspension_timeout", "ff:idx:{fp:5}:lane:" .. lane .. ":suspended",
        "ff:idx:{fp:5}:lane:" .. lane .. ":terminal", "ff:idx:{fp:5}:lane:" .. lane .. ":eligible",
        "ff:idx:{fp:5}:lane:" .. lane .. ":delayed", X1 .. ":lease:history" }, { E })
    end
  end
  local function close_wp(eid)
    return function(rr)
      return rr:fcall("ff_close_waitpoint", { eid and (X1 .. ":core") or "ff:noop:{fp:5}",
        "ff:wp:{fp:5}:" .. W, "ff:idx:{fp:5}:pending_waitpoint_expiry" }, { W, "never_committed" })
    end
  end
  local function unchanged(seed, scanner, counts, host_opts)
    env:flush()
    seed(r)
    local before = dump(r)
    local p, e, s = once(scanner, host_opts)
    assert.same(counts, { p, e, s })
    assert.same(before, dump(r))
  end

  describe("lease_expiry", function()
    local L = F.lease_expiry
    it("acting case: marks expired, keeps the entry, then already_expired", function()
      assert.same({ 1, "OK", "marked_expired" }, case(L.acting, "lease_expiry", mark, { 1, 0, 0 }))
      assert.equal("lease_expired_reclaimable", hgetall(r, K.core(T, E)).ownership_state)
      assert.equal(1000, zscore(r, K.lease_expiry(T), E))
      local before = dump(r)
      assert.same({ 0, 0, 1 }, { once("lease_expiry") }) -- already_expired: skipped
      assert.same(before, dump(r))
    end)
    it("no-op: not yet due (index)", function() unchanged(L.not_yet_due_index, "lease_expiry", { 0, 0, 0 }) end)
    for _, c in ipairs({ { "not_yet_due_record", "not_yet_expired" }, { "already_terminal", "not_active" },
      { "revoked", "already_revoked" }, { "unowned", "unowned" }, { "missing_core", "execution_not_found" } }) do
      it("no-op: " .. c[1], function()
        assert.same({ 1, "ALREADY_SATISFIED", c[2] }, case(L[c[1]], "lease_expiry", mark, { 0, 0, 1 }))
      end)
    end
    it("fault (empty lease_expires_at): skipped, nothing written", function()
      unchanged(L.fault, "lease_expiry", { 0, 0, 1 })
    end)
  end)

  describe("delayed_promoter", function()
    local D = F.delayed_promoter
    it("acting case: promotes with the scanner's now", function()
      assert.same({ 1, "OK", "promoted" }, case(D.acting, "delayed_promoter", promote("default"), { 1, 0, 0 }))
      local c = hgetall(r, K.core(T, E))
      assert.equal("eligible_now", c.eligibility_state)
      assert.equal(1000, zscore(r, K.lane(T, "default", "eligible"), E))
      assert.is_nil(zscore(r, K.lane(T, "default", "delayed"), E))
    end)
    it("no-op: not yet due (index)", function() unchanged(D.not_yet_due_index, "delayed_promoter", { 0, 0, 0 }) end)
    -- counts: a reply that changed nothing is skipped; one that removed a
    -- dead index entry ("_cleaned") changed something
    for _, c in ipairs({ { "not_yet_due_record", "not_yet_due", { 0, 0, 1 } },
      { "already_terminal", "not_runnable_cleaned", { 1, 0, 0 } },
      { "not_delayed", "not_delayed_cleaned", { 1, 0, 0 } }, { "missing_core", "not_found_cleaned", { 1, 0, 0 } } }) do
      it("no-op: " .. c[1], function()
        assert.same({ 1, "OK", c[2] }, case(D[c[1]], "delayed_promoter", promote("default"), c[3]))
      end)
    end
    it("other lane: never scanned unless configured", function()
      unchanged(D.other_lane, "delayed_promoter", { 0, 0, 0 })
      assert.same({ 1, "OK", "promoted" },
        case(D.other_lane, "delayed_promoter", promote("blue"), { 1, 0, 0 }, { lanes = { "default", "blue" } }))
    end)
    it("fix: an empty delay_until is promoted (quirk 8)", function()
      assert.same({ 1, "OK", "promoted" }, case(D.empty_delay_until, "delayed_promoter", promote("default"), { 1, 0, 0 }))
      assert.equal(1000, zscore(r, K.lane(T, "default", "eligible"), E))
    end)
  end)

  describe("attempt_timeout", function()
    local A = F.attempt_timeout
    it("acting case: expires the active execution", function()
      assert.same({ 1, "OK", "expired", "active" },
        case(A.acting, "attempt_timeout", expire("attempt_timeout", "default", "0", "wi1"), { 1, 0, 0 }))
      local c = hgetall(r, K.core(T, E))
      assert.equal("terminal", c.lifecycle_phase)
      assert.equal("attempt_timeout", c.failure_reason)
      assert.is_false(env_mod.sismember(r, K.worker_leases(T, "wi1"), E))
      assert.equal(tonumber(c.completed_at), zscore(r, K.lane(T, "default", "terminal"), E))
    end)
    it("no-op: not yet due", function() unchanged(A.not_yet_due, "attempt_timeout", { 0, 0, 0 }) end)
    it("no-op: already terminal", function()
      assert.same({ 1, "OK", "already_terminal" },
        case(A.already_terminal, "attempt_timeout", expire("attempt_timeout", "default", "0"), { 0, 0, 1 }))
      assert.is_nil(zscore(r, K.execution_deadline(T), E))
    end)
    it("no-op: missing core", function()
      assert.same({ 1, "OK", "not_found_cleaned" },
        case(A.missing_core, "attempt_timeout", expire("attempt_timeout", "default", "0"), { 1, 0, 0 }))
      assert.same({}, env_mod.data_keys(r))
    end)
  end)

  describe("execution_deadline", function()
    local D = F.execution_deadline
    it("acting case: expires the runnable execution", function()
      assert.same({ 1, "OK", "expired", "runnable" },
        case(D.acting, "execution_deadline", expire("execution_deadline", "default", nil), { 1, 0, 0 }))
      assert.is_nil(zscore(r, K.lane(T, "default", "eligible"), E))
      assert.equal("execution_deadline", hgetall(r, K.core(T, E)).failure_reason)
    end)
    it("variant: suspended", function()
      assert.same({ 1, "OK", "expired", "suspended" },
        case(D.suspended, "execution_deadline", expire("execution_deadline", "blue", "2"), { 1, 0, 0 }))
      assert.equal("ended_failure", hgetall(r, K.attempt(T, E, 2)).attempt_state)
      assert.is_nil(zscore(r, K.lane(T, "blue", "suspended"), E))
      assert.equal("active", hgetall(r, K.waitpoint(T, W)).state)
    end)
    it("no-op: not yet due", function() unchanged(D.not_yet_due, "execution_deadline", { 0, 0, 0 }) end)
    it("no-op: already terminal", function()
      assert.same({ 1, "OK", "already_terminal" },
        case(D.already_terminal, "execution_deadline", expire("execution_deadline", "default", "0"), { 0, 0, 1 }))
    end)
    it("no-op: missing core", function()
      assert.same({ 1, "OK", "not_found_cleaned" },
        case(D.missing_core, "execution_deadline", expire("execution_deadline", "default", "0"), { 1, 0, 0 }))
    end)
  end)

  describe("suspension_timeout", function()
    local S = F.suspension_timeout
    local direct = expire_susp(W, "0", "default")
    for _, b in ipairs({ { "fail", "failed" }, { "cancel", "cancelled" }, { "expire", "expired" },
      { "auto_resume", "waiting" }, { "escalate", "suspended" } }) do
      it("acting case, behavior " .. b[1], function()
        local seed = function(rr) return S.acting(rr, { behavior = b[1] }) end
        assert.same({ 1, "OK", b[1], b[2] }, case(seed, "suspension_timeout", direct, { 1, 0, 0 }))
        assert.is_nil(zscore(r, K.suspension_timeout(T), E))
      end)
    end
    it("no-op: not yet due (record) keeps the entry", function()
      assert.same({ 1, "OK", "not_yet_due" }, case(S.not_yet_due_record, "suspension_timeout", direct, { 0, 0, 1 }))
      assert.equal(1000, zscore(r, K.suspension_timeout(T), E))
    end)
    for _, c in ipairs({ { "already_terminal", "not_suspended_cleaned" },
      { "no_suspension", "no_active_suspension_cleaned" }, { "no_suspension_id", "no_active_suspension_cleaned" },
      { "suspension_closed", "no_active_suspension_cleaned" } }) do
      it("no-op: " .. c[1], function()
        assert.same({ 1, "OK", c[2] }, case(S[c[1]], "suspension_timeout", direct, { 1, 0, 0 }))
        assert.is_nil(zscore(r, K.suspension_timeout(T), E))
      end)
    end
    it("no-op: missing core", function()
      assert.same({ 1, "OK", "not_found_cleaned" },
        case(S.missing_core, "suspension_timeout", expire_susp(nil, "0", "default"), { 1, 0, 0 }))
    end)
    it("fault (empty timeout_at): skipped, nothing written", function()
      unchanged(S.fault, "suspension_timeout", { 0, 0, 1 })
    end)
    it("fix: an empty waitpoint id / attempt index / lane writes no malformed key", function()
      local seed = function(rr)
        return S.acting(rr, { waitpoint = false, fields = { current_waitpoint_id = "",
          current_attempt_index = "", lane_id = "" } })
      end
      assert.same({ 1, "OK", "fail", "failed" }, case(seed, "suspension_timeout", expire_susp(nil, nil, "default"), { 1, 0, 0 }))
      assert.same({}, r:call("KEYS", "ff:wp:*"))
      assert.same({}, r:call("KEYS", "*lane::*"))
      assert.same({}, r:call("KEYS", "ff:attempt:*"))
      assert.same({}, r:call("KEYS", "ff:noop:*"))
    end)
  end)

  describe("pending_wp_expiry", function()
    local PW = F.pending_wp_expiry
    it("acting case: closes the waitpoint, execution untouched", function()
      assert.same({ 1, "OK" }, case(PW.acting, "pending_wp_expiry", close_wp(true), { 1, 0, 0 }))
      local wp = hgetall(r, K.waitpoint(T, W))
      assert.equal("closed", wp.state)
      assert.equal("never_committed", wp.close_reason)
      assert.is_nil(zscore(r, K.pending_waitpoint_expiry(T), W))
    end)
    it("no-op: not yet due", function() unchanged(PW.not_yet_due, "pending_wp_expiry", { 0, 0, 0 }) end)
    it("fix: already closed is counted once (skipped) and its entry removed", function()
      assert.same({ 1, "OK", "already_closed" }, case(PW.already_closed, "pending_wp_expiry", close_wp(true), { 0, 0, 1 }))
      assert.same({ 0, 0, 0 }, { once("pending_wp_expiry") })
    end)
    it("unknown state: a skip (not processed), entry stays", function()
      assert.same({ 0, "waitpoint_not_open" }, case(PW.unknown_state, "pending_wp_expiry", close_wp(true), { 0, 0, 1 }))
      assert.equal(1000, zscore(r, K.pending_waitpoint_expiry(T), W))
    end)
    it("fix: missing waitpoint is a skip and its entry is removed", function()
      assert.same({ 0, "waitpoint_not_found" },
        case(PW.missing_waitpoint, "pending_wp_expiry", close_wp(false), { 0, 0, 1 }))
      assert.same({}, env_mod.data_keys(r))
    end)
  end)

  describe("index_reconciler", function()
    local R = F.index_reconciler
    it("consistent case: nothing found", function() unchanged(R.consistent, "index_reconciler", { 0, 0, 0 }) end)
    it("inconsistent case: one found, nothing written", function()
      unchanged(R.inconsistent, "index_reconciler", { 1, 0, 0 })
    end)
    it("missing core: one found every cycle", function()
      env:flush()
      R.missing_core(r)
      local before = dump(r)
      -- one host: a fresh one is another instance, which leaves the partition
      -- to the first until its claim expires (issue 14)
      local h = env.new_host()
      for cycle = 1, 2 do assert.same({ 1, 0, 0 }, { h:once("index_reconciler") }, "cycle " .. cycle) end
      h:close()
      assert.same(before, dump(r))
    end)
    it("not-checked case: treated as consistent", function()
      unchanged(R.not_checked, "index_reconciler", { 0, 0, 0 })
    end)
    it("walks every SSCAN page and every expected index", function()
      env:flush()
      for i = 1, 250 do
        local o = { i = i }
        if i % 2 == 0 then R.inconsistent(r, o) else R.consistent(r, o) end
      end
      local c = R.inconsistent(r, { i = 300, fields = { lifecycle_phase = "terminal", lane_id = "blue" } })
      F.zadd(r, K.lane(T, "blue", "terminal"), "5", c.eid)
      R.inconsistent(r, { i = 301, fields = { lifecycle_phase = "suspended" } })
      assert.same({ 126, 0, 0 }, { once("index_reconciler") })
    end)
  end)
end)
