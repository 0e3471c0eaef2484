-- Case 4: malformed data. For every execution recipe of ff.fixtures (spec 10
-- §C), every field of every hash the recipe writes is set in turn to an
-- empty string, a non-numeric string and a huge number, and every key the
-- record owns is replaced by a key of the wrong type. One cycle of the
-- scanner then runs with two good records of the same recipe beside the bad
-- one in its partition (and one in the next partition). Asserted:
--  * no crash: the cycle returns, at most one error (the bad record);
--  * the bad record is reported at most once in the cycle (warn/error lines
--    naming it);
--  * every good record ends exactly as it does in a run without the bad one;
--  * nothing else changed: the bad record's keys are either untouched
--    (apart from its own index entries, which may be cleaned) or it made the
--    very transition a good record makes (its value for the bad field aside).
-- FAULTS_LONG=1: every recipe x field x variant and two cycles per case; the
-- short run takes every recipe and field with the variants "" and "x!" and
-- the wrong-type keys, one cycle each.
local FX = require "tests.faults.helpers.fx"
local T = require "scanhost_test"
local F = FX.F

local RECIPES = {
  { scanner = "lease_expiry", build = F.lease_expiry.acting },
  { scanner = "delayed_promoter", build = F.delayed_promoter.acting },
  { scanner = "attempt_timeout", build = F.attempt_timeout.active },
  { scanner = "execution_deadline", build = F.execution_deadline.acting },
  { scanner = "suspension_timeout", build = F.suspension_timeout.acting },
  { scanner = "pending_wp_expiry", build = F.pending_wp_expiry.acting },
}

local VARIANTS = FX.LONG and { "", "not-a-number!", ("9"):rep(40), "-1e400", "0x10" }
  or { "", "x!", ("9"):rep(40) }
local CYCLES = FX.LONG and 2 or 1
local STATE_FIELDS = { "lifecycle_phase", "ownership_state", "eligibility_state", "terminal_outcome",
  "attempt_state", "public_state", "blocking_reason" }
local N = 3 -- partition of the bad record

local function ids(n, i)
  return F.eid(n, i), F.wid(0x10000 + n * 4096 + i)
end

-- The bad record is {fp:N} item BAD; every case uses a fresh BAD so the
-- host's failure tracker (which survives between cases) starts clean.
local BAD = 100

