-- ff.zwalk / ff.sscan: cursor walks, run through the test host against a real redis-server.
local budget = require "ff.budget"
local json = require "ff.json"
local zwalk = require "ff.zwalk"
local sscan = require "ff.sscan"

describe("ff.zwalk and ff.sscan", function()
  local S = require "spec.helpers.env"
  local env, srv, h
  S.suite(function(e) env, srv, h = e, e.srv, e.r end, S.SECTION_C)

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
