-- Reply accounting: what reaches the counts, the failure tracker and the log.
local F = require "ff.fixtures"
local K = require "ff.keys"
local T = require "scanhost_test"
local RS = require "spec.helpers.redis_server"
local reply = require "ff.reply"

-- Holds the server for `ms` (a script that polls TIME), so a command sent
-- with it times out on the client side.
local SPIN = "local t0 = redis.call('TIME') local s = t0[1] * 1e6 + t0[2] "
  .. "while true do local t = redis.call('TIME') if t[1] * 1e6 + t[2] - s > %d then break end end return 1"

local function wait_ready(h)
  assert(h:wait_ready(20), "the host never reconnected")
end

describe("ff.reply accounting", function()
  -- a ctx that records what reaches the tracker and the log
  local function fake()
    local ctx = { seen = {} }
    ctx.failures = {
      record_failure = function(_, item) ctx.seen[#ctx.seen + 1] = "fail " .. item end,
      record_success = function(_, item) ctx.seen[#ctx.seen + 1] = "ok " .. item end,
    }
    ctx.log = {}
    for _, l in ipairs({ "debug", "info", "warn", "error" }) do
      ctx.log[l] = function(_, msg) ctx.seen[#ctx.seen + 1] = l .. " " .. msg end
    end
    return ctx
  end

  it("counts a transport failure as an error of the cycle and leaves the tracker alone", function()
    local ctx, acc = fake(), reply.new_acc()
    assert.equal("transport", reply.account(ctx, acc, "a", nil, "connection lost", "transport"))
    assert.equal("transport", reply.account(ctx, acc, "b", { err = "timeout", transport = true }))
    assert.equal("error", reply.account(ctx, acc, "c", nil, "WRONGTYPE"))
    assert.equal("error", reply.account(ctx, acc, "d", { err = "ERR x" }))
    assert.equal("skip", reply.account(ctx, acc, "e", { 1, "ALREADY_SATISFIED", "already_expired" }))
    assert.equal("processed", reply.account(ctx, acc, "f", { 1, "OK", "promoted" }))
    assert.same({ processed = 1, errors = 4, skipped = 1 }, acc)
    assert.same({ "debug item not done: transport failure", "debug item not done: transport failure",
      "fail c", "warn item failed", "fail d", "warn item failed", "ok e", "debug item skipped", "ok f" }, ctx.seen)
  end)
end)
