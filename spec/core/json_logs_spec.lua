-- Issue 9, item 13: JSON log lines are valid JSON whatever a scanner logs:
-- numbers and booleans typed, long values shortened inside their quotes
-- (lines never cut mid-token), invalid UTF-8 escaped as \ufffd.
local T = require "scanhost_test"
local json = require "ff.json"

-- valid UTF-8 and no raw control byte: what a JSON consumer needs
local function valid_utf8(s)
  local i, n = 1, #s
  while i <= n do
    local c = s:byte(i)
    local k = c < 0x80 and 1 or (c >= 0xc2 and c <= 0xdf) and 2 or (c >= 0xe0 and c <= 0xef) and 3
      or (c >= 0xf0 and c <= 0xf4) and 4 or nil
    if not k or c < 0x20 then return false end
    for j = i + 1, i + k - 1 do
      local b = s:byte(j)
      if not b or b < 0x80 or b > 0xbf then return false end
    end
    i = i + k
  end
  return true
end

-- every captured line parses, as one object
local function parse_all(h, raw)
  local out = {}
  for _, line in ipairs(h:logs()) do
    if raw then raw[#raw + 1] = line end
    assert.is_true(valid_utf8(line), "not valid UTF-8: " .. line:sub(1, 200))
    local v, err = json.decode(line)
    assert.truthy(v, (err or "?") .. ": " .. line:sub(1, 300))
    assert.equal("table", type(v))
    out[#out + 1] = v
  end
  return out
end

describe("JSON logs", function()
  local srv, h
  setup(function()
    srv = require("spec.helpers.redis_server").start()
    h = T.new({ redis = srv.url, functions = false, log_format = "json", log_level = "debug",
      capture_logs = true })
  end)
  teardown(function()
    h:close()
    srv:stop()
  end)

  it("type numbers and booleans, and stay valid with long values and bad bytes", function()
    h:logs()
    h:run(function(ctx)
      ctx.log:info("typed", { count = 40, ratio = 0.5, big = 2 ^ 60, on = true, off = false,
        text = "40", nan = 0 / 0 })
      ctx.log:warn("long", { a = ("x"):rep(20000), b = ('"\\'):rep(5000), c = "tail" })
      ctx.log:error("bytes", { bad = "ok\255\254\192\128end", ctl = "a\1b\nc", ["k\255ey"] = "v" })
      ctx.log:info(("m"):rep(30000), { after = 1 })
    end)
    local raw = {}
    local lines = parse_all(h, raw)
    assert.equal(4, #lines)
    local typed = lines[1]
    assert.equal("40", typed.count.text) -- a JSON number literal, not a string
    assert.equal(json.Number, getmetatable(typed.count))
    assert.equal("0.5", typed.ratio.text)
    assert.equal(true, typed.on)
    assert.equal(false, typed.off)
    assert.equal("40", typed.text) -- a string stays a string
    assert.equal("string", type(typed.nan)) -- not a JSON number: quoted
    assert.equal(json.Number, getmetatable(typed.partition))
    local long = lines[2]
    assert.matches("^x+%.%.%.%[%d+ bytes cut%]$", long.a)
    assert.equal("tail", long.c) -- the fields after a long one keep their place
    local bytes = lines[3]
    -- each invalid byte (and each byte of an overlong form) is one \ufffd
    assert.truthy(raw[3]:find('"bad":"ok\\ufffd\\ufffd\\ufffd\\ufffdend"', 1, true), raw[3])
    assert.truthy(raw[3]:find('"k\\ufffdey":"v"', 1, true), raw[3])
    assert.truthy(raw[3]:find('"ctl":"a\\u0001b\\nc"', 1, true), raw[3])
    assert.matches("cut%]$", lines[4].msg)
    assert.equal("1", lines[4].after.text)
  end)

  it("type the counts of a cycle", function()
    h:logs()
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    local f = assert(io.open(dir .. "/c.lua", "w"))
    f:write([[return { name = "c", family = "execution", interval = 1,
      scan = function() return 20, 0, 3 end }]])
    f:close()
    local h2 = T.new({ redis = srv.url, scanners = dir, partitions = 2, functions = false,
      log_format = "json", log_level = "info", capture_logs = true })
    finally(function()
      h2:close()
      os.execute("rm -rf " .. dir)
    end)
    h2:logs()
    h2:once("c")
    local found
    for _, v in ipairs(parse_all(h2)) do
      if v.msg == "scan cycle complete" then found = v end
    end
    assert.truthy(found)
    assert.equal("40", found.processed.text)
    assert.equal("6", found.skipped.text)
    assert.equal("0", found.errors.text)
    assert.equal(json.Number, getmetatable(found.partitions))
  end)
end)
