-- select() acts on the first pages it read (ff.selection.due): every
-- partition of a chunk in one round trip of calls (plus one of pre-reads),
-- with the per-item semantics of the one-at-a-time path; only partitions
-- whose drain goes on reach scan(). Real redis-server, the host's bindings.
local env_mod = require "spec.helpers.env"
local F = require "ff.fixtures"
local K = require "ff.keys"

local function tag(n) return string.format("{fp:%d}", n) end

local normalize = env_mod.normalize

local DUE = { "lease_expiry", "delayed_promoter", "attempt_timeout", "execution_deadline",
  "suspension_timeout", "pending_wp_expiry" }
local P = 64
-- Claims (issue 14): partitions that newly have work are claimed in one more
-- pipeline per chunk; once they had work, the first-pages pipeline claims them
-- (claims_spec.lua).
local CLAIM = 1
-- The Lua heap the deep-backlog case runs in (lua_memory_mb): it drains in
-- 4 MB; with all first pages at once it needed 20 (12 was not enough).
local MEMORY_MB = 8

describe("ff.selection.due: select() acts on its first pages", function()
  local env, r

  env_mod.suite(function(e) env, r = e, e.r end, { partitions = 8 })
  after_each(function()
    env:close_hosts()
    env:use("scanhost")
  end)

  local function host(o)
    o = o or {}
    o.partitions = o.partitions or P
    return env:host(o)
  end

  -- once(h, name) -> { processed, errors, skipped }, round trips
  local function once(h, name)
    local before = h:round_trips()
    local res = { h:once(name) }
    return res, h:round_trips() - before
  end

  local function left(key) return r:call("ZCARD", key) end

  it("an idle cycle costs at most 2 round trips over 256 partitions", function()
    local h = host({ partitions = 256 })
    for _, name in ipairs(DUE) do
      local res, rt = once(h, name)
      assert.same({ 0, 0, 0 }, res, name)
      assert.is_true(rt >= 1 and rt <= 2, name .. ": " .. rt .. " round trips")
    end
  end)

  it("observe_due (a paused scanner): a failed read is one error, the other targets are still read", function()
    F.call(r, "SET", "obs:bad", "x")
    F.call(r, "ZADD", "obs:good", "1000", "m1", "1001", "m2")
    local observe = require("ff.selection").observe_due(function()
      return { { index = "obs:bad" }, { index = "obs:good" }, { index = "obs:none" } }
    end)
    local out, noted = nil, {}
    env.r:run(function(ctx)
      local spy = setmetatable({ note_backlog = function(_, n, oldest) noted[#noted + 1] = { n, oldest } end },
        { __index = ctx })
      out = { observe(spy, { ctx.partition }) }
    end)
    assert.same({ {}, 0, 1 }, out)
    -- the whole due count and the oldest score, without reading the members
    assert.same({ { 2, 1000 }, { 0 } }, noted)
  end)

  it("item logs written by select() name the item's partition", function()
    local poison = F.eid(37, 99)
    F.call(r, "SET", K.core(tag(37), poison), "x")
    F.call(r, "ZADD", K.lease_expiry(tag(37)), "1000", poison)
    local h = host({ capture_logs = true, log_level = "warn" })
    assert.same({ 0, 1, 0 }, { h:once("lease_expiry") })
    local found
    for _, line in ipairs(h:logs()) do
      if line:find("item failed", 1, true) and line:find("item_partition=37", 1, true) then found = line end
    end
    assert.truthy(found, "item failure logged with item_partition=37")
  end)

  for _, lib in ipairs({ "scanhost", "flowfabric" }) do
    describe("(" .. lib .. " library)", function()
      before_each(function() env:use(lib) end)

      it("a cycle over 64 partitions with a few due items each costs a constant number of round trips", function()
        for n = 0, P - 1 do
          for i = 1, 3 do
            F.delayed_promoter.acting(r, { n = n, i = i })
            F.lease_expiry.acting(r, { n = n, i = 10 + i })
            F.attempt_timeout.active(r, { n = n, i = 20 + i })
          end
        end
        local h = host()
        assert.equal(lib, h:load_library())
        -- TIME, first pages, calls
        local res, rt = once(h, "delayed_promoter")
        assert.same({ 3 * P, 0, 0 }, res)
        assert.equal(3 + CLAIM, rt)
        -- the attempt_timeout items also carry a lease; lease_expiry acts on both
        res, rt = once(h, "lease_expiry")
        assert.same({ 6 * P, 0, 0 }, res)
        assert.equal(3 + CLAIM, rt)
        -- TIME, first pages, pre-reads (HMGET), calls
        res, rt = once(h, "attempt_timeout")
        assert.same({ 3 * P, 0, 0 }, res)
        assert.equal(4 + CLAIM, rt)
        for n = 0, P - 1 do
          assert.equal(0, left(K.lane(tag(n), "default", "delayed")))
          assert.equal(0, left(K.attempt_timeout(tag(n))))
        end
        res, rt = once(h, "delayed_promoter") -- nothing left: idle again
        assert.same({ 0, 0, 0 }, res)
        assert.equal(2, rt)
      end)

      it("a poison item fails alone and enters backoff", function()
        for n = 0, P - 1 do
          for i = 1, 2 do F.delayed_promoter.acting(r, { n = n, i = i, score = tostring(1000 + i * 10) }) end
        end
        local poison = F.eid(37, 99)
        F.call(r, "SET", K.core(tag(37), poison), "x")
        F.call(r, "ZADD", K.lane(tag(37), "default", "delayed"), "1015", poison) -- between items 1 and 2
        local h = host()
        assert.equal(lib, h:load_library())
        local res, rt = once(h, "delayed_promoter")
        assert.same({ 2 * P, 1, 0 }, res)
        assert.equal(3 + CLAIM, rt)
        assert.equal(1, h:tracker("delayed_promoter", poison))
        for n = 0, P - 1 do
          for i = 1, 2 do
            assert.equal("eligible_now", env_mod.hgetall(r, K.core(tag(n), F.eid(n, i))).eligibility_state)
          end
        end
        for cycle = 2, 3 do
          assert.same({ 0, 1, 0 }, { h:once("delayed_promoter") }, "cycle " .. cycle)
          assert.equal(cycle, h:tracker("delayed_promoter", poison))
        end
        assert.same({ 0, 0, 1 }, { h:once("delayed_promoter") }) -- in backoff: skipped, not called
        assert.equal(1, left(K.lane(tag(37), "default", "delayed")))
      end)

      it("a partition holding more than a full page still drains in the same cycle", function()
        for n = 0, P - 1 do
          local count = n == 5 and 35 or 2
          for i = 1, count do F.delayed_promoter.acting(r, { n = n, i = i }) end
        end
        local h = host({ scanner_config = { delayed_promoter = { batch = 10, batch_max = 10, drain_budget = 1000.0 } } })
        local res, rt = once(h, "delayed_promoter")
        assert.same({ 35 + 2 * (P - 1), 0, 0 }, res)
        -- TIME, first pages, then calls in round trips of at most
        -- 2 x batch_max = 20 items (pages of p0..5, p6..15, p16..25, ...,
        -- p56..63: 7 round trips; p5's second page is read with the third);
        -- then p5's further pages, which select() drains too: calls of page
        -- 2, then a read and the calls of pages 3 and 4 (scan() has nothing left)
        assert.equal(2 + CLAIM + 7 + 1 + 2 * 2, rt)
        for n = 0, P - 1 do assert.equal(0, left(K.lane(tag(n), "default", "delayed"))) end
      end)

      it("the drain goes on past the entries a page left behind, each item once", function()
        for i = 1, 10 do F.lease_expiry.already_expired(r, { n = 5, i = i, score = tostring(1000 + i) }) end
        for i = 11, 15 do F.lease_expiry.acting(r, { n = 5, i = i, score = tostring(2000 + i) }) end
        for n = 6, 9 do F.lease_expiry.acting(r, { n = n, i = 1 }) end
        local h = host({ scanner_config = { lease_expiry = { batch = 10, batch_max = 10, drain_budget = 1000.0 } } })
        -- the 10 already expired are skipped (no-op replies), not processed
        assert.same({ 5 + 4, 0, 10 }, { h:once("lease_expiry") })
        for i = 11, 15 do
          assert.equal("lease_expired_reclaimable", env_mod.hgetall(r, K.core(tag(5), F.eid(5, i))).ownership_state)
        end
      end)

      it("a spent drain budget leaves one page per partition, handled by select() alone", function()
        for n = 0, P - 1 do
          for i = 1, (n == 5 and 25 or 1) do F.delayed_promoter.acting(r, { n = n, i = i }) end
        end
        local h = host({ scanner_config = { delayed_promoter = { batch = 10, batch_max = 10, drain_budget = 0 } } })
        local res, rt = once(h, "delayed_promoter")
        assert.same({ 10 + (P - 1), 0, 0 }, res)
        assert.equal(2 + CLAIM + 4, rt) -- calls: pages of p0..10 (20 items), p11..30, p31..50, p51..63
        assert.equal(15, left(K.lane(tag(5), "default", "delayed")))
      end)
    end)
  end

  -- Deep backlogs on every partition of a 256-partition chunk: the first
  -- pages (256 x 50 members) are more than ff.selection.FIRST_PASS_ITEMS, so
  -- select() reads heads, then the first pages a group at a time (issue 13).
  for _, lib in ipairs({ "scanhost", "flowfabric" }) do
    it("deep backlogs on 256 partitions drain in one cycle with a small Lua heap (" .. lib .. " library)", function()
      env:use(lib)
      local rec = F.recorder()
      for n = 0, 255 do
        for i = 1, 60 do F.delayed_promoter.acting(rec, { n = n, i = i }) end
      end
      env.r:run(function(ctx)
        for first = 1, #rec.cmds, 5000 do
          assert(ctx.redis:pipeline({ unpack(rec.cmds, first, math.min(first + 4999, #rec.cmds)) }))
        end
      end)
      local h = host({ partitions = 256, lua_memory_mb = MEMORY_MB,
        scanner_config = { delayed_promoter = { drain_budget = 1000.0 } } })
      assert.equal(lib, h:load_library())
      assert.same({ 256 * 60, 0, 0 }, { h:once("delayed_promoter") })
      for n = 0, 255 do assert.equal(0, left(K.lane(tag(n), "default", "delayed"))) end
    end)
  end

  -- A mixed workload on every partition: acting items, no-ops, refusals,
  -- missing records and poison records, for every due-item scanner.
  local function seed_mixed()
    for n = 0, P - 1 do
      for i = 1, 4 do
        local o = { n = n, i = i }
        if i % 4 == 0 then F.lease_expiry.already_expired(r, o) else F.lease_expiry.acting(r, o) end
      end
      if n % 8 == 3 then
        F.lease_expiry.fault(r, { n = n, i = 20 })
        F.lease_expiry.missing_core(r, { n = n, i = 21 })
        F.delayed_promoter.not_yet_due_record(r, { n = n, i = 42 })
        F.delayed_promoter.bad_priority(r, { n = n, i = 43 })
        F.attempt_timeout.runnable(r, { n = n, i = 51 })
        F.pending_wp_expiry.unknown_state(r, { n = n, wid = F.wid(1000 + n) })
      end
      for i = 30, 32 do F.delayed_promoter.acting(r, { n = n, i = i }) end
      F.attempt_timeout.active(r, { n = n, i = 50 })
      F.attempt_timeout.suspended(r, { n = n, i = 52 })
      F.suspension_timeout.acting(r, { n = n, i = 60, wid = F.wid(200 + n) })
      F.pending_wp_expiry.acting(r, { n = n, wid = F.wid(500 + n) })
    end
    for _, n in ipairs({ 2, 40 }) do
      local poison = F.eid(n, 99)
      F.call(r, "SET", K.core(tag(n), poison), "x")
      F.call(r, "ZADD", K.lease_expiry(tag(n)), "1000", poison)
      F.call(r, "ZADD", K.attempt_timeout(tag(n)), "1000", poison)
      F.call(r, "ZADD", K.lane(tag(n), "default", "delayed"), "1000", poison)
    end
  end

  -- drain(lib, cfg) -> normalized final state, {processed, errors} per scanner
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
    return normalize(env_mod.dump(r), t0, env_mod.now_ms(r) + 1), counts
  end

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
    -- 3 promoted per partition; on 1 in 8, not_yet_due ([1, "OK", "not_yet_due"])
    -- and the malformed record's refusal are skipped
    assert.same({ 3 * P, 2, 2 * P / 8 }, ref_counts.delayed_promoter)
    assert.equal(2, ref_counts.lease_expiry[2])
  end)
end)