describe("fault 4: malformed data", function()
  local srv, h
  local figures = { cases = 0, crashes = 0, lost = 0 }

  setup(function()
    srv = FX.RS.start({})
    h = T.new({ redis = srv.url, partitions = 8, scanners = "scanners", capture_logs = true,
      log_level = "warn" })
    assert.equal("scanhost", h:load_library())
  end)

  teardown(function()
    if h then h:close() end
    if srv then srv:stop() end
    print(("# fault 4: cases=%d (recipes=%d, variants=%d + wrong-type keys), crashes=%d, good records lost=%d"):format(
      figures.cases, #RECIPES, #VARIANTS, figures.crashes, figures.lost))
  end)

  local function seed(recipe, n, i)
    local eid, wid = ids(n, i)
    return recipe.build(h, { n = n, eid = eid, wid = wid })
  end

  -- replaces the ids of item (n, i) by placeholders, and server timestamps by <ts>
  local function norm(s, n, i)
    local eid, wid = ids(n, i)
    s = s:gsub(eid:gsub("%p", "%%%0"), "<E>"):gsub(wid:gsub("%p", "%%%0"), "<W>")
    return (s:gsub("%f[%d]1%d%d%d%d%d%d%d%d%d%d%d%d%f[%D]", "<ts>"))
  end

  -- view(snap, n, i): the part of a snapshot that belongs to item (n, i):
  -- its own keys whole, and its entries in shared keys; normalized text.
  local function view(snap, n, i, skip_field)
    local eid, wid = ids(n, i)
    local lines = {}
    for key, v in pairs(snap) do
      local own = key:find(eid, 1, true) or key:find(wid, 1, true)
      for k, val in pairs(v.c) do
        if own or k == eid or k == wid then
          if not (own and k == skip_field) then
            lines[#lines + 1] = norm(key .. " " .. v.type .. " " .. k .. "=" .. tostring(val), n, i)
          end
        end
      end
      if own and next(v.c) == nil then lines[#lines + 1] = norm(key .. " " .. v.type, n, i) end
    end
    table.sort(lines)
    return table.concat(lines, "\n")
  end

  local function others(snap)
    -- everything that belongs to no seeded item
    local lines = {}
    local mine = {}
    for _, it in ipairs({ { N, BAD }, { N, 2 }, { N, 3 }, { N + 1, 1 } }) do
      local e, w = ids(it[1], it[2])
      mine[#mine + 1] = e
      mine[#mine + 1] = w
    end
    for key, v in pairs(snap) do
      local owned = false
      for _, id in ipairs(mine) do owned = owned or key:find(id, 1, true) ~= nil end
      if not owned then
        for k, val in pairs(v.c) do
          local is_item = false
          for _, id in ipairs(mine) do is_item = is_item or k == id end
          if not is_item then lines[#lines + 1] = key .. " " .. k .. "=" .. tostring(val) end
        end
      end
    end
    table.sort(lines)
    return table.concat(lines, "\n")
  end

  local function neighbours(recipe)
    seed(recipe, N, 2)
    seed(recipe, N, 3)
    seed(recipe, N + 1, 1)
  end

  local function run_cycles(scanner)
    local processed, errors, reports = 0, 0, {}
    local bad_eid, bad_wid = ids(N, BAD)
    for c = 1, CYCLES do
      local p, e = h:once(scanner)
      processed, errors = processed + p, errors + e
      local n = 0
      for _, line in ipairs(h:logs()) do
        if (line:find("level=warn", 1, true) or line:find("level=error", 1, true))
          and (line:find(bad_eid, 1, true) or line:find(bad_wid, 1, true)) then
          n = n + 1
        end
      end
      reports[c] = n
    end
    return processed, errors, reports
  end

  -- A suspended execution whose current_waitpoint_id names another
  -- execution's live waitpoint: expiring the first must not close the second.
  -- (Found by the sweep above: a bad current_waitpoint_id makes
  -- ff_expire_suspension write ff:wp:<tag>:<that id> and its :condition hash.)
  it("ff_expire_suspension never closes another execution's waitpoint", function()
    h:call("FLUSHALL")
    local other = F.suspension_timeout.acting(h, { n = N, i = 2, wid = F.wid(0x222), score = F.FUTURE })
    F.waitpoint(h, other, { state = "active", execution_id = other.eid, waitpoint_id = other.wid })
    local c = F.suspension_timeout.acting(h, { n = N, i = 1, wid = F.wid(0x111) })
    h:call("HSET", FX.K.core(c.tag, c.eid), "current_waitpoint_id", other.wid)
    h:once("suspension_timeout")
    local wp = FX.K.waitpoint(other.tag, other.wid)
    assert.are.equal("active", h:call("HGET", wp, "state"))
    assert.are.equal(0, h:call("EXISTS", wp .. ":condition"))
  end)

  for _, recipe in ipairs(RECIPES) do
    describe(recipe.scanner, function()
      local reference, good_after, good_bad, fields, item_keys

      -- key of the record of the setup run, renamed for the current BAD
      local function rename(key)
        local e0, w0 = ids(N, good_bad)
        local e1, w1 = ids(N, BAD)
        return (key:gsub(e0:gsub("%p", "%%%0"), (e1:gsub("%%", "%%%%"))):gsub(w0:gsub("%p", "%%%0"), (w1:gsub("%%", "%%%%"))))
      end

      setup(function()
        -- the reference: good records only, after the same cycles
        FX.fresh(h, recipe.scanner)
        neighbours(recipe)
        run_cycles(recipe.scanner)
        reference = FX.snapshot(h)
        -- what a good record at the bad record's place becomes
        FX.fresh(h, recipe.scanner)
        BAD = BAD + 1
        seed(recipe, N, BAD)
        local before = FX.snapshot(h)
        run_cycles(recipe.scanner)
        good_after = FX.snapshot(h)
        good_bad = BAD
        -- the bad record's hashes, fields and own keys (as suffixes)
        fields, item_keys = {}, {}
        local eid, wid = ids(N, BAD)
        local names = {}
        for key in pairs(before) do names[#names + 1] = key end
        table.sort(names)
        for _, key in ipairs(names) do
          local v = before[key]
          if key:find(eid, 1, true) or key:find(wid, 1, true) then
            item_keys[#item_keys + 1] = key
            if v.type == "hash" then
              local fs = {}
              for f in pairs(v.c) do fs[#fs + 1] = f end
              table.sort(fs)
              for _, f in ipairs(fs) do fields[#fields + 1] = { key = key, field = f } end
            end
          end
        end
      end)

      local problems
      local function expect(cond, msg)
        if not cond then problems[#problems + 1] = msg end
        return cond
      end

      local function check_case(label, mutate, field)
        label = recipe.scanner .. " " .. label
        figures.cases = figures.cases + 1
        FX.fresh(h, recipe.scanner)
        BAD = BAD + 1
        seed(recipe, N, BAD)
        mutate()
        neighbours(recipe)
        local before = FX.snapshot(h)
        local ok, processed, errors, reports = pcall(run_cycles, recipe.scanner)
        if not ok then figures.crashes = figures.crashes + 1 end
        if not expect(ok, label .. ": the cycle failed: " .. tostring(processed)) then return end
        assert.is_true(h:call("PING") == "PONG", label .. ": host unusable")
        local after = FX.snapshot(h)
        -- good records: exactly as without the bad one
        for _, it in ipairs({ { N, 2 }, { N, 3 }, { N + 1, 1 } }) do
          local got, want = view(after, it[1], it[2]), view(reference, it[1], it[2])
          if got ~= want then figures.lost = figures.lost + 1 end
          expect(got == want, label .. ": good record " .. it[2] .. " of {fp:" .. it[1] .. "} differs")
        end
        -- at most one error per cycle, at most one report per cycle
        expect(errors <= CYCLES, label .. ": errors=" .. errors)
        for c, n in ipairs(reports) do
          expect(n <= 1, label .. (": reported %d times in cycle %d"):format(n, c))
        end
        -- nothing else changed
        expect(others(before) == others(after), label .. ": unrelated data changed")
        -- the bad record: untouched (index entries may be cleaned) or a good transition
        local b0, b1 = view(before, N, BAD), view(after, N, BAD)
        if b0 ~= b1 then
          local strip = function(s)
            local out = {}
            for line in s:gmatch("[^\n]+") do
              if not line:find("^ff:idx:") then out[#out + 1] = line end
            end
            return table.concat(out, "\n")
          end
          local untouched = strip(b0) == strip(b1)
          -- or the same transition as a good record: the same state fields
          -- (the bad value may route companion writes to keys it names; that
          -- any write stays within the record's own keys is checked above)
          local state = function(snap, i)
            local core = snap[FX.K.core(("{fp:%d}"):format(N), (ids(N, i)))]
            if not core or core.type ~= "hash" then return "no core hash" end
            local t = {}
            for _, f in ipairs(STATE_FIELDS) do
              -- spec 10: attempt_state follows whether current_attempt_index is set
              local derived = f == "attempt_state" and field == "current_attempt_index"
              if f ~= field and not derived then t[#t + 1] = f .. "=" .. tostring(core.c[f]) end
            end
            return table.concat(t, " ")
          end
          local transitioned = state(after, BAD) == state(good_after, good_bad)
          if not expect(untouched or transitioned,
            label .. ": the bad record was changed in a way a good one never is") and os.getenv("FAULTS_VERBOSE") then
            print("# before:\n# " .. b0:gsub("\n", "\n# ") .. "\n# after:\n# " .. b1:gsub("\n", "\n# "))
          end
        end
      end

      it("every field x {empty, non-numeric, huge}", function()
        problems = {}
        assert.is_true(#fields > 0)
        for _, f in ipairs(fields) do
          for _, value in ipairs(VARIANTS) do
            check_case(("%s=%q"):format(f.field, value), function()
              local eid, wid = ids(N, BAD)
              local key = rename(f.key)
              assert(key:find(eid, 1, true) or key:find(wid, 1, true))
              assert(h:call("HEXISTS", key, f.field) == 1)
              h:call("HSET", key, f.field, value)
            end, f.field)
          end
        end
        assert.are.equal("", table.concat(problems, "\n"))
      end)

      it("every key of the record with the wrong type", function()
        problems = {}
        for _, key in ipairs(item_keys) do
          for _, kind in ipairs({ "string", "list" }) do
            check_case(key:gsub("^.*:", "") .. " as " .. kind, function() FX.retype(h, rename(key), kind) end)
          end
        end
        assert.are.equal("", table.concat(problems, "\n"))
      end)
    end)
  end
end)
