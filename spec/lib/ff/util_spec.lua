-- ff.util: integer text, the first error of a pipeline, the state's lane set,
-- and the server's now with its failure path.
local util = require "ff.util"
local budget = require "ff.budget"

-- a ctx whose TIME returns what `time` says, logging into `seen`
local function fake(time)
  local ctx = { seen = {} }
  function ctx:now_ms() return time() end
  ctx.log = {}
  for _, l in ipairs({ "debug", "info", "warn", "error" }) do
    ctx.log[l] = function(_, msg, f) ctx.seen[#ctx.seen + 1] = l .. " " .. msg .. " " .. tostring(f.error) end
  end
  return ctx
end

describe("ff.util", function()
  it("reads integer text: int with a sign, uint digits only; anything else is nil", function()
    assert.equal(-5, util.int("-5"))
    assert.equal(7, util.int("+7"))
    assert.equal(42, util.uint("42"))
    for _, bad in ipairs({ "", " 1", "1.5", "1e3", "0x10", "abc" }) do
      assert.is_nil(util.int(bad), bad)
      assert.is_nil(util.uint(bad), bad)
    end
    assert.is_nil(util.uint("-5"))
    assert.is_nil(util.int(5)) -- text only
    assert.equal(budget.int, util.int) -- the rule the budget scripts embed server-side
  end)

  it("finds the first error of a pipeline result", function()
    assert.is_nil(util.first_err({ 1, "OK", false, { "a" } }))
    assert.equal("ERR b", util.first_err({ 1, { err = "ERR b" }, { err = "ERR c" } }))
  end)

  it("maps an execution's state to its lane set", function()
    assert.equal("active", util.lane_set("active", "", "leased"))
    assert.is_nil(util.lane_set("active", "", "lease_expired_reclaimable"))
    assert.equal("eligible", util.lane_set("runnable", "eligible_now", ""))
    assert.equal("delayed", util.lane_set("runnable", "not_eligible_until_time", ""))
    assert.equal("blocked:operator", util.lane_set("runnable", "blocked_by_operator", ""))
    assert.is_nil(util.lane_set("runnable", "weird", ""))
    assert.equal("suspended", util.lane_set("suspended", "", ""))
    assert.equal("terminal", util.lane_set("terminal", "", ""))
    assert.is_nil(util.lane_set("submitted", "", ""))
  end)

  it("returns now, or nil after a warning (debug for a transport failure)", function()
    assert.equal(1000, util.now(fake(function() return 1000 end)))
    local ctx = fake(function() return nil, "ERR unknown command 'TIME'" end)
    assert.is_nil(util.now(ctx))
    assert.same({ "warn TIME failed ERR unknown command 'TIME'" }, ctx.seen)
    ctx = fake(function() return nil, "connection lost", "transport" end)
    assert.is_nil(util.now(ctx))
    assert.same({ "debug TIME failed connection lost" }, ctx.seen)
  end)

  it("takes the lane sets from the function library's own file, found by require's searcher", function()
    -- what the host's digest records: the files require's Lua-file searcher loads
    local recorded, searcher = {}, package.loaders[2]
    package.loaders[2] = function(name)
      local loader = searcher(name)
      if type(loader) == "function" then recorded[#recorded + 1] = package.searchpath(name, package.path) end
      return loader
    end
    package.loaded["ff.lanes"] = nil
    local ok, lanes = pcall(require, "ff.lanes")
    package.loaders[2] = searcher
    assert.is_true(ok, lanes)
    assert.truthy(recorded[#recorded]:match("functions/05%-lanes%.lua$"), recorded[#recorded])
    local server = { C = {} } -- the library's file, as the server runs it (C is 00-common's)
    setfenv(assert(loadfile(recorded[#recorded])), server)()
    assert.same(server.C.RUNNABLE_SETS, lanes.RUNNABLE_SETS)
    assert.same(server.C.RUNNABLE_SETS, util.RUNNABLE_SETS)
    assert.equal(7, #lanes.RUNNABLE_ORDER)
    for _, es in ipairs(lanes.RUNNABLE_ORDER) do assert.truthy(lanes.RUNNABLE_SETS[es], es) end
  end)
end)
