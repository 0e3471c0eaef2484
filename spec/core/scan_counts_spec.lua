-- The counts a scanner's scan() returns: results that are not counts are a
-- warning and one error, never clamped; skipped is an optional third value.
local env_mod = require "spec.helpers.env"
local F = require "ff.fixtures"
local K = require "ff.keys"
local T = require "scanhost_test"

describe("counts a scanner returns", function()
  local srv, dir
  env_mod.bare(function(s, d) srv, dir = s, d end)

  local function scanner(ret)
    local f = assert(io.open(dir .. "/bad.lua", "w"))
    f:write(([[return { name = "bad", family = "execution", interval = 1,
      scan = function(ctx, p) return %s end }]]):format(ret))
    f:close()
    -- a fresh host per case is another instance: claims off, or the first
    -- one's claims would leave it nothing to scan
    return T.new({ redis = srv.url, scanners = dir, partitions = 2, functions = false,
      capture_logs = true, claims = false })
  end

  it("are integers in 0..2^32-1: anything else is a warning and one error, never clamped", function()
    for _, ret in ipairs({ '"abc", {}', "-1, 0", "1.5, 0", "2^40, 0", "0, 1, 'x'", "0/0" }) do
      local h = scanner(ret)
      assert.same({ 0, 2, 0 }, { h:once("bad") }, ret) -- one error per partition
      local logs = table.concat(h:logs(), "\n")
      assert.truthy(logs:find("bad count returned", 1, true), ret)
      h:close()
    end
  end)

  it("may report skipped as a third value", function()
    local h = scanner("3, 1, 2")
    assert.same({ 6, 2, 4 }, { h:once("bad") })
    h:close()
    h = scanner("") -- nothing: no work
    assert.same({ 0, 0, 0 }, { h:once("bad") })
    h:close()
  end)
end)
