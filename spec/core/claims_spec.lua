-- Issue 14: per-partition, per-cycle claims (ff.claim) through the host's real
-- bindings. Each test host is one instance (its own instance id); several of
-- them share one private redis-server.
local env_mod = require "spec.helpers.env"
local F = require "ff.fixtures"
local K = require "ff.keys"
local claim = require "ff.claim"

local function tag(n) return string.format("{fp:%d}", n) end

local PLAIN = [[
return { name = "plain", family = "execution", interval = 5,
  scan = function(ctx, p, data)
    ctx.redis:call("RPUSH", "scanned:plain", ctx.instance_id .. "=" .. p .. "=" .. tostring(data))
    return 1, 0
  end }
]]

-- A select() of its own that does not claim: the host claims what it wants.
local OWN_SELECT = [[
return { name = "own_select", family = "budget", interval = 5,
  select = function(ctx, partitions)
    local want = {}
    for _, p in ipairs(partitions) do if p % 2 == 0 then want[p] = "even" end end
    return want
  end,
  scan = function(ctx, p, data)
    ctx.redis:call("RPUSH", "scanned:own_select", p .. "=" .. tostring(data))
    return 1, 0
  end }
]]

describe("claims", function()
  local env, r, sdir

  setup(function()
    env = env_mod.start({ partitions = 8 })
    r = env.r
    sdir = os.tmpname()
    os.remove(sdir)
    assert(os.execute("mkdir -p " .. sdir .. " && cp scanners/*.lua " .. sdir))
    for name, text in pairs({ plain = PLAIN, own_select = OWN_SELECT }) do
      local f = assert(io.open(sdir .. "/" .. name .. ".lua", "w"))
      f:write(text)
      f:close()
    end
  end)
  teardown(function()
    env:stop()
    os.execute("rm -rf " .. sdir)
  end)
  before_each(function() env:flush() end)
  after_each(function() env:close_hosts() end)

  local function host(o)
    o = o or {}
    o.scanners = sdir
    return env:host(o)
  end

  -- claim_keys() -> key -> holder
  local function claim_keys()
    local out = {}
    for _, k in ipairs(r:call("KEYS", claim.PREFIX .. "*")) do out[k] = r:call("GET", k) end
    return out
  end

  local function state(n, i) return env_mod.hgetall(r, K.core(tag(n), F.eid(n, i))).eligibility_state end

  it("an instance acts only on the partitions it won; another one leaves them alone", function()
    for _, n in ipairs({ 2, 5 }) do F.delayed_promoter.acting(r, { n = n, i = 1 }) end
    local h1, h2 = host(), host()
    assert.not_equal(h1:instance_id(), h2:instance_id())
    assert.same({ 2, 0, 0 }, { h1:once("delayed_promoter") })
    assert.same({ 2, { 2, 5 } }, { h1:claimed("delayed_promoter") })
    assert.same({ [claim.PREFIX .. "{fp:2}:delayed_promoter"] = h1:instance_id(),
      [claim.PREFIX .. "{fp:5}:delayed_promoter"] = h1:instance_id() }, claim_keys())
    -- new work in the same partitions, within h1's claims: h2 leaves it
    for _, n in ipairs({ 2, 5 }) do F.delayed_promoter.acting(r, { n = n, i = 2 }) end
    assert.same({ 0, 0, 0 }, { h2:once("delayed_promoter") })
    assert.same({ 0, {} }, { h2:claimed("delayed_promoter") })
    assert.equal("not_eligible_until_time", state(2, 2))
    -- h1's own claim, still alive, is h1's
    assert.same({ 2, 0, 0 }, { h1:once("delayed_promoter") })
    assert.equal("eligible_now", state(2, 2))
  end)

  it("keys carry the partition's hash tag first: the partition's own cluster slot", function()
    F.lease_expiry.acting(r, { n = 7, i = 1 })
    local FF = require "ff.fixtures_flow"
    FF.budget_reset(r, env_mod.now_ms(r))
    local h = host({ budget_partitions = 32 })
    h:once("lease_expiry")
    h:once("budget_reset")
    local tags = {}
    for k in pairs(claim_keys()) do tags[#tags + 1] = k:match("^[^{]*{([^}]*)}") end
    table.sort(tags)
    assert.same({ "b:31", "fp:7" }, tags)
  end)

  it("a dead instance's partitions are taken once its claims expire, and the takeover is logged", function()
    for n = 0, 7 do F.delayed_promoter.acting(r, { n = n, i = 1 }) end
    local h1 = host()
    local h2 = host({ capture_logs = true, log_level = "info" })
    assert.same({ 8, 0, 0 }, { h1:once("delayed_promoter") })
    for n = 0, 7 do F.delayed_promoter.acting(r, { n = n, i = 2 }) end
    assert.same({ 0, 0, 0 }, { h2:once("delayed_promoter") }) -- h1 holds every partition
    for k in pairs(claim_keys()) do r:call("DEL", k) end -- h1 died: its claims expired
    assert.same({ 8, 0, 0 }, { h2:once("delayed_promoter") })
    assert.same({ 8, { 0, 1, 2, 3, 4, 5, 6, 7 } }, { h2:claimed("delayed_promoter") })
    local took
    for _, line in ipairs(h2:logs()) do
      if line:find("took over partitions another instance held", 1, true) then took = line end
    end
    assert.truthy(took, "takeover logged")
    assert.truthy(took:find("partitions=8", 1, true), took)
    assert.truthy(took:find("from=" .. h1:instance_id(), 1, true), took)
  end)

  -- commands(fn) -> round trips and Redis commands (INFO commandstats) of fn()
  local function commands(h, fn)
    r:call("CONFIG", "RESETSTAT")
    local rt = h:round_trips()
    fn()
    rt = h:round_trips() - rt
    local total, sets = 0, 0
    for name, calls in r:call("INFO", "commandstats"):gmatch("cmdstat_([%w|_]+):calls=(%d+)") do
      if name ~= "info" and name ~= "config|resetstat" then total = total + tonumber(calls) end
      if name == "set" then sets = tonumber(calls) end
    end
    return rt, total, sets
  end

  local DUE = { "lease_expiry", "delayed_promoter", "attempt_timeout", "execution_deadline",
    "suspension_timeout", "pending_wp_expiry", "budget_reset", "unblock", "index_reconciler" }

  it("an idle cycle sends no claim: the same round trips and commands as without claims", function()
    local on, off = host(), host({ claims = false })
    for _, name in ipairs(DUE) do
      local rt_on, n_on, sets = commands(on, function() assert.same({ 0, 0, 0 }, { on:once(name) }) end)
      local rt_off, n_off = commands(off, function() assert.same({ 0, 0, 0 }, { off:once(name) }) end)
      assert.equal(0, sets, name)
      assert.equal(rt_off, rt_on, name)
      assert.equal(n_off, n_on, name)
    end
    assert.same({}, claim_keys())
  end)

  it("partitions that keep having work are claimed inside the first-pages pipeline", function()
    local function seed(i)
      for n = 0, 7 do F.delayed_promoter.acting(r, { n = n, i = i }) end
    end
    local on, off = host(), host({ claims = false })
    seed(1)
    local rt_off = commands(off, function() assert.same({ 8, 0, 0 }, { off:once("delayed_promoter") }) end)
    seed(2)
    -- newly busy: one more pipeline claims the chunk
    local rt_cold, _, sets = commands(on, function() assert.same({ 8, 0, 0 }, { on:once("delayed_promoter") }) end)
    assert.equal(rt_off + 1, rt_cold)
    assert.equal(8, sets)
    seed(3)
    -- busy again: the claims ride in the pipeline of first pages
    local rt_hot = commands(on, function() assert.same({ 8, 0, 0 }, { on:once("delayed_promoter") }) end)
    assert.equal(rt_off, rt_hot)
  end)

  it("a scanner without select() has each of its partitions claimed; another instance scans none", function()
    local h1, h2 = host(), host()
    assert.same({ 8, 0, 0 }, { h1:once("plain") })
    assert.same({ 0, 0, 0 }, { h2:once("plain") })
    assert.same({ 0, {} }, { h2:claimed("plain") })
    local scanned = r:call("LRANGE", "scanned:plain", 0, -1)
    assert.equal(8, #scanned)
    for _, s in ipairs(scanned) do
      assert.truthy(s:find("^" .. h1:instance_id():gsub("%p", "%%%0") .. "=%d=true$"), s)
    end
  end)

  it("a select() that does not claim still only scans the partitions the host claimed for it", function()
    local h1 = host({ budget_partitions = 4 })
    local h2 = host({ budget_partitions = 4 })
    assert.same({ 2, 0, 0 }, { h1:once("own_select") })
    assert.same({ 2, { 0, 2 } }, { h1:claimed("own_select") })
    assert.same({ 0, 0, 0 }, { h2:once("own_select") })
    assert.same({ "0=even", "2=even" }, r:call("LRANGE", "scanned:own_select", 0, -1))
  end)

  it("hold() keeps a fresh claim, renews an old one only while it is ours", function()
    local h = host()
    h:run(function(ctx)
      local t = 0
      local c = setmetatable({ elapsed = function() return t end }, { __index = ctx })
      local key = claim.key(c, c.partition)
      assert.is_true(claim.hold(c)) -- nobody's: taken
      assert.equal(ctx.instance_id, ctx.redis:call("GET", key))
      assert(ctx.redis:call("SET", key, "other:1:ffff", "PX", 60000)) -- taken by another
      t = 0.01
      assert.is_true(claim.hold(c)) -- fresh: no round trip
      t = 10
      assert.is_false(claim.hold(c)) -- old: checked, and it is another's now
      assert.equal("other:1:ffff", ctx.redis:call("GET", key))
      assert(ctx.redis:call("DEL", key))
      t = 20
      assert.is_true(claim.hold(c)) -- free again: taken, with a lifetime
      local ttl = ctx.redis:call("PTTL", key)
      assert.is_true(ttl > 0 and ttl <= claim.ttl_ms(c), tostring(ttl))
    end)
  end)

  it("budget_reset calls ff_reset_budget only while the partition's claim is its own", function()
    local FF = require "ff.fixtures_flow"
    local now = env_mod.now_ms(r)
    for i = 1, 3 do FF.budget_reset(r, now, { bid = ("00000000-0000-4000-8000-%012d"):format(i) }) end
    local scan = dofile("scanners/budget_reset.lua").scan
    local h = host()
    local function run()
      return h:run(function(ctx)
        local c = setmetatable({ tag = "{b:31}", partition = 31, config = { batch = 20 } }, { __index = ctx })
        return scan(c, 31)
      end)
    end
    local key = h:run(function(ctx) return claim.key(ctx, 31) end)
    r:call("SET", key, "other:1:ffff", "PX", 60000) -- another instance holds it
    assert.same({ 0, 0 }, { run() })
    for i = 1, 3 do
      assert.equal("0", r:call("HGET", FF.keys.budget(nil, ("00000000-0000-4000-8000-%012d"):format(i)), "reset_count"))
    end
    r:call("DEL", key)
    assert.same({ 3, 0 }, { run() })
    assert.equal(h:instance_id(), r:call("GET", key))
  end)

  it("a drain that outlives half its claims' lifetime renews them in its groups' pipelines", function()
    -- 8 partitions x 600 items in pages of 10 (two pages a round trip), with
    -- claims of 90 ms (interval 0.1 s): every claim ages during the drain
    local function seed()
      env:flush()
      local rec = F.recorder()
      for n = 0, 7 do
        for i = 1, 600 do F.delayed_promoter.acting(rec, { n = n, i = i }) end
      end
      r:run(function(ctx)
        for first = 1, #rec.cmds, 5000 do
          assert(ctx.redis:pipeline({ unpack(rec.cmds, first, math.min(first + 4999, #rec.cmds)) }))
        end
      end)
    end
    local cfg = { delayed_promoter = { interval = 0.1, batch = 10, batch_min = 10, batch_max = 10,
      drain_budget = 1000.0 } }
    local function drain(h)
      seed()
      local rt = commands(h, function() assert.same({ 4800, 0, 0 }, { h:once("delayed_promoter") }) end)
      return rt, tonumber(r:call("INFO", "commandstats"):match("cmdstat_eval:calls=(%d+)")) or 0
    end
    local rt_off = drain(host({ claims = false, scanner_config = cfg }))
    local rt_on, evals = drain(host({ scanner_config = cfg }))
    assert.is_true(evals >= 8, evals .. " renewals") -- every partition's claim was renewed
    -- the renewals rode along with the groups: the drain cost the round
    -- trips of a drain without claims, plus the chunk's claim pipeline (a
    -- renewal in a round trip of its own would add one each)
    assert.is_true(rt_on <= rt_off + 1, ("%d round trips with claims, %d without, %d renewals")
      :format(rt_on, rt_off, evals))
    local keys = claim_keys()
    for n = 0, 7 do assert.truthy(keys[claim.PREFIX .. tag(n) .. ":delayed_promoter"], n) end
  end)

  it("claims = false: no claim is taken and every instance scans", function()
    F.lease_expiry.acting(r, { n = 3, i = 1 })
    local h1, h2 = host({ claims = false }), host({ claims = false })
    assert.same({ 8, 0, 0 }, { h1:once("plain") })
    assert.same({ 8, 0, 0 }, { h2:once("plain") })
    assert.same({ 1, 0, 0 }, { h1:once("lease_expiry") })
    assert.same({}, claim_keys())
    assert.same({ 0, {} }, { h1:claimed("lease_expiry") })
  end)
end)
