-- Issue 9, item 8: a transport failure (timeout, lost connection, not
-- connected) is told apart from an error reply, never feeds the failure
-- tracker, ends the cycle, and no stock scanner raises on it.
local F = require "ff.fixtures"
local K = require "ff.keys"
local T = require "scanhost_test"
local RS = require "spec.helpers.redis_server"

-- Holds the server for `ms` (a script that polls TIME), so a command sent
-- with it times out on the client side.
local SPIN = "local t0 = redis.call('TIME') local s = t0[1] * 1e6 + t0[2] "
  .. "while true do local t = redis.call('TIME') if t[1] * 1e6 + t[2] - s > %d then break end end return 1"

local function wait_ready(h)
  assert(h:wait_ready(20), "the host never reconnected")
end

describe("transport failures", function()
  local srv, h
  before_each(function()
    srv = RS.start()
    h = T.new({ redis = srv.url, functions = false, command_timeout = 0.3, capture_logs = true })
  end)
  after_each(function()
    h:close()
    srv:stop()
  end)

  it("are marked: nil, err, \"transport\" and {err, transport = true}; error replies are not", function()
    local r, err, kind = h:call("INCR", "k", "extra")
    assert.is_nil(r)
    assert.matches("wrong number of arguments", err)
    assert.is_nil(kind) -- an error reply: the item's business
    r, err, kind = h:call("EVAL", SPIN:format(800000), 0)
    assert.is_nil(r)
    assert.matches("^timeout", err)
    assert.equal("transport", kind)
    wait_ready(h)
    local res, nerr = h:pipeline({ { "EVAL", SPIN:format(800000), 0 }, { "PING" } })
    assert.equal(2, nerr)
    assert.is_true(res[1].transport)
    assert.is_true(res[2].transport)
    wait_ready(h)
    res = h:pipeline({ { "INCR", "k", "extra" } })
    assert.truthy(res[1].err)
    assert.is_nil(res[1].transport)
    -- ctx:now_ms passes the marker on
    local now, terr, tkind = h:run(function(ctx)
      ctx.redis:call("EVAL", SPIN:format(800000), 0)
      return ctx:now_ms()
    end)
    assert.is_nil(now)
    assert.truthy(terr)
    assert.equal("transport", tkind)
  end)

  it("reach send()'s results too: a timeout, and a server that is gone", function()
    local res, nerr = h:run(function(ctx)
      return ctx.redis:collect(ctx.redis:send({ { "EVAL", SPIN:format(800000), 0 }, { "PING" } }))
    end)
    assert.equal(2, nerr)
    assert.is_true(res[1].transport and res[2].transport)
    wait_ready(h)
    srv:stop()
    res, nerr = h:run(function(ctx) return ctx.redis:collect(ctx.redis:send({ { "PING" } })) end)
    assert.equal(1, nerr)
    assert.is_true(res[1].transport)
    assert.truthy(res[1].err)
  end)

  it("never feed the failure tracker, and end the cycle", function()
    -- a "flowfabric" library whose item function holds the server past
    -- command_timeout: every item call times out
    srv:cli("FUNCTION FLUSH")
    local lib = "#!lua name=flowfabric\nredis.register_function('ff_promote_delayed', function(keys, args) "
      .. SPIN:format(700000):gsub("return 1$", "") .. " return {1, 'OK', 'promoted'} end)"
    local path = srv.dir .. "/slow.lua"
    local f = assert(io.open(path, "w"))
    f:write(lib)
    f:close()
    assert.truthy(srv:cli("-x FUNCTION LOAD < " .. path):find("flowfabric", 1, true))
    wait_ready(h)
    assert.equal("flowfabric", h:load_library())
    for i = 1, 3 do F.delayed_promoter.acting(h, { n = 1, i = i }) end
    h:logs()
    local p, e = h:once("delayed_promoter")
    assert.equal(0, p)
    assert.is_true(e >= 1)
    for i = 1, 3 do assert.equal(0, h:tracker("delayed_promoter", F.eid(1, i))) end
    local logs = table.concat(h:logs(), "\n")
    assert.is_nil(logs:find("persistent failure", 1, true))
    assert.is_nil(logs:find("raised an error", 1, true))
    assert.truthy(logs:find("scan cycle interrupted: the connection to redis was lost", 1, true), logs)
  end)
end)

describe("a failed TIME", function()
  it("is one error, never a raise, in every stock scanner", function()
    local srv = RS.start({ args = "--rename-command TIME ''" })
    local h = T.new({ redis = srv.url, capture_logs = true, partitions = 2,
      budget_partitions = 2, quota_partitions = 2 })
    finally(function()
      h:close()
      srv:stop()
    end)
    F.delayed_promoter.acting(h, { n = 1 })
    F.lease_expiry.acting(h, { n = 1, i = 2 })
    h:logs()
    for _, name in ipairs({ "delayed_promoter", "lease_expiry", "attempt_timeout", "suspension_timeout",
      "pending_wp_expiry", "execution_deadline", "budget_reset", "budget_reconciler", "quota_reconciler",
      "unblock", "dependency_reconciler", "flow_projector", "retention_trimmer", "index_reconciler" }) do
      h:once(name)
    end
    local logs = table.concat(h:logs(), "\n")
    assert.is_nil(logs:find("raised an error", 1, true), logs)
    local p, e = h:once("delayed_promoter")
    assert.same({ 0, 1 }, { p, e })
  end)
end)
