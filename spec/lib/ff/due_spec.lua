-- The due-item scanners (ff.due), one spec per "better than FlowFabric 0.1.1" fix, run
-- through the scanners (h:once, one full cycle over 8 partitions) against scanhost's library.
local env_mod = require "spec.helpers.env"
local F = require "ff.fixtures"
local K = require "ff.keys"

local hgetall, zscore, dump = env_mod.hgetall, env_mod.zscore, env_mod.dump

describe("due-item scanners (ff.due) where 0.1.1 fell short", function()
  local env, r
  local T, E = F.T, F.E

  env_mod.suite(function(e) env, r = e, e.r end, { partitions = 8 })
  after_each(function() env:close_hosts() end)

  -- A fresh host (fresh failure tracker), closed after the test.
  local function host(o) return env:host(o) end

  -- A core key of the wrong type makes every function call a RESP error.
  local function broken_core(eid)
    F.call(r, "SET", K.core(T, eid), "not-a-hash")
  end

  describe("replies are read", function()
    it("counts [1,...] as processed, [0,...] as skipped, errors as errors", function()
      F.pending_wp_expiry.acting(r, { wid = F.wid(1) })           -- [1, "OK"]
      F.pending_wp_expiry.unknown_state(r, { wid = F.wid(2) })    -- [0, "waitpoint_not_open"]
      F.call(r, "ZADD", K.pending_waitpoint_expiry(T), "1000", F.wid(3))
      F.call(r, "SET", K.waitpoint(T, F.wid(3)), "x")             -- WRONGTYPE -> error
      local h = host({ log_level = "debug", capture_logs = true })
      assert.same({ 1, 1, 1 }, { h:once("pending_wp_expiry") })
      assert.equal(0, h:tracker("pending_wp_expiry", F.wid(2)))
      assert.equal(1, h:tracker("pending_wp_expiry", F.wid(3)))
      local skipped
      for _, line in ipairs(h:logs()) do
        if line:find("level=debug", 1, true) and line:find("code=waitpoint_not_open", 1, true) then
          skipped = line
        end
      end
      assert.truthy(skipped, "skip logged at debug with its code")
    end)

    it("feeds the failure tracker: 3 failures, then skipped until the 10th cycle after", function()
      broken_core(E)
      F.call(r, "ZADD", K.lease_expiry(T), "1000", E)
      local h = host()
      local seen = {}
      for cycle = 1, 14 do
        local p, e = h:once("lease_expiry")
        seen[cycle] = p .. "/" .. e
      end
      assert.same({ "0/1", "0/1", "0/1", "0/0", "0/0", "0/0", "0/0", "0/0", "0/0", "0/0", "0/0", "0/0",
        "0/1", "0/1" }, seen)
    end)

    it("a success clears the failure count", function()
      broken_core(E)
      F.call(r, "ZADD", K.lease_expiry(T), "1000", E)
      local h = host()
      assert.same({ 0, 1, 0 }, { h:once("lease_expiry") })
      assert.same({ 0, 1, 0 }, { h:once("lease_expiry") })
      F.call(r, "DEL", K.core(T, E))                               -- now execution_not_found
      assert.same({ 0, 0, 1 }, { h:once("lease_expiry") })         -- a no-op: skipped
      broken_core(E)
      F.call(r, "ZADD", K.lease_expiry(T), "1000", E)
      for _ = 1, 2 do assert.same({ 0, 1, 0 }, { h:once("lease_expiry") }) end
      assert.same({ 0, 1, 0 }, { h:once("lease_expiry") })         -- third consecutive failure
      assert.same({ 0, 0, 1 }, { h:once("lease_expiry") })         -- now in backoff: skipped
    end)
  end)

  describe("no head-of-line blocking", function()
    it("60 stale entries ahead of one due item: the due item is processed in one cycle", function()
      for i = 1, 60 do F.lease_expiry.already_expired(r, { i = 100 + i, minimal = true }) end
      F.lease_expiry.acting(r, { score = "2000" })
      local before = dump(r)
      assert.same({ 1, 0, 60 }, { host():once("lease_expiry") })
      assert.equal("lease_expired_reclaimable", hgetall(r, K.core(T, E)).ownership_state)
      local after = dump(r)
      for i = 1, 60 do
        local k = K.core(T, F.eid(5, 100 + i))
        assert.same(before[k], after[k])
      end
    end)

    it("items in backoff do not hide a newer due item", function()
      for i = 1, 60 do
        local eid = F.eid(5, 100 + i)
        broken_core(eid)
        F.call(r, "ZADD", K.attempt_timeout(T), "1000", eid)
      end
      local h = host()
      for _ = 1, 3 do assert.same({ 0, 60, 0 }, { h:once("attempt_timeout") }) end
      F.attempt_timeout.acting(r, { score = "2000" })
      assert.same({ 1, 0, 60 }, { h:once("attempt_timeout") }) -- the 60 are in backoff
      assert.equal("terminal", hgetall(r, K.core(T, E)).lifecycle_phase)
    end)

    it("refusals ahead of a due pending waitpoint (batch 100) do not hide it", function()
      for i = 1, 120 do F.pending_wp_expiry.unknown_state(r, { wid = F.wid(i) }) end
      F.pending_wp_expiry.acting(r, { score = "2000" })
      assert.same({ 1, 0, 120 }, { host():once("pending_wp_expiry") })
      assert.equal("closed", hgetall(r, K.waitpoint(T, F.W)).state)
      assert.equal(120, r:call("ZCARD", K.pending_waitpoint_expiry(T)))
    end)

    it("delayed items that stay are read past, per lane", function()
      for i = 1, 60 do F.delayed_promoter.not_yet_due_record(r, { i = 100 + i }) end
      F.delayed_promoter.acting(r, { score = "2000" })
      assert.same({ 1, 0, 60 }, { host():once("delayed_promoter") })
      assert.equal(1000, zscore(r, K.lane(T, "default", "eligible"), E))
    end)

    it("the extra reading is bounded by max_pages", function()
      for i = 1, 30 do F.lease_expiry.already_expired(r, { i = 100 + i, minimal = true }) end
      F.lease_expiry.acting(r, { score = "2000" })
      -- batch_max pins the page size: the adaptive size (issue 5) would grow it
      local h = host({ scanner_config = { lease_expiry = { batch = 10, batch_max = 10, max_pages = 2 } } })
      assert.same({ 0, 0, 20 }, { h:once("lease_expiry") })
      assert.equal("leased", hgetall(r, K.core(T, E)).ownership_state)
    end)
  end)

  describe("the tracker cycle advances once per full cycle", function()
    it("backoff counts full cycles even when partition 0 has nothing to do", function()
      -- Partition 0 is empty (0.1.1 advanced the cycle only after a successful
      -- index read on partition 0); the failing item sits on partition 1.
      local eid = F.eid(1, 1)
      F.call(r, "SET", K.core("{fp:1}", eid), "x")
      F.call(r, "ZADD", K.suspension_timeout("{fp:1}"), "1000", eid)
      local h = host()
      local errs = 0
      for _ = 1, 13 do
        local _, e = h:once("suspension_timeout")
        errs = errs + e
      end
      assert.equal(4, errs)  -- cycles 1, 2, 3 and the retry at 13
    end)
  end)

  describe("validate before write", function()
    it("a fault record is refused with invalid_state and nothing changes", function()
      F.lease_expiry.fault(r)
      F.delayed_promoter.bad_priority(r, { i = 2 })
      F.suspension_timeout.fault(r, { i = 3 })
      local before = dump(r)
      local h = host({ lanes = { "default" }, capture_logs = true, log_level = "warn" })
      for _, s in ipairs({ "lease_expiry", "delayed_promoter", "suspension_timeout" }) do
        assert.same({ 0, 0, 1 }, { h:once(s) })
        -- a skip, but one an operator must hear of: one warning naming the field
        local warned = {}
        for _, line in ipairs(h:logs()) do
          if line:find('msg="item skipped: malformed data"', 1, true) then warned[#warned + 1] = line end
        end
        assert.equal(1, #warned, s)
        assert.matches("code=invalid_state", warned[1])
        assert.matches("field=%w", warned[1])
      end
      assert.same(before, dump(r))
    end)
  end)

  describe("ff_promote_delayed with an empty delay_until", function()
    it("is promoted instead of failing forever", function()
      F.delayed_promoter.empty_delay_until(r)
      assert.same({ 1, 0, 0 }, { host():once("delayed_promoter") })
      assert.equal("eligible_now", hgetall(r, K.core(T, E)).eligibility_state)
    end)
  end)

  describe("entries that can never be acted on are removed", function()
    it("closed, expired and missing waitpoints leave the pending index", function()
      F.pending_wp_expiry.already_closed(r, { wid = F.wid(1) })
      F.pending_wp_expiry.already_closed(r, { wid = F.wid(2), state = "expired" })
      F.pending_wp_expiry.missing_waitpoint(r, { wid = F.wid(3) })
      local h = host()
      assert.same({ 0, 0, 3 }, { h:once("pending_wp_expiry") }) -- no-ops, entries removed
      assert.equal(0, r:call("ZCARD", K.pending_waitpoint_expiry(T)))
      assert.same({ 0, 0, 0 }, { h:once("pending_wp_expiry") })
    end)
  end)

  describe("real worker-lease set and well-formed keys", function()
    it("empty lane_id, attempt index and worker id build no malformed key", function()
      F.attempt_timeout.acting(r, { companions = false, fields = { lane_id = "", current_lane = "",
        current_attempt_index = "", current_worker_instance_id = "" } })
      assert.same({ 1, 0, 0 }, { host():once("attempt_timeout") })
      assert.equal("terminal", hgetall(r, K.core(T, E)).lifecycle_phase)
      for _, k in ipairs(r:call("KEYS", "*")) do
        assert.is_nil(k:find("::", 1, true), k)
        assert.is_nil(k:find(":$"), k)
      end
      assert.equal(1, r:call("EXISTS", K.lane(T, "default", "terminal")))
    end)

    it("the worker's real lease set is cleaned", function()
      F.attempt_timeout.acting(r)
      F.sadd(r, K.worker_leases(T, "wi1"), F.eid(5, 9))
      assert.same({ 1, 0, 0 }, { host():once("attempt_timeout") })
      assert.same({ F.eid(5, 9) }, r:call("SMEMBERS", K.worker_leases(T, "wi1")))
    end)
  end)
end)
