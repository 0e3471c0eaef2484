-- ff.due and ff.walker: the two scanner skeletons, on a fake ctx (the stock
-- scanners' specs in spec/scanners/ run them against a real redis-server).
local due = require "ff.due"
local drain = require "ff.drain"
local walker = require "ff.walker"

-- A ctx whose SSCAN of `sets[key]` returns the given pages in turn
-- ({ cursor, members } or an error string), and whose TIME returns `now`.
local function fake(sets, now)
  local ctx = { tag = "{fp:1}", lanes = { "default", "blue" }, config = { batch = 10 }, logs = {} }
  local at = {}
  ctx.redis = {
    call = function(_, cmd, key)
      assert(cmd == "SSCAN", cmd)
      at[key] = (at[key] or 0) + 1
      local page = sets[key][at[key]]
      if type(page) == "string" then return nil, page end
      return page
    end,
  }
  function ctx:now_ms()
    if now then return now end
    return nil, "ERR no TIME"
  end
  function ctx:stopping() return false end
  ctx.log = {}
  for _, l in ipairs({ "debug", "info", "warn", "error" }) do
    ctx.log[l] = function(_, msg) ctx.logs[#ctx.logs + 1] = l .. " " .. msg end
  end
  return ctx
end

describe("ff.due", function()
  it("builds the table of a due-item scanner: the drain's options, bounds and order", function()
    local op = { fn = "ff_x", call = function() end }
    local s = due.scanner { name = "x", interval = 2, defaults = { batch = 100 },
      targets = due.index(function(tag) return "idx:" .. tag end, op) }
    assert.equal("execution", s.family)
    assert.same(drain.defaults({ batch = 100 }), s.defaults)
    assert.same(drain.bounds(), s.bounds)
    assert.same(drain.ORDER, s.order)
    assert.is_function(s.select)
    assert.is_function(s.scan)
    assert.has_error(function() due.scanner { name = "y", interval = 1 } end)
  end)

  it("due.index names one due index per partition", function()
    local op = {}
    local t = due.index(function(tag) return "idx:" .. tag end, op)
    assert.same({ { index = "idx:{fp:3}", op = op } }, t(nil, "{fp:3}"))
  end)
end)

describe("ff.walker", function()
  it("walks every SSCAN page, visits a member returned twice once, and counts", function()
    local seen = {}
    local s = walker.scanner { name = "w", interval = 1,
      sets = function(_, tag) return { "s:" .. tag } end,
      page = function(_, st, members)
        assert.equal(1000, st.now)
        for _, m in ipairs(members) do seen[#seen + 1] = m end
        return #members, 0
      end }
    local ctx = fake({ ["s:{fp:1}"] = { { "7", { "a", "b" } }, { "0", { "b", "c" } } } }, 1000)
    assert.same({ 3, 0 }, { s.scan(ctx) })
    assert.same({ "a", "b", "c" }, seen)
    assert.same({ batch = 100 }, s.defaults)
    assert.same(walker.BATCH, s.bounds.batch)
  end)

  it("each: true is processed, false nothing to do, nil an error logged as `failed`", function()
    local s = walker.scanner { name = "w", interval = 1,
      sets = function() return { "s" } end,
      each = function(_, _, m)
        if m == "bad" then return nil, "boom" end
        return m == "work"
      end,
      failed = "visit failed", field = "id" }
    local ctx = fake({ s = { { "0", { "work", "idle", "bad", "work2" } } } }, 1)
    assert.same({ 1, 1 }, { s.scan(ctx) })
    assert.same({ "warn visit failed" }, ctx.logs)
  end)

  it("a failed TIME is one error and nothing is walked; now = false reads no TIME", function()
    local walked = false
    local o = { name = "w", interval = 1, sets = function() return { "s" } end,
      page = function() walked = true; return 0, 0 end }
    assert.same({ 0, 1 }, { walker.scanner(o).scan(fake({ s = { { "0", {} } } }, nil)) })
    assert.is_false(walked)
    o.now = false
    assert.same({ 0, 0 }, { walker.scanner(o).scan(fake({ s = { { "0", { "a" } } } }, nil)) })
    assert.is_true(walked)
  end)

  it("reads TIME once per select() chunk and ages it on the host's clock; again after 1 s", function()
    local nows = {}
    local s = walker.scanner { name = "w", interval = 1,
      sets = function(_, tag) return { "s:" .. tag } end,
      select = function(_, partitions)
        local out = {}
        for _, p in ipairs(partitions) do out[p] = true end
        return out
      end,
      page = function(_, st) nows[#nows + 1] = st.now; return 0, 0 end }
    local pages = {}
    for p = 1, 4 do pages["s:{fp:" .. p .. "}"] = { { "0", { "a" } } } end
    local ctx, times, server, elapsed = fake(pages, nil), 0, 5000, 0
    function ctx:now_ms() times = times + 1; return server end
    function ctx:elapsed() return elapsed end
    local function scan(sel, p, at)
      elapsed, ctx.tag = at, "{fp:" .. p .. "}"
      s.scan(ctx, p, sel[p])
    end
    local sel = s.select(ctx, { 1, 2, 3, 4 })
    scan(sel, 1, 0.25)
    server = 9999 -- a later TIME would say so
    scan(sel, 2, 0.5)
    scan(sel, 3, 1.0)
    assert.same({ 5000, 5250, 5750 }, nows)
    assert.equal(1, times)
    scan(sel, 4, 1.3) -- 1.05 s since the reading: read again
    assert.same({ 5000, 5250, 5750, 9999 }, nows)
    assert.equal(2, times)
    sel = s.select(ctx, { 1 }) -- a new chunk never reuses the old reading
    scan(sel, 1, 1.4)
    assert.equal(3, times)
    s.scan(ctx, 1, nil) -- outside a cycle: its own TIME
    assert.equal(4, times)
  end)

  it("a failed or malformed SSCAN is one error, logged, and keeps what was counted", function()
    local s = walker.scanner { name = "w", interval = 1,
      sets = function() return { "s", "t", "u" } end,
      page = function(_, _, members) return #members, 0 end }
    local ctx = fake({ s = { { "5", { "a" } }, "ERR boom" }, t = { { "x" } }, u = { { "0", { "b" } } } }, 1)
    assert.same({ 2, 2 }, { s.scan(ctx) })
    assert.same({ "warn reading a set failed", "warn reading a set failed" }, ctx.logs)
  end)

  it("walker.lanes names a set per lane and suffix, and select probes them", function()
    local sets = walker.lanes("blocked:budget", "blocked:quota")({ lanes = { "default", "blue" } }, "{fp:2}")
    assert.same({ "ff:idx:{fp:2}:lane:default:blocked:budget", "ff:idx:{fp:2}:lane:default:blocked:quota",
      "ff:idx:{fp:2}:lane:blue:blocked:budget", "ff:idx:{fp:2}:lane:blue:blocked:quota" },
      { sets[1].key, sets[2].key, sets[3].key, sets[4].key })
    assert.same({ "blue", "blocked:quota" }, { sets[4].lane, sets[4].suffix })
  end)

  it("needs exactly one of page, each or item", function()
    local o = { name = "w", interval = 1, sets = function() return {} end }
    assert.has_error(function() walker.scanner(o) end)
    o.page, o.item = function() end, function() end
    assert.has_error(function() walker.scanner(o) end)
    assert.has_error(function()
      walker.scanner { name = "w", interval = 1, sets = o.sets, each = function() end }
    end)
  end)
end)
