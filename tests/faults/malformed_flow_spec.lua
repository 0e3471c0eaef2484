-- Case 4 (issue 6), flow/budget/quota half: malformed data for every fixture
-- recipe of ff.fixtures_flow (spec 20 §C), main (acting) variant, for the
-- seven scanners; unblock is swept with its three recipes (budget, quota,
-- route). Each recipe is built with a good neighbour beside it, and then one
-- piece of its data is spoiled:
--  * every hash field (and every string value, as the field "value") set in
--    turn to each of VARIANTS;
--  * every key replaced by a string and by a list (a key that is already a
--    string: by a hash and by a list).
-- One cycle of the scanner then runs (pcall: a raise is a crash). Asserted:
--  * no crash: the cycle returns, the server still answers PING, errors <= 1,
--    no Lua error (traceback) is logged and the scanner does not run away;
--  * the bad record is reported at most once: "lines about it" are all the
--    warn/error lines of the cycle that do not name the neighbour (the bad
--    record holds the only bad data in the keyspace); the neighbour must not be
--    named in any warn/error line at all;
--  * a server-side function that raised did so before its first write;
--  * nothing a good record never writes: every (key, field/member) the bad
--    cycle changes is in the write footprint W of the reference cycle (good
--    data, same neighbour), or is the spoiled field/key itself, or removes an
--    index entry (keys "ff:idx:...", which include the lane sets, flow_index,
--    budget_resets, budget_policies, quota_policies and workers); no key
--    outside the reference's keys is created;
--  * every other record processed normally: the neighbour ends exactly as in
--    the reference (timestamps normalised), unless the spoiled key is one the
--    neighbour itself lives in (a shared index replaced by a wrong type): then
--    the neighbour is a bad record too, and the bounds are per record (errors
--    <= 2, the neighbour reported at most once).
-- Neighbours (optional ids of fixtures_flow builders): unblock_* a second
-- execution in the same blocked set with no budget / quota / required
-- capabilities (so a spoiled budget, quota or worker is not its data too);
-- retention E2 (shares the recipe's w1/s1 ids, as the fixture does);
-- dependency E2 with its own terminal upstream; flow a second flow with its
-- own members; budget/quota a second budget/policy in the same partition.
-- Not varied: ZSET scores and set/ZSET members (ids; a score cannot hold text).
-- FAULTS_LONG=1 adds the variants "not-a-number!", "-1e400" and "0x10".
local FX = require "tests.faults.helpers.fx"
local T = require "scanhost_test"
local FF = require "ff.fixtures_flow"
local keys = require "ff.keys"
local I = FF.ids

local VARIANTS = { "", "x!", ("9"):rep(40) }
if FX.LONG then
  for _, v in ipairs({ "not-a-number!", "-1e400", "0x10" }) do VARIANTS[#VARIANTS + 1] = v end
end

-- neighbour ids (all on the recipes' partitions {fp:24}, {b:31}, {q:18})
local NE = "{fp:24}:dddddddd-dddd-4ddd-8ddd-dddddddddddd"
local NU = "{fp:24}:eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee"
local NM1 = "{fp:24}:f1f1f1f1-f1f1-4f1f-8f1f-f1f1f1f1f1f1"
local NM2 = "{fp:24}:f2f2f2f2-f2f2-4f2f-8f2f-f2f2f2f2f2f2"
local NF = "660e8400-e29b-41d4-a716-446655440000"
local NB = "33333333-3333-4333-8333-333333333333"
local NQ = "44444444-4444-4444-8444-444444444444"

local RECIPES = {
  { name = "unblock_budget", scanner = "unblock", build = FF.unblock_budget, nids = { NE },
    neighbour = function(h, now) FF.unblock_budget(h, now, { eid = NE, no_budget_ids = true }) end },
  { name = "unblock_quota", scanner = "unblock", build = FF.unblock_quota, nids = { NE },
    neighbour = function(h, now)
      FF.unblock_quota(h, now, { eid = NE, core = { quota_policy_id = false }, no_definition = true })
    end },
  { name = "unblock_route", scanner = "unblock", build = FF.unblock_route, nids = { NE },
    neighbour = function(h, now)
      FF.unblock_route(h, now, { eid = NE, core = { required_capabilities = false }, workers = {} })
    end },
  { name = "retention", scanner = "retention_trimmer", build = FF.retention, nids = { I.E2 },
    neighbour = function(h, now) FF.retention(h, now, { eid = I.E2 }) end },
  { name = "dependency", scanner = "dependency_reconciler", build = FF.dependency, nids = { I.E2, NU },
    neighbour = function(h, now)
      FF.dependency(h, now, { eid = I.E2, dep = { upstream_execution_id = NU } })
      h:call("HSET", keys.core(I.tag, NU), "lifecycle_phase", "terminal", "terminal_outcome", "success")
    end },
  { name = "flow", scanner = "flow_projector", build = FF.flow, nids = { NF, NM1, NM2 },
    neighbour = function(h, now)
      FF.flow(h, now, { fid = NF, states = { [NM1] = "completed", [NM2] = "active" } })
    end },
  { name = "budget_reset", scanner = "budget_reset", build = FF.budget_reset, nids = { NB },
    neighbour = function(h, now) FF.budget_reset(h, now, { bid = NB }) end },
  { name = "budget_reconcile", scanner = "budget_reconciler", build = FF.budget_reconcile, nids = { NB },
    neighbour = function(h, now) FF.budget_reconcile(h, now, { bid = NB }) end },
  { name = "quota_reconcile", scanner = "quota_reconciler", build = FF.quota_reconcile, nids = { NQ },
    neighbour = function(h, now) FF.quota_reconcile(h, now, { qid = NQ }) end },
}

local WHOLE = "<key>" -- the member name of a whole-key event (created, deleted, retyped)

local function has_any(s, ids)
  for _, id in ipairs(ids) do
    if s:find(id, 1, true) then return true end
  end
  return false
end

-- server timestamps (13-digit ms) -> <ts>, so runs at different times compare
local function norm(s)
  return (s:gsub("%f[%d]1%d%d%d%d%d%d%d%d%d%d%d%d%f[%D]", "<ts>"))
end

describe("fault 4: malformed data (flow/budget/quota)", function()
  local srv, h
  local figures = { cases = 0, crashes = 0, lost = 0 }

  -- unblock's worker-caps cache lives for `interval`: 1 ms makes every case
  -- read the (possibly spoiled) caps instead of a previous case's union
  local function new_host()
    if h then h:close() end
    h = T.new({ redis = srv.url, partitions = FF.counts.flow, budget_partitions = FF.counts.budget,
      quota_partitions = FF.counts.quota, scanners = "scanners", capture_logs = true,
      log_level = "warn", scanner_config = { unblock = { interval = 0.001 } },
      library_level = 5 }) -- the recipes are spec 20's (0.1.1): its global worker caps
    assert.equal("scanhost", h:load_library())
  end

  setup(function()
    srv = FX.RS.start({})
    new_host()
  end)

  teardown(function()
    if h then h:close() end
    if srv then srv:stop() end
    print(("# fault 4 (flow/budget/quota): cases=%d (recipes=%d, variants=%d + wrong-type keys), "
      .. "crashes=%d, good records lost=%d"):format(figures.cases, #RECIPES, #VARIANTS,
      figures.crashes, figures.lost))
  end)

  local function now_ms()
    local t = h:call("TIME")
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end

  -- diff(a, b) -> list of { key, member, removed } that differ; a key created,
  -- deleted or retyped is a WHOLE event plus one event per member on either side.
  local function diff(a, b)
    local out = {}
    local function all(key, v, removed)
      for m in pairs(v.c) do out[#out + 1] = { key = key, member = m, removed = removed } end
    end
    for key, va in pairs(a) do
      local vb = b[key]
      if not vb or vb.type ~= va.type then
        out[#out + 1] = { key = key, member = WHOLE, removed = not vb }
        all(key, va, true)
        if vb then all(key, vb, false) end
      else
        for m, x in pairs(va.c) do
          if vb.c[m] ~= x then out[#out + 1] = { key = key, member = m, removed = vb.c[m] == nil } end
        end
        for m in pairs(vb.c) do
          if va.c[m] == nil then out[#out + 1] = { key = key, member = m, removed = false } end
        end
      end
    end
    for key, vb in pairs(b) do
      if not a[key] then
        out[#out + 1] = { key = key, member = WHOLE, removed = false }
        all(key, vb, false)
      end
    end
    return out
  end

  -- view(snap, ids): the neighbour's part of a snapshot (its own keys whole,
  -- its entries in shared keys), normalised text.
  local function view(snap, ids)
    local lines = {}
    for key, v in pairs(snap) do
      local own = has_any(key, ids)
      for m, x in pairs(v.c) do
        if own or has_any(m, ids) then
          lines[#lines + 1] = norm(key .. " " .. v.type .. " " .. m .. "=" .. x)
        end
      end
    end
    table.sort(lines)
    return table.concat(lines, "\n")
  end

  for _, recipe in ipairs(RECIPES) do
    describe(recipe.name, function()
      local fields, own_keys, W, good_keys, ref_before, ref_after = {}, {}, {}, {}, nil, nil
      local problems

      setup(function()
        -- the recipe's own keys and fields: the recipe alone
        FX.fresh(h)
        recipe.build(h, now_ms())
        local alone = FX.snapshot(h)
        for key in pairs(alone) do own_keys[#own_keys + 1] = key end
        table.sort(own_keys)
        for _, key in ipairs(own_keys) do
          local v = alone[key]
          if v.type == "hash" or v.type == "string" then
            local fs = {}
            for f in pairs(v.c) do fs[#fs + 1] = f end
            table.sort(fs)
            for _, f in ipairs(fs) do
              fields[#fields + 1] = { key = key, field = f, string = v.type == "string" }
            end
          end
        end
        -- the reference: recipe + neighbour, good data, one cycle
        FX.fresh(h)
        local now = now_ms()
        recipe.build(h, now)
        recipe.neighbour(h, now)
        ref_before = FX.snapshot(h)
        h:once(recipe.scanner)
        ref_after = FX.snapshot(h)
        for _, c in ipairs(diff(ref_before, ref_after)) do W[c.key .. "\0" .. c.member] = true end
        for key in pairs(ref_before) do good_keys[key] = true end
        for key in pairs(ref_after) do good_keys[key] = true end
        -- the reference itself must be clean
        local wl = 0
        for _, line in ipairs(h:logs()) do
          if line:find("level=warn", 1, true) or line:find("level=error", 1, true) then wl = wl + 1 end
        end
        assert(wl == 0, recipe.name .. ": the reference cycle logged warnings")
      end)

      local function expect(cond, msg)
        if not cond then problems[#problems + 1] = msg end
        return cond
      end

      -- Does the neighbour live in this key (its name or one of its entries)?
      local function shared(key)
        local v = ref_before[key]
        if has_any(key, recipe.nids) then return true end
        for m in pairs(v and v.c or {}) do
          if has_any(m, recipe.nids) then return true end
        end
        return false
      end

      -- returns the warn/error lines naming the neighbour, and whether the
      -- scanner ran away (stopped for good: a crash; the host is replaced)
      local function check_reports(label, lines)
        local bad, nb, tb, runaway = 0, 0, 0, false
        for _, line in ipairs(lines) do
          if line:find("level=warn", 1, true) or line:find("level=error", 1, true) then
            if has_any(line, recipe.nids) then nb = nb + 1 else bad = bad + 1 end
            if line:find("traceback", 1, true) then tb = tb + 1 end
            runaway = runaway or line:find("ran away", 1, true) ~= nil
          end
        end
        expect(not runaway, label .. ": the scanner ran away (stopped for good)")
        if not runaway then expect(bad <= 1, label .. (": bad record reported %d times"):format(bad)) end
        expect(tb == 0, label .. ": the scanner raised a Lua error")
        return nb, runaway
      end

      local function check_writes(label, before, after, spoiled)
        for _, c in ipairs(diff(before, after)) do
          local ok = W[c.key .. "\0" .. c.member]
            or (c.key == spoiled.key and (spoiled.field == nil or c.member == spoiled.field))
            or (c.removed and c.key:find("^ff:idx:"))
          expect(ok, label .. (": wrote %s %s, which a good record never does"):format(c.key, c.member))
        end
        for key in pairs(after) do
          expect(before[key] or good_keys[key], label .. ": created " .. key)
        end
      end

      -- A server-side function that raised (its error reply names @user_function)
      -- must have raised before its first write: no change of the bad record's.
      local function check_raise(label, lines, before, after)
        local raised = false
        for _, line in ipairs(lines) do
          raised = raised or line:find("@user_function", 1, true) ~= nil
        end
        if not raised then return end
        for _, c in ipairs(diff(before, after)) do
          -- (a whole-key event comes with member events, which are what count)
          local neighbour = c.member == WHOLE or has_any(c.key, recipe.nids)
            or has_any(c.member, recipe.nids)
          expect(neighbour or (c.removed and c.key:find("^ff:idx:")),
            label .. (": a server-side function raised after writing %s %s"):format(c.key, c.member))
        end
      end

      -- one case: build, spoil, one cycle, checks
      local function check_case(label, spoiled, spoil)
        label = recipe.name .. " " .. label
        figures.cases = figures.cases + 1
        FX.fresh(h)
        local now = now_ms()
        recipe.build(h, now)
        recipe.neighbour(h, now)
        spoil()
        local before = FX.snapshot(h)
        local ok, processed, errors = pcall(h.once, h, recipe.scanner)
        if not ok then figures.crashes = figures.crashes + 1 end
        if not expect(ok, label .. ": the cycle failed: " .. tostring(processed)) then return end
        assert.is_true(h:call("PING") == "PONG", label .. ": host unusable")
        local after = FX.snapshot(h)
        local lines = h:logs()
        if os.getenv("FAULTS_VERBOSE") then
          io.stderr:write(("# %s: processed=%d errors=%d changes=%d\n"):format(label, processed, errors,
            #diff(before, after)))
          for _, line in ipairs(lines) do io.stderr:write("#   ", line, "\n") end
        end
        local nb, runaway = check_reports(label, lines)
        if runaway then
          figures.crashes = figures.crashes + 1
          new_host()
          return
        end
        check_writes(label, before, after, spoiled)
        check_raise(label, lines, before, after)
        if shared(spoiled.key) then
          -- the neighbour lives in the spoiled key: it is a bad record too
          expect(errors <= 2, label .. ": errors=" .. errors)
          expect(nb <= 1, label .. (": the neighbour reported %d times"):format(nb))
        else
          expect(errors <= 1, label .. ": errors=" .. errors)
          expect(nb == 0, label .. ": the good neighbour was reported")
          local same = view(after, recipe.nids) == view(ref_after, recipe.nids)
          if not same then figures.lost = figures.lost + 1 end
          expect(same, label .. ": the good neighbour differs from the reference")
        end
      end

      it("every field x {empty, non-numeric, huge}", function()
        problems = {}
        assert.is_true(#fields > 0)
        for _, f in ipairs(fields) do
          for _, value in ipairs(VARIANTS) do
            local name = f.key:gsub("^.*}:", "") .. " " .. f.field
            check_case(("%s=%q"):format(name, value), { key = f.key, field = f.field }, function()
              if f.string then h:call("SET", f.key, value) else h:call("HSET", f.key, f.field, value) end
            end)
          end
        end
        assert.are.equal("", table.concat(problems, "\n"))
      end)

      it("every key with the wrong type", function()
        problems = {}
        for _, key in ipairs(own_keys) do
          local is_string = ref_before[key].type == "string"
          for _, kind in ipairs({ is_string and "hash" or "string", "list" }) do
            check_case(key .. " as " .. kind, { key = key }, function() FX.retype(h, key, kind) end)
          end
        end
        assert.are.equal("", table.concat(problems, "\n"))
      end)
    end)
  end
end)
