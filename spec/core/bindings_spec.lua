-- ctx.redis through the host's real bindings: the two error channels, reply
-- conversion end to end, argument formatting and the yield rules.
local T = require "scanhost_test"

describe("ctx.redis bindings", function()
  local srv, h
  setup(function()
    srv = require("spec.helpers.redis_server").start()
    h = T.new({ redis = srv.url, functions = false })
  end)
  teardown(function()
    h:close()
    srv:stop()
  end)

  it("returns Redis errors as nil, err and raises on misuse", function()
    local r, err = h:call("INCR", "k", "extra")
    assert.is_nil(r)
    assert.matches("wrong number of arguments", err)
    local ok, msg = pcall(h.call, h, "SET", {}, "x")
    assert.is_false(ok)
    assert.matches("command arguments must be strings or numbers, got table", msg)
    ok, msg = pcall(h.pipeline, h, { { "SET", "a", "1" }, { "SET", true } })
    assert.is_false(ok)
    assert.matches("pipeline command 2 argument 2 must be a string or a number", msg)
    assert.is_false(h:call("EXISTS", "a") == 1) -- nothing of the bad pipeline was sent
  end)

  it("converts replies faithfully", function()
    h:call("RPUSH", "l", "x", "y")
    assert.same({ "x", "y" }, h:call("LRANGE", "l", 0, -1))
    assert.equal(false, h:call("GET", "missing"))
    h:call("SET", "s", "x")
    assert.same({ "x", false }, h:call("MGET", "s", "missing")) -- nil elements stay in place
    assert.equal(2 ^ 53, h:call("INCRBY", "n", 2 ^ 53))
    assert.equal("9223372036854775807", h:call("INCRBY", "big", "9223372036854775807"))
    assert.equal("OK", h:call("SET", "ms", 1713600000000))
    assert.equal("1713600000000", h:call("GET", "ms")) -- integral numbers go out as integers
    for _, case in ipairs({ { 0, "0" }, { -0.0, "0" }, { 7, "7" }, { -42, "-42" }, { 2 ^ 53, "9007199254740992" },
      { -999999999999999, "-999999999999999" }, { 0.5, "0.5" }, { -1.25, "-1.25" }, { 1e18, "1e+18" } }) do
      h:call("SET", "num", case[1])
      assert.equal(case[2], h:call("GET", "num"), tostring(case[1]))
    end
    local res, nerr = h:pipeline({ { "SET", "p", "1" }, { "INCR", "l" }, { "GET", "p" } })
    assert.equal(1, nerr)
    assert.equal("OK", res[1])
    assert.matches("WRONGTYPE", res[2].err)
    assert.equal("1", res[3])
    local nested = h:call("EVAL", "return {1, {2, false}, redis.error_reply('E1')}", 0)
    assert.equal(1, nested[1])
    assert.same({ 2, false }, nested[2]) -- the server's nil element arrives as false
    assert.equal("ERR E1", nested[3].err) -- Redis prefixes a bare error_reply with ERR
  end)

  -- issue 9: the DEL of 9,000 keys raised "too many arguments" after the
  -- first two commands were written; the orphaned request was freed by the
  -- first late reply and used again by the second (exit 139).
  it("writes a pipeline holding a 9,001-argument command whole", function()
    local del = { "DEL" }
    for i = 1, 9000 do del[#del + 1] = "k" .. i end
    h:call("SET", "k9000", "v")
    local res, nerr = h:pipeline({ { "SET", "a", "1" }, { "SET", "b", "1" }, del })
    assert.equal(0, nerr)
    assert.same({ "OK", "OK", 1 }, res)
    assert.equal("1", h:call("GET", "a"))
  end)

  it("has no argument limit below Redis's own", function()
    -- far larger: 300,001 arguments in one pipeline command, numbers too
    local push = { "RPUSH", "push300k" }
    for i = 1, 300000 do push[#push + 1] = i end
    local res = h:pipeline({ push })
    assert.equal(300000, res[1])
    assert.equal("300000", h:call("LINDEX", "push300k", -1))
    -- call: as many as a Lua call can pass (LuaJIT's unpack stops near 8,000)
    local args = {}
    for i = 1, 7990 do args[i] = "m" .. i end
    assert.equal(7990, h:call("SADD", "set", unpack(args)))
    -- fcall: keys and args arrays of any size (no library: the error is the server's)
    local keys = {}
    for i = 1, 20000 do keys[i] = "x" .. i end
    local r, err = h:fcall("no_such_function", keys, keys)
    assert.is_nil(r)
    assert.matches("Function not found", err)
  end)

  it("checks a whole pipeline before sending any of it", function()
    for round = 1, 50 do
      local ok, msg = pcall(h.pipeline, h, { { "SET", "r1", round }, { "SET", "r2", round },
        { "SET", "r3", {} } })
      assert.is_false(ok)
      assert.matches("pipeline command 3 argument 3 must be a string or a number, got table", msg)
      ok, msg = pcall(h.pipeline, h, { { "SET", "r1", round }, {} })
      assert.is_false(ok)
      assert.matches("pipeline command 2 must be a non%-empty array", msg)
    end
    assert.equal(0, h:call("EXISTS", "r1", "r2", "r3")) -- nothing was ever sent
    assert.equal("PONG", h:call("PING"))
  end)

  it("send() writes at once and collect() gives its results, in any order, once", function()
    local out = { h:run(function(ctx)
      local a = ctx.redis:send({ { "SET", "sa", "1" }, { "INCR", "sa" } })
      local b = ctx.redis:send({ { "RPUSH", "sb", "x" }, { "INCR", "sb" } }) -- INCR fails: WRONGTYPE
      local between = ctx.redis:call("GET", "sa") -- a's commands ran before this one
      local rb, eb = ctx.redis:collect(b)
      local ra, ea = ctx.redis:collect(a)
      local again, msg = pcall(ctx.redis.collect, ctx.redis, a)
      return between, rb, eb, ra, ea, again, msg
    end) }
    assert.equal("2", out[1])
    assert.equal(1, out[2][1])
    assert.matches("WRONGTYPE", out[2][2].err)
    assert.equal(1, out[3])
    assert.same({ "OK", 2 }, out[4])
    assert.equal(0, out[5])
    assert.is_false(out[6])
    assert.matches("no such request", out[7])
  end)

  it("collect() waits for replies still to come; what a run never collects is dropped", function()
    local r = h:run(function(ctx)
      local slow = ctx.redis:send({ { "EVAL", "local t = redis.call('TIME') while true do "
        .. "local u = redis.call('TIME') if (u[1] - t[1]) * 1000000 + u[2] - t[2] > 200000 then "
        .. "return 'slept' end end", 0 } })
      return ctx.redis:collect(slow)
    end)
    assert.same({ "slept" }, r)
    h:run(function(ctx)
      ctx.redis:send({ { "SET", "left", "1" } }) -- never collected
      ctx.redis:send({ { "EVAL", "local t = redis.call('TIME') while true do "
        .. "local u = redis.call('TIME') if (u[1] - t[1]) * 1000000 + u[2] - t[2] > 100000 then "
        .. "return 1 end end", 0 } })
    end)
    assert.equal("1", h:call("GET", "left")) -- it was written; its reply went nowhere
    assert.equal("PONG", h:call("PING"))
    local ok, msg = pcall(h.run, h, function(ctx) return ctx.redis:collect(1) end)
    assert.is_false(ok) -- a handle of another run
    assert.matches("no such request", msg)
  end)

  it("only yields from the scan's own coroutine", function()
    local ok, msg = h:run(function(ctx)
      local co = coroutine.create(function() return ctx.redis:call("PING") end)
      return coroutine.resume(co)
    end)
    assert.is_false(ok)
    assert.matches("only allowed from the scanner's own coroutine", msg)
    local ok2, msg2 = pcall(h.run, h, function() coroutine.yield() end)
    assert.is_false(ok2)
    assert.matches("yielded without a pending request", msg2)
    assert.equal("PONG", h:call("PING")) -- and the host goes on
  end)

  -- Traces compiled before the module loaded kept running with the JIT merely
  -- switched off, and h:run's re-entry from C crashed them (lj_snap_restore).
  it("loading the module leaves the JIT off and no trace compiled before", function()
    local p = io.popen([[luajit -e "
local s = 0; for i = 1, 1000 do s = s + i end
local before = require('jit.util').traceinfo(1) ~= nil
package.cpath = 'build/?.so;' .. package.cpath
require 'scanhost_test'
print(before, require('jit.util').traceinfo(1) ~= nil, (jit.status()))" 2>&1]])
    local out = p:read("*a")
    p:close()
    assert.equal("true\tfalse\tfalse\n", out)
  end)

  it("gives server time and partition tags", function()
    local now, tag, tag9 = h:run(function(ctx) return ctx:now_ms(), ctx.tag, ctx:tag_for(9) end)
    local t = h:call("TIME")
    assert.is_true(math.abs(now - (t[1] * 1000 + math.floor(t[2] / 1000))) < 1000)
    assert.equal("{fp:0}", tag)
    assert.equal("{fp:9}", tag9)
  end)
end)
