-- ff.drain (the due-item skeleton's drain): pipelined and batched calls, bounded
-- drain, adaptive page size, select() and idle round trips, batch functions.
-- Real redis-server, the host's own bindings; partition count 8 unless stated.
local env_mod = require "spec.helpers.env"
local F = require "ff.fixtures"
local K = require "ff.keys"
local ops = require "ff.exec_ops"
local batch = require "ff.batch"
local adaptive = require "ff.adaptive"

local dump = env_mod.dump

local normalize = env_mod.normalize

describe("ff.drain: pipelined, bounded, adaptive drains", function()
  local env, r

  env_mod.suite(function(e) env, r = e, e.r end, { partitions = 8 })
  after_each(function()
    env:close_hosts()
    env:use("scanhost")
  end)

  local function host(o)
    return env:host(o)
  end

  -- A mixed workload on partitions 1..3 for every due-item scanner: acting
  -- items, no-ops, refusals, missing records and poison (wrong-type) records.
  local function seed_mixed()
    for n = 1, 3 do
      for i = 1, 12 do
        local o = { n = n, i = i }
        if i % 4 == 0 then F.lease_expiry.already_expired(r, o) else F.lease_expiry.acting(r, o) end
      end
      F.lease_expiry.fault(r, { n = n, i = 20 })
      F.lease_expiry.missing_core(r, { n = n, i = 21 })
      for i = 30, 41 do F.delayed_promoter.acting(r, { n = n, i = i }) end
      F.delayed_promoter.not_yet_due_record(r, { n = n, i = 42 })
      F.delayed_promoter.bad_priority(r, { n = n, i = 43 })
      F.attempt_timeout.active(r, { n = n, i = 50 })
      F.attempt_timeout.runnable(r, { n = n, i = 51 })
      F.attempt_timeout.suspended(r, { n = n, i = 52 })
      F.suspension_timeout.acting(r, { n = n, i = 60, wid = F.wid(60 + n) })
      F.pending_wp_expiry.acting(r, { n = n, wid = F.wid(100 + n) })
      F.pending_wp_expiry.unknown_state(r, { n = n, wid = F.wid(110 + n) })
    end
    local poison = F.eid(2, 99)
    F.call(r, "SET", K.core("{fp:2}", poison), "x")
    F.call(r, "ZADD", K.lease_expiry("{fp:2}"), "1000", poison)
    F.call(r, "ZADD", K.attempt_timeout("{fp:2}"), "1000", poison)
  end

  local DUE = { "lease_expiry", "delayed_promoter", "attempt_timeout", "execution_deadline",
    "suspension_timeout", "pending_wp_expiry" }

  -- drain(lib, cfg) -> normalized final state, {processed, errors, skipped} per scanner
  local function drain(lib, cfg)
    env:flush()
    env:use(lib)
    seed_mixed()
    local t0 = env_mod.now_ms(r)
    local sc = {}
    for _, name in ipairs(DUE) do sc[name] = cfg end
    local h = host({ scanner_config = sc })
    local counts = {}
    for _, name in ipairs(DUE) do counts[name] = { h:once(name) } end
    return normalize(dump(r), t0, env_mod.now_ms(r) + 1), counts
  end

  describe("pipelined drain", function()
    it("ends in the same state as one call at a time, with either library", function()
      local one = { batch = 1, batch_min = 1, batch_max = 1, max_pages = 100 }
      local big = { batch = 4, batch_min = 4, batch_max = 64, max_pages = 100 }
      local ref_state, ref_counts = drain("flowfabric", one)
      local piped_state, piped_counts = drain("flowfabric", big)
      local batch_state, batch_counts = drain("scanhost", big)
      assert.same(ref_counts, piped_counts)
      assert.same(ref_counts, batch_counts)
      assert.same(ref_state, piped_state)
      assert.same(ref_state, batch_state)
      -- and it did work. Per partition, lease_expiry: 9 due leases and
      -- attempt_timeout.active's lease companion are processed; the 3 leases
      -- already expired and the missing core ([1, "ALREADY_SATISFIED", ...])
      -- and the fault are skipped; plus the poison on partition 2.
      -- delayed_promoter: 12 promoted; not_yet_due ([1, "OK", "not_yet_due"])
      -- and the malformed record's refusal skipped.
      assert.same({ 3 * 10, 1, 3 * 5 }, ref_counts.lease_expiry)
      assert.same({ 3 * 12, 0, 3 * 2 }, ref_counts.delayed_promoter)
    end)
  end)

  describe("a poison item mid-pipeline", function()
    for _, lib in ipairs({ "scanhost", "flowfabric" }) do
      it("fails alone and enters backoff (" .. lib .. ")", function()
        env:use(lib)
        for i = 1, 6 do F.lease_expiry.acting(r, { i = i, score = tostring(1000 + i * 10) }) end
        local poison = F.eid(5, 99)
        F.call(r, "SET", K.core(F.T, poison), "x")
        F.call(r, "ZADD", K.lease_expiry(F.T), "1035", poison) -- between items 3 and 4
        local h = host()
        assert.equal(lib, h:load_library())
        for cycle = 1, 3 do
          -- after the first cycle the 6 are already expired: skipped
          local done = cycle == 1 and { 6, 1, 0 } or { 0, 1, 6 }
          assert.same(done, { h:once("lease_expiry") }, "cycle " .. cycle)
          assert.equal(cycle, h:tracker("lease_expiry", poison))
        end
        for i = 1, 6 do
          assert.equal("lease_expired_reclaimable", env_mod.hgetall(r, K.core(F.T, F.eid(5, i))).ownership_state)
        end
        -- the 6 were marked expired before: known no-ops, not called (memo);
        -- the poison is in backoff: not called either
        assert.same({ 0, 0, 7 }, { h:once("lease_expiry") })
      end)
    end

    it("a failed pre-read fails only its own item", function()
      for i = 1, 3 do F.attempt_timeout.active(r, { i = i }) end
      local poison = F.eid(5, 99)
      F.call(r, "SET", K.core(F.T, poison), "x")          -- HMGET -> WRONGTYPE
      F.call(r, "ZADD", K.attempt_timeout(F.T), "1000", poison)
      local h = host()
      assert.same({ 3, 1, 0 }, { h:once("attempt_timeout") })
      assert.equal(1, h:tracker("attempt_timeout", poison))
    end)
  end)

  describe("bounded drain", function()
    -- partition 0 is hot (100 due), partitions 1..7 hold 5 each
    local function seed_hot()
      for i = 1, 100 do F.delayed_promoter.acting(r, { n = 0, i = i }) end
      for n = 1, 7 do
        for i = 1, 5 do F.delayed_promoter.acting(r, { n = n, i = i }) end
      end
    end
    local function due_left(n)
      return r:call("ZCARD", K.lane(string.format("{fp:%d}", n), "default", "delayed"))
    end
    local pinned = { batch = 10, batch_max = 10 }

    it("a spent budget leaves one page per partition per cycle, every partition visited", function()
      seed_hot()
      local h = host({ scanner_config = { delayed_promoter = F.merge(pinned, { drain_budget = 0 }) } })
      assert.same({ 10 + 7 * 5, 0, 0 }, { h:once("delayed_promoter") })
      assert.equal(90, due_left(0))
      for n = 1, 7 do assert.equal(0, due_left(n)) end
      assert.same({ 10, 0, 0 }, { h:once("delayed_promoter") })
      assert.equal(80, due_left(0))
    end)

    it("--once (ctx.once) drains past a spent budget: everything due is done in its one cycle", function()
      seed_hot()
      local h = host({ once = true, scanner_config = { delayed_promoter = F.merge(pinned, { drain_budget = 0 }) } })
      assert.same({ 135, 0, 0 }, { h:once("delayed_promoter") })
      for n = 0, 7 do assert.equal(0, due_left(n)) end
    end)

    it("within the budget a full partition is read again until it is empty", function()
      seed_hot()
      local h = host({ scanner_config = { delayed_promoter = F.merge(pinned, { drain_budget = 1000.0 }) } })
      assert.same({ 135, 0, 0 }, { h:once("delayed_promoter") })
      for n = 0, 7 do assert.equal(0, due_left(n)) end
    end)

    it("entries left behind stop the drain after max_pages pages", function()
      for i = 1, 25 do F.lease_expiry.already_expired(r, { i = i, minimal = true }) end
      local h = host({ scanner_config = { lease_expiry = F.merge(pinned, { max_pages = 2, drain_budget = 1000.0 }) } })
      assert.same({ 0, 0, 20 }, { h:once("lease_expiry") })
    end)
  end)

  describe("batch functions", function()
    -- Each case: recipes seeded on partition 0 (h:run's ctx.tag), the op,
    -- and the index members to act on, in order.
    local CASES = {
      { op = ops.mark_lease_expired, seed = function()
        local out = {}
        for i, recipe in ipairs({ "acting", "not_yet_due_record", "already_terminal", "revoked", "unowned",
          "already_expired", "fault", "missing_core" }) do
          out[i] = F.lease_expiry[recipe](r, { n = 0, i = i }).eid
        end
        F.call(r, "SET", K.core("{fp:0}", F.eid(0, 50)), "x")
        out[#out + 1] = F.eid(0, 50)
        out[#out + 1] = ""                                  -- invalid_input
        return out
      end },
      { op = ops.promote_delayed("default", 5000), seed = function()
        local out = {}
        for i, recipe in ipairs({ "acting", "not_yet_due_record", "already_terminal", "not_delayed",
          "empty_delay_until", "bad_priority", "missing_core" }) do
          out[i] = F.delayed_promoter[recipe](r, { n = 0, i = i }).eid
        end
        return out
      end },
      { op = ops.expire_execution("attempt_timeout"), seed = function()
        local out = {}
        for i, recipe in ipairs({ "active", "runnable", "suspended", "not_yet_due", "already_terminal",
          "missing_core" }) do
          out[i] = F.attempt_timeout[recipe](r, { n = 0, i = i }).eid
        end
        return out
      end },
      { op = ops.expire_suspension, seed = function()
        local out = {}
        for i, behavior in ipairs({ "fail", "cancel", "expire", "auto_resume", "escalate" }) do
          out[i] = F.suspension_timeout.acting(r, { n = 0, i = i, wid = F.wid(i), behavior = behavior }).eid
        end
        out[#out + 1] = F.suspension_timeout.no_suspension(r, { n = 0, i = 9 }).eid
        return out
      end },
      { op = ops.close_waitpoint, seed = function()
        local out = {}
        for i, recipe in ipairs({ "acting", "not_yet_due", "already_closed", "unknown_state",
          "missing_waitpoint" }) do
          out[i] = F.pending_wp_expiry[recipe](r, { n = 0, wid = F.wid(i) }).wid
        end
        return out
      end },
    }

    -- run(lib, case) -> normalized replies (errors as their code) and state
    local function run(lib, case)
      env:flush()
      local items = case.seed()
      local t0 = env_mod.now_ms(r)
      local calls = r:run(function(ctx)
        local c = setmetatable({ library = lib }, { __index = ctx })
        return batch.run(c, case.op, items)
      end)
      local replies = {}
      for i, c in ipairs(calls) do
        replies[i] = c.err and { err = c.err:match("^(%S+)") } or c.reply
      end
      local t1 = env_mod.now_ms(r) + 1
      return normalize(replies, t0, t1), normalize(dump(r), t0, t1), #items
    end

    for _, case in ipairs(CASES) do
      it("equal the per-item functions item by item: " .. case.op.fn, function()
        local per_replies, per_state, n = run("flowfabric", case)
        local b_replies, b_state = run("scanhost", case)
        assert.equal(n, #per_replies)
        assert.same(per_replies, b_replies)
        assert.same(per_state, b_state)
      end)
    end

    -- A batch of promotions checks its lane sets' types once (issue 13): a
    -- wrong-typed set still refuses every item, and items whose core is the
    -- sets' key cannot make a checked pair wrong.
    for _, bad in ipairs({ "eligible", "delayed" }) do
      it("equal the per-item functions with a " .. bad .. " set of another type", function()
        local case = { op = ops.promote_delayed("default", 5000), seed = function()
          local out = {}
          for i = 1, 3 do out[i] = F.delayed_promoter.acting(r, { n = 0, i = i }).eid end
          F.call(r, "DEL", K.lane("{fp:0}", "default", bad))
          F.call(r, "SET", K.lane("{fp:0}", "default", bad), "x")
          return out
        end }
        local per_replies, per_state = run("flowfabric", case)
        local b_replies, b_state = run("scanhost", case)
        assert.same({ 0, "invalid_state", K.lane("{fp:0}", "default", bad) }, b_replies[3])
        assert.same(per_replies, b_replies)
        assert.same(per_state, b_state)
      end)
    end

    it("refuse a malformed batch as a whole", function()
      local res, err = r:fcall("ff_promote_delayed_batch", { "a", "b" }, { 1, "x", "0" })
      assert.is_nil(res)
      assert.truthy(err:find("expected 3 keys", 1, true), err)
    end)
  end)

  describe("idle cycles", function()
    it("cost at most 3 round trips per stock scanner over 256 partitions", function()
      local h = host({ partitions = 256, budget_partitions = 32, quota_partitions = 32 })
      local names = { "attempt_timeout", "budget_reconciler", "budget_reset", "delayed_promoter",
        "dependency_reconciler", "execution_deadline", "flow_projector", "index_reconciler",
        "lease_expiry", "pending_wp_expiry", "quota_reconciler", "retention_trimmer",
        "suspension_timeout", "unblock" }
      for _, name in ipairs(names) do
        local before = h:round_trips()
        assert.same({ 0, 0, 0 }, { h:once(name) })
        local rt = h:round_trips() - before
        assert.is_true(rt >= 1 and rt <= 3, name .. ": " .. rt .. " round trips")
      end
    end)

    it("select() hands its first page and TIME to scan()", function()
      F.lease_expiry.acting(r, { n = 3 })
      local h = host()
      local before = h:round_trips()
      assert.same({ 1, 0, 0 }, { h:once("lease_expiry") })
      -- TIME + first pages (select), the claim of the partition that newly
      -- has work (issue 14), then one round trip for the call
      assert.equal(4, h:round_trips() - before)
    end)
  end)

  describe("adaptive batch size", function()
    local cfg = { batch = 50, batch_min = 10, batch_max = 400, batch_latency = 0.01 }
    before_each(function() adaptive.reset() end)

    it("grows on fast full pages up to batch_max", function()
      for _ = 1, 10 do adaptive.observe(cfg, { full = true, latency = 0.001 }) end
      assert.equal(400, adaptive.size(cfg))
    end)

    it("keeps its size on partial pages", function()
      adaptive.observe(cfg, { full = false, latency = 0.001 })
      assert.equal(50, adaptive.size(cfg))
    end)

    it("halves on timeouts, BUSY and slow calls, down to batch_min", function()
      assert.is_true(adaptive.overloaded("timeout: no reply within 5 s"))
      assert.is_true(adaptive.overloaded("BUSY Redis is busy running a script"))
      assert.is_false(adaptive.overloaded("WRONGTYPE Operation against a key"))
      adaptive.observe(cfg, { full = true, latency = 0.001, overloaded = true })
      assert.equal(25, adaptive.size(cfg))
      adaptive.observe(cfg, { full = true, latency = 0.5 })
      assert.equal(12, adaptive.size(cfg))
      for _ = 1, 5 do adaptive.observe(cfg, { full = true, latency = 0.001, overloaded = true }) end
      assert.equal(10, adaptive.size(cfg))
    end)

    it("keeps the configured batch within the bounds", function()
      assert.equal(5, adaptive.size({ batch = 5, batch_min = 10, batch_max = 500 }))
    end)
  end)
end)
