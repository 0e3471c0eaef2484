-- Issue 9, items 5 and 6: one validation path for --check, --once and the
-- daemon; option bounds declared by the scanners; several scanner
-- directories; what --check says it used. None of these runs need Redis:
-- every refusal happens before connecting (redis://127.0.0.1:1 listens
-- nowhere, so a run that got past validation would fail differently).
local P = require "tests.integration.helpers.proc"

local NOWHERE = "--redis redis://127.0.0.1:1"

local COUNTER = [[
return { name = "%s", family = "execution", interval = 0.1,
  scan = function(ctx, p) return 1, 0 end }
]]

describe("validation, the same for --check, --once and the daemon", function()
  local dir, sdir
  before_each(function()
    dir = P.tmpdir()
    sdir = dir .. "/scanners"
    P.sh("mkdir -p " .. sdir)
    P.sh("cp scanners/lease_expiry.lua scanners/delayed_promoter.lua " .. sdir)
  end)
  after_each(function() P.sh("rm -rf " .. dir) end)

  -- every mode refuses the config with exit 2 and names the key
  local function refused(conf, key, extra)
    P.write(dir .. "/c.lua", conf)
    for _, mode in ipairs({ "--check", "--once", "" }) do
      local rc, out = P.run(("%s -c %s/c.lua --scanners %s %s %s"):format(mode, dir, sdir, NOWHERE, extra or ""))
      assert.are.equal(2, rc, (mode ~= "" and mode or "daemon") .. ": " .. out)
      assert.truthy(out:find(key, 1, true), (mode ~= "" and mode or "daemon") .. " does not name " .. key .. ":\n" .. out)
      assert.is_nil(out:find("could not reach redis", 1, true), "got past validation")
    end
  end

  it("refuses an unknown scanner name under scanners", function()
    refused("return { scanners = { lease_expiri = { enabled = false } } }", "scanners.lease_expiri:")
  end)

  it("refuses an unknown option", function()
    refused("return { scanners = { lease_expiry = { bacth = 10 } } }",
      "scanners.lease_expiry.bacth: unknown option")
  end)

  for _, c in ipairs({
    { "interval = -1", "scanners.lease_expiry.interval" },
    { "interval = 0/0", "scanners.lease_expiry.interval" },
    { "interval = 1/0", "scanners.lease_expiry.interval" },
    { "batch = 0", "scanners.lease_expiry.batch: must be an integer in [1, 10000]" },
    { "batch = 1e9", "scanners.lease_expiry.batch: must be an integer in [1, 10000]" },
    { "batch = 20.5", "scanners.lease_expiry.batch: must be an integer" },
    { "batch = 0/0", "scanners.lease_expiry.batch: must be a finite number" },
    { "batch_min = 600, batch_max = 500", "scanners.lease_expiry.batch_min: must be <= batch" },
    { "batch = 5", "scanners.lease_expiry.batch: must be >= batch_min" },
    { "max_pages = 0", "scanners.lease_expiry.max_pages: must be an integer in [1, 1000]" },
    { "drain_budget = -1", "scanners.lease_expiry.drain_budget" },
    { "enabled = 'no'", "scanners.lease_expiry.enabled: must be a boolean" },
  }) do
    it("refuses " .. c[1], function()
      refused(("return { scanners = { lease_expiry = { %s } } }"):format(c[1]), c[2])
    end)
  end

  it("accepts values within the bounds", function()
    P.write(dir .. "/c.lua", "return { scanners = { lease_expiry = { batch = 5, batch_min = 5, max_pages = 3,"
      .. " interval = 0.5 }, delayed_promoter = { enabled = false } } }")
    local rc, out = P.run(("--check -c %s/c.lua --scanners %s"):format(dir, sdir))
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("scanner=lease_expiry family=execution interval=0.5", 1, true))
    assert.truthy(out:find("scanner=delayed_promoter family=execution interval=0.75 partitions=256 enabled=false", 1, true))
  end)

  it("refuses a scanner file whose own defaults break its bounds", function()
    P.write(sdir .. "/bad.lua", [[
return { name = "bad", family = "execution", interval = 1, defaults = { batch = 0 },
  bounds = { batch = { integer = true, min = 1, max = 10 } }, scan = function() return 0, 0 end }
]])
    local rc, out = P.run(("--check --scanners %s"):format(sdir))
    assert.are.equal(2, rc)
    assert.truthy(out:find("bad.lua: defaults.batch: must be an integer in [1, 10]", 1, true), out)
  end)

  it("refuses an empty set of scanners to run", function()
    P.sh("rm " .. sdir .. "/*.lua")
    local rc, out = P.run(("--check --scanners %s"):format(sdir))
    assert.are.equal(2, rc)
    assert.truthy(out:find("no scanner to run", 1, true), out)
    rc, out = P.run(("--scanners %s %s"):format(sdir, NOWHERE))
    assert.are.equal(2, rc, out)
    -- every scanner disabled is an empty set too
    P.sh("cp scanners/lease_expiry.lua " .. sdir)
    P.write(dir .. "/c.lua", "return { scanners = { lease_expiry = { enabled = false } } }")
    rc, out = P.run(("--once -c %s/c.lua --scanners %s %s"):format(dir, sdir, NOWHERE))
    assert.are.equal(2, rc, out)
    assert.truthy(out:find("no scanner to run", 1, true), out)
  end)

  it("refuses a functions directory that does not exist, also in --check", function()
    for _, mode in ipairs({ "--check", "--once" }) do
      local rc, out = P.run(("%s --scanners %s --functions %s/nope %s"):format(mode, sdir, dir, NOWHERE))
      assert.are.equal(2, rc, out)
      assert.truthy(out:find("functions_dir: cannot read " .. dir .. "/nope", 1, true), out)
    end
  end)

  it("refuses a scanner directory that does not exist", function()
    local rc, out = P.run(("--check --scanners %s --scanners %s/nope"):format(sdir, dir))
    assert.are.equal(2, rc, out)
    assert.truthy(out:find("scanners_dir: cannot read " .. dir .. "/nope", 1, true), out)
  end)

  it("refuses --only naming no scanner", function()
    local rc, out = P.run(("--check --only lease_expiry,nope --scanners %s"):format(sdir))
    assert.are.equal(2, rc)
    assert.truthy(out:find("--only: no scanner named nope", 1, true), out)
  end)
