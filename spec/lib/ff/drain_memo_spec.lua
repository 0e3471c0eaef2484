-- The drain's memo (ff.drain): lease_expiry stops calling its function for a
-- lease it already saw marked expired with the same index score (bounded memory);
-- processed, skipped and errors are counted apart.
local env_mod = require "spec.helpers.env"
local F = require "ff.fixtures"
local K = require "ff.keys"
local T = require "scanhost_test"
local drain = require "ff.drain"
local reply = require "ff.reply"

describe("ff.drain's memo: lease_expiry's leases already marked expired", function()
  local env, r
  env_mod.suite(function(e) env, r = e, e.r end)

  local function fcalls()
    local info = r:call("INFO", "commandstats")
    return tonumber(info:match("cmdstat_fcall:calls=(%d+)")) or 0
  end

  it("calls once per lease and score: skipped, not processed; again when the score moves", function()
    for i = 1, 200 do F.lease_expiry.already_expired(r, { n = 1, i = i, minimal = true }) end
    local h = env:host({ scanner_config = { lease_expiry = { max_pages = 100 } } })
    local before = fcalls()
    assert.same({ 0, 0, 200 }, { h:once("lease_expiry") })
    local first = fcalls() - before
    assert.is_true(first >= 1, "the function was called for the leases")
    before = fcalls()
    for cycle = 1, 3 do
      assert.same({ 0, 0, 200 }, { h:once("lease_expiry") }, "cycle " .. cycle)
    end
    assert.equal(0, fcalls() - before) -- known no-ops are not called again
    -- a lease renewed and expired again has a new score: it is called again
    local eid = F.eid(1, 7)
    r:call("ZADD", K.lease_expiry("{fp:1}"), "1500", eid)
    before = fcalls()
    assert.same({ 0, 0, 200 }, { h:once("lease_expiry") })
    assert.equal(1, fcalls() - before)
    env:close_hosts()
  end)

  it("is bounded: at most MEMO_MAX entries, each trusted for two rotations at most", function()
    local saved_max, saved_rot = drain.MEMO_MAX, drain.MEMO_ROTATE_MS
    finally(function() drain.MEMO_MAX, drain.MEMO_ROTATE_MS = saved_max, saved_rot end)
    drain.MEMO_MAX, drain.MEMO_ROTATE_MS = 50, 1000
    -- a ctx whose index holds `n` leases already expired at score 1000
    local n, calls = 120, 0
    local function ctx_at(now)
      local ctx = { config = drain.defaults({ max_pages = 1000, batch = 500, batch_max = 500 }),
        library = "flowfabric", partition = 1, tag = "{fp:1}" }
      ctx.failures = { should_skip = function() return false end, record_success = function() end,
        record_failure = function() end }
      ctx.log = setmetatable({}, { __index = function() return function() end end })
      function ctx:elapsed() return 0 end
      function ctx:stopping() return false end
      ctx.redis = {}
      function ctx.redis.call(_, cmd, _, _, _, _, _, offset, size)
        assert(cmd == "ZRANGEBYSCORE")
        local out = {}
        for i = offset + 1, math.min(n, offset + size) do
          out[#out + 1] = "e" .. i
          out[#out + 1] = "1000"
        end
        return out
      end
      function ctx.redis.pipeline(_, cmds)
        local out = {}
        for i, c in ipairs(cmds) do
          if c[1] == "FCALL" then
            calls = calls + 1
            out[i] = { 1, "ALREADY_SATISFIED", "already_expired" }
          else
            local s = {}
            for j = 3, #c do s[#s + 1] = "1000" end
            out[i] = s -- ZMSCORE: still in the index
          end
        end
        return out
      end
      -- send() answers at once; collect() hands the answer over
      local sent = {}
      function ctx.redis.send(self, cmds)
        sent[#sent + 1] = self:pipeline(cmds)
        return #sent
      end
      function ctx.redis.collect(_, h) return sent[h], 0 end
      return ctx
    end
    local ops = require "ff.exec_ops"
    local t = { index = "ff:idx:{fp:1}:lease_expiry", op = ops.mark_lease_expired }
    local base = drain.memo_size()
    local acc = reply.new_acc()
    drain.due_items(ctx_at(5000), acc, t, 5000)
    assert.equal(120, calls)
    assert.equal(120, acc.skipped)
    assert.equal(50, drain.memo_size() - base) -- capped
    calls = 0
    drain.due_items(ctx_at(5100), reply.new_acc(), t, 5100)
    assert.equal(70, calls) -- the 50 remembered are not called
    -- the next rotation still trusts them, the one after calls them again
    calls = 0
    drain.due_items(ctx_at(6100), reply.new_acc(), t, 6100)
    assert.equal(70, calls)
    calls = 0
    drain.due_items(ctx_at(7200), reply.new_acc(), t, 7200)
    assert.is_true(calls >= 50, "remembered entries are checked again: " .. calls)
    -- nothing is seen for two rotations: the memo empties
    n = 0
    drain.due_items(ctx_at(9000), reply.new_acc(), t, 9000)
    drain.due_items(ctx_at(11000), reply.new_acc(), t, 11000)
    assert.equal(0, drain.memo_size() - base)
  end)
end)
