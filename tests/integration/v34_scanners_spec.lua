-- The v34 scanners and the scanner filter under the daemon (bin/scanhost with
-- the stock scanners): cancel_reconciler waits while FlowFabric 0.1.1's
-- library (version 5) is loaded and starts working once v34's replaces it in
-- place; the filter key is read from the config file, a bad one refused.
local RS = require "spec.helpers.redis_server"
local P = require "tests.integration.helpers.proc"
local HTTP = require "tests.integration.helpers.http"
local L = require "spec.helpers.library_source"
local V = require "ff.fixtures_v34"

describe("the v34 scanners under the daemon", function()
  local srv, dir, proc, r

  before_each(function()
    srv = RS.start()
    dir = P.tmpdir()
    P.sh("mkdir -p " .. dir .. "/none")
    -- a plain client for seeding (the test host without scanners or library)
    r = require("scanhost_test").new({ redis = srv.url, functions = false, scanners = dir .. "/none" })
  end)

  after_each(function()
    r:close()
    P.cleanup { proc = proc, srv = srv, dir = dir }
    proc = nil
  end)

  local function start(conf)
    P.write(dir .. "/c.lua", conf)
    proc = P.start(dir, ("-c %s/c.lua --redis %s --partitions 256"):format(dir, srv.url))
  end

  it("cancel_reconciler waits under library 5 and cancels once 34 is loaded in place", function()
    assert(r:call("FUNCTION", "LOAD", L.source("5", "flowfabric")))
    local c = V.cancel_reconciler.acting(r)
    start("return { library_recheck = 0.3, scanners = { cancel_reconciler = { interval = 0.2 } } }")
    assert.truthy(proc:wait_log("scanner=cancel_reconciler msg=\"scanner waits: it follows library version 34; the loaded library is version 5\"", 10), proc:output())
    P.sleep(0.5)
    assert.equal(1, r:call("ZCARD", c.keys.backlog))
    assert(r:call("FUNCTION", "LOAD", "REPLACE", L.source("34", "flowfabric")))
    assert.truthy(P.wait_for(function() return r:call("ZCARD", c.keys.backlog) == 0 end, 10), proc:output())
    assert.equal("terminal", r:call("HGET", V.core(c, c.ids.E1), "lifecycle_phase"))
    assert.equal("user_abort", r:call("HGET", V.core(c, c.ids.E1), "cancellation_reason"))
    assert.is_true(proc:signal("TERM"))
    assert.are.equal(0, proc:wait_exit(5))
  end)

  it("the config's filter keeps another namespace's members owed", function()
    local c = V.cancel_reconciler.acting(r)
    start("return { filter = { namespace = 'ns2' }, scanners = { cancel_reconciler = { interval = 0.2 } } }")
    assert.truthy(proc:wait_log("scanner filter on", 10), proc:output())
    assert.truthy(proc:wait_log("scanner=cancel_reconciler msg=\"scanner started", 10), proc:output())
    P.sleep(1.5) -- several cycles of 0.2 s
    assert.equal(1, r:call("ZCARD", c.keys.backlog))
    assert.equal("runnable", r:call("HGET", V.core(c, c.ids.E1), "lifecycle_phase"))
  end)

  it("exports the cancel backlog as ff_cancel_backlog_depth (read by select(), no command of its own)", function()
    local c = V.cancel_reconciler.acting(r)
    start("return { http = '127.0.0.1:0', filter = { namespace = 'ns2' }, "
      .. "scanners = { cancel_reconciler = { interval = 0.2 } } }")
    local port = HTTP.port_of(proc)
    assert.truthy(HTTP.wait_metric(port, "ff_cancel_backlog_depth", function(v) return v == 1 end, 10),
      proc:output())
    assert.equal(1, r:call("ZCARD", c.keys.backlog)) -- owed to another namespace: it stays
  end)

  it("refuses a malformed filter, naming the key (exit 2)", function()
    P.write(dir .. "/c.lua", "return { filter = { namespace = 'ns1', tag = { key = 'a.b' } } }")
    local rc, out = P.run(("--check -c %s/c.lua --redis %s"):format(dir, srv.url))
    assert.are.equal(2, rc, out)
    assert.truthy(out:find("filter.tag.value", 1, true), out)
    P.write(dir .. "/c.lua", "return { filter = { nmespace = 'ns1' } }")
    rc, out = P.run(("--check -c %s/c.lua --redis %s"):format(dir, srv.url))
    assert.are.equal(2, rc, out)
    assert.truthy(out:find("filter.nmespace: unknown key", 1, true), out)
  end)
end)
