-- Plain specs for the lua-lib modules added by issue 4: ff.budget (the shared
-- breach rule), ff.json (policy reading), and ff.zwalk / ff.sscan (cursor walks,
-- run through the test host against a real redis-server).
local budget = require "ff.budget"
local json = require "ff.json"
local zwalk = require "ff.zwalk"
local sscan = require "ff.sscan"

describe("ff.budget", function()
  it("breaches at usage >= hard limit, ignoring soft, zero and non-integer limits", function()
    local limits = { ["hard:tokens"] = "100", ["soft:tokens"] = "1", ["hard:cost"] = "0",
      ["hard:x"] = "lots" }
    assert.is_nil(budget.breached_dimension(limits, { tokens = "99", cost = "5", x = "9" }))
    assert.equal("tokens", budget.breached_dimension(limits, { tokens = "100" }))
    assert.equal("tokens", budget.breached_dimension(limits, { tokens = "150" }))
    assert.is_nil(budget.breached_dimension(limits, { tokens = "junk" }))
    assert.is_nil(budget.breached_dimension({}, { tokens = "1000" }))
  end)

  it("reads reset_interval_ms: unset is 0, garbage is nil", function()
    assert.equal(0, budget.reset_interval({}))
    assert.equal(0, budget.reset_interval({ reset_interval_ms = "" }))
    assert.equal(0, budget.reset_interval({ reset_interval_ms = "00" }))
    assert.equal(60000, budget.reset_interval({ reset_interval_ms = "60000" }))
    assert.is_nil(budget.reset_interval({ reset_interval_ms = "1h" }))
  end)
end)

describe("ff.json", function()
  it("decodes nested documents and keeps integer literals apart", function()
    local doc = assert(json.decode('{"stream_policy":{"retention_ttl_ms":1000,"f":1.5,' ..
      '"e":1e3,"s":"1000","n":null,"a":[true,false,"x\\"y"]}}'))
    local sp = doc.stream_policy
    assert.equal(1000, json.uint(sp.retention_ttl_ms))
    assert.is_nil(json.uint(sp.f))
    assert.is_nil(json.uint(sp.e))
    assert.is_nil(json.uint(sp.s))
    assert.equal(json.null, sp.n)
    assert.same({ true, false, 'x"y' }, sp.a)
    assert.is_nil(json.uint(assert(json.decode("-5"))))
  end)

  it("rejects malformed text", function()
    for _, bad in ipairs({ "", "{", '{"a":}', "[1,]", "{} x", "nope" }) do
      assert.is_nil(json.decode(bad), bad)
    end
  end)
end)

describe("ff.zwalk and ff.sscan", function()
  local S = require "spec.helpers.fb_spec"
  local srv, h
  setup(function() srv, h = S.start() end)
  teardown(function() S.stop(srv, h) end)
  before_each(function() S.reset(h) end)

  -- visit(ctx, member): inside h:run only ctx.redis may be used (h:call there
  -- crashes the test module, see notes/issue-4.md).
  local function walk(cursors, limit, visit)
    return h:run(function(ctx)
      return zwalk.walk(ctx, { key = "z", min = "-inf", max = "+inf", page = 3, limit = limit,
        cursors = cursors }, function(m) return visit(m, ctx) end)
    end)
  end

  it("visits every entry once per lap, resuming where the last call stopped", function()
    for i = 1, 10 do h:call("ZADD", "z", i, "m" .. i) end
    local cursors, seen = {}, {}
    local function keep(m) seen[#seen + 1] = m; return true end
    assert.equal(4, walk(cursors, 4, keep))
    assert.equal(4, walk(cursors, 4, keep))
    assert.equal(4, walk(cursors, 4, keep)) -- m9, m10, then wraps to m1, m2
    assert.same({ "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "m10", "m1", "m2" }, seen)
  end)

  it("does not revisit in one call after wrapping, and counts removals correctly", function()
    for i = 1, 5 do h:call("ZADD", "z", i, "m" .. i) end
    local cursors, seen = { z = 3 }, {}
    assert.equal(5, walk(cursors, 100, function(m, ctx)
      seen[#seen + 1] = m
      if m == "m4" then ctx.redis:call("ZREM", "z", m); return false end
      return true
    end))
    assert.same({ "m4", "m5", "m1", "m2", "m3" }, seen)
  end)

  it("stops at an entry on request and resumes with it", function()
    for i = 1, 5 do h:call("ZADD", "z", i, "m" .. i) end
    local cursors, seen = {}, {}
    walk(cursors, 100, function(m) if m == "m3" then return "stop" end; return true end)
    walk(cursors, 1, function(m) seen[#seen + 1] = m; return true end)
    assert.same({ "m3" }, seen)
  end)

  it("sscan.each pages through a set and reports errors", function()
    for i = 1, 250 do h:call("SADD", "s", "x" .. i) end
    local n = h:run(function(ctx)
      local seen, count = {}, 0
      assert(sscan.each(ctx, "s", 50, function(page)
        for _, m in ipairs(page) do if not seen[m] then seen[m] = true; count = count + 1 end end
      end))
      return count
    end)
    assert.equal(250, n)
    h:call("SET", "str", "x")
    local ok, err = h:run(function(ctx) return sscan.each(ctx, "str", 50, function() end) end)
    assert.is_nil(ok)
    assert.matches("WRONGTYPE", err)
  end)
end)