end)

describe("several scanner directories", function()
  local dir
  before_each(function() dir = P.tmpdir() end)
  after_each(function() P.sh("rm -rf " .. dir) end)

  it("--scanners may be repeated: every directory is loaded", function()
    P.sh(("mkdir -p %s/a %s/b"):format(dir, dir))
    P.write(dir .. "/a/one.lua", COUNTER:format("one"))
    P.write(dir .. "/b/two.lua", COUNTER:format("two"))
    local rc, out = P.run(("--check --scanners %s/a --scanners %s/b --lanes x,y --partitions 4"):format(dir, dir))
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("scanner=one ", 1, true))
    assert.truthy(out:find("scanner=two ", 1, true))
    -- what --check used
    assert.truthy(out:find("scanners_dir=" .. dir .. "/a\n", 1, true), out)
    assert.truthy(out:find("scanners_dir=" .. dir .. "/b\n", 1, true), out)
    assert.truthy(out:find("lanes=x,y\n", 1, true), out)
    assert.truthy(out:find("partitions=4 budget_partitions=32 quota_partitions=32\n", 1, true), out)
    assert.truthy(out:find("config=", 1, true), out)
  end)

  it("config scanners_dir may be a list; the same name in two files names both", function()
    P.sh(("mkdir -p %s/a %s/b"):format(dir, dir))
    P.write(dir .. "/a/one.lua", COUNTER:format("one"))
    P.write(dir .. "/b/other.lua", COUNTER:format("one"))
    P.write(dir .. "/c.lua", ("return { scanners_dir = { %q, %q } }"):format(dir .. "/a", dir .. "/b"))
    for _, mode in ipairs({ "--check", "" }) do
      local rc, out = P.run(("%s -c %s/c.lua %s"):format(mode, dir, NOWHERE))
      assert.are.equal(2, rc, out)
      assert.truthy(out:find("duplicate scanner name: defined by " .. dir .. "/a/one.lua and by "
        .. dir .. "/b/other.lua", 1, true), out)
    end
    P.write(dir .. "/c.lua", ("return { scanners_dir = %q }"):format(dir .. "/a"))
    local rc, out = P.run(("--check -c %s/c.lua"):format(dir))
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("config=" .. dir .. "/c.lua\n", 1, true), out)
  end)
end)

describe("the config file under the guard", function()
  local dir, sdir
  before_each(function()
    dir = P.tmpdir()
    sdir = dir .. "/scanners"
    P.sh("mkdir -p " .. sdir)
    P.write(sdir .. "/one.lua", COUNTER:format("one"))
  end)
  after_each(function() P.sh("rm -rf " .. dir) end)

  it("a config file that never returns is refused: exit 2 naming the file", function()
    P.write(dir .. "/loop.lua", "while true do end")
    local rc, out = P.run(("--check -c %s/loop.lua --scanners %s"):format(dir, sdir))
    assert.are.equal(2, rc, out)
    assert.truthy(out:find(dir .. "/loop.lua: the config file ran for more than 2 s without returning", 1, true), out)
    -- an error swallowed by pcall does not keep it alive either
    P.write(dir .. "/loop.lua", "while true do pcall(function() while true do end end) end")
    rc, out = P.run(("--check -c %s/loop.lua --scanners %s"):format(dir, sdir))
    assert.are.equal(2, rc, out)
    assert.truthy(out:find("loop.lua", 1, true), out)
  end)

  it("a config file whose finalizer never returns ends anyway, naming the file", function()
    P.write(dir .. "/fin.lua", "KEEP = newproxy(true) getmetatable(KEEP).__gc = function() while true do end end "
      .. "return {}")
    local rc, out = P.run(("--check -c %s/fin.lua --scanners %s"):format(dir, sdir))
    assert.are.equal(2, rc, out)
    assert.truthy(out:find("closing the Lua state of the config file " .. dir .. "/fin.lua", 1, true), out)
  end)

  it("a config file that eats memory is refused", function()
    P.write(dir .. "/hog.lua", "local t = {} for i = 1, 1e8 do t[i] = ('x'):rep(1048576) .. i end return {}")
    local rc, out = P.run(("--check -c %s/hog.lua --scanners %s"):format(dir, sdir))
    assert.are.equal(2, rc, out)
    assert.truthy(out:find(dir .. "/hog.lua: the config file used more than 64 MB", 1, true), out)
  end)
end)
