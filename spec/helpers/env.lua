-- The spec environment: a private redis-server, scanhost's library loaded by
-- the host's own loader, scanhost_test handles (the host's bindings) for
-- seeding, FCALL, h:once and assertions, and readers that return plain Lua
-- tables so assertions compare exact state.
--
--   local E = require "spec.helpers.env"
--   env = E.start({ partitions = 8 })    -- or E.start(E.SECTION_C)
--   env.r            the handle used for seeding and assertions
--   env:host(o)      a fresh handle (fresh failure trackers), closed by env:close_hosts()
--   env:flush()      empty the keyspace, keep the function library
--   env:stop()
--   E.suite(function(env) h = env.r end, opts...)   -- the same per block: setup,
--                    teardown and a flush before each test
local busted = require "busted" -- a module does not see the spec's globals
local luassert = require "luassert"
local claim = require "ff.claim"
local library = require "spec.helpers.library_source"

local M = {}

-- The partition counts of the spec 20 §C recipes (ff.fixtures_flow).
M.SECTION_C = { partitions = 256, budget_partitions = 32, quota_partitions = 32 }

-- The library level the host loads by default (README "Library level").
local LEVEL = library.LEVEL_LINE:match('"(%d+)"')

-- per_item_library(): the per-item functions alone, under the name
-- "flowfabric": the host then uses them like FlowFabric's library
-- (pipelined per-item calls, no batch variants).
function M.per_item_library()
  local src = library.source(LEVEL, "flowfabric")
  return (src:gsub("\n%-%- 30%-batch%.lua.*$", "\n"))
end

-- start(opts...) -> env. opts: tables of scanhost_test options, later ones
-- win (partitions default 8, lanes { "default" }, log_level
-- $SCANHOST_SPEC_LOG or "error").
function M.start(...)
  local T = require "scanhost_test" -- build/scanhost_test.so (make all)
  local srv = require("spec.helpers.redis_server").start()
  local env = { srv = srv }
  local cfg = { redis = srv.url, partitions = 8, lanes = { "default" }, scanners = "scanners",
    functions = "lua-lib/functions", log_level = os.getenv("SCANHOST_SPEC_LOG") or "error" }
  for i = 1, select("#", ...) do
    for k, v in pairs((select(i, ...))) do cfg[k] = v end
  end
  env.new_host = function(o)
    local c = {}
    for k, v in pairs(cfg) do c[k] = v end
    for k, v in pairs(o or {}) do c[k] = v end
    return T.new(c)
  end
  local hosts = {}
  function env:host(o)
    local h = self.new_host(o)
    hosts[#hosts + 1] = h
    return h
  end
  function env:close_hosts()
    for _, h in ipairs(hosts) do h:close() end
    hosts = {}
  end
  -- FLUSHALL keeps the function library (FUNCTION FLUSH would drop it).
  function env:flush()
    assert(self.r:call("FLUSHALL"))
  end
  -- env:use(lib): the library the hosts find: "scanhost" (with the batch
  -- functions) or "flowfabric" (the per-item functions alone, as FlowFabric's).
  function env:use(lib)
    assert(self.r:call("FUNCTION", "FLUSH"))
    if lib == "flowfabric" then
      assert(self.r:call("FUNCTION", "LOAD", M.per_item_library()))
    else
      local name, err = self.r:load_library()
      assert(name == "scanhost", "load_library: " .. tostring(name) .. " " .. tostring(err))
    end
  end
  function env:stop()
    self:close_hosts()
    self.r:close()
    self.srv:stop()
  end
  env.r = env.new_host()
  env:use("scanhost")
  return env
end

-- suite(bind, opts...), in a spec file or a describe block: one environment
-- (start(opts...)) for the block's tests, started in setup and handed to the
-- spec by bind(env), stopped in teardown, emptied before each test.
function M.suite(bind, ...)
  local opts, n, env = { ... }, select("#", ...), nil
  busted.setup(function()
    env = M.start(unpack(opts, 1, n))
    bind(env)
  end)
  busted.teardown(function() env:stop() end)
  busted.before_each(function() env:flush() end)
end

-- bare(bind), in a describe block: a private redis-server without a library
-- and an empty scratch directory for the block's own scanner files, made in
-- setup and handed over by bind(srv, dir), removed in teardown.
function M.bare(bind)
  local srv, dir
  busted.setup(function()
    srv = require("spec.helpers.redis_server").start()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    bind(srv, dir)
  end)
  busted.teardown(function()
    srv:stop()
    os.execute("rm -rf " .. dir)
  end)
end

-- open(opts) -> srv, h: the server and host of a fresh env over §C's
-- partition counts (opts win), for a test that wants one of its own;
-- release(srv, h) stops them.
function M.open(opts)
  local env = M.start(M.SECTION_C, opts or {})
  return env.srv, env.r
end

function M.release(srv, h)
  if h then h:close() end
  if srv then srv:stop() end
end

-- cycle(h, name) -> { processed, errors }: one full cycle of a scanner
-- (h:once), as the scanner specs compare it.
function M.cycle(h, name)
  local p, e = h:once(name)
  return { p, e }
end

-- page_costs_one(h, name, seed, check): a cycle of scanner `name` over 20
-- items costs exactly the round trips of a cycle over one (the page's steps
-- are pipelines, not round trips per item). seed(i) -> the context of item i
-- (ids apart by i); every item counts as processed; check(c) asserts that
-- item's outcome.
function M.page_costs_one(h, name, seed, check)
  local function cycle(first, k)
    local items = {}
    for i = first, first + k - 1 do items[#items + 1] = seed(i) end
    local before = h:round_trips()
    luassert.same({ k, 0 }, M.cycle(h, name))
    local rt = h:round_trips() - before
    for _, c in ipairs(items) do check(c) end
    return rt
  end
  local one = cycle(1, 1)
  luassert.equal(one, cycle(2, 20))
end

-- break_key(h, key): key replaced by a list, so every typed read of it fails
-- with WRONGTYPE: the simplest way to provoke a read error on one key.
function M.break_key(h, key)
  h:call("DEL", key)
  h:call("LPUSH", key, "not-a-hash")
end

-- normalize(v, t0, t1): every integer text within [t0, t1] replaced by "NOW"
-- (recursively), so two runs at different times compare equal.
function M.normalize(v, t0, t1)
  if type(v) == "table" then
    local out = {}
    for k, x in pairs(v) do out[k] = M.normalize(x, t0, t1) end
    return out
  end
  local n = tonumber(v)
  if n and n >= t0 and n <= t1 then return "NOW" end
  return v
end

-- Readers (h: any handle) ---------------------------------------------------

-- now(h): server time in ms.
function M.now(h)
  local t = assert(h:call("TIME"))
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
M.now_ms = M.now

function M.hgetall(h, key)
  local flat = assert(h:call("HGETALL", key))
  local map = {}
  for i = 1, #flat, 2 do map[flat[i]] = flat[i + 1] end
  return map
end

-- ZSET as member -> score (numbers).
function M.zset(h, key)
  local flat = assert(h:call("ZRANGE", key, 0, -1, "WITHSCORES"))
  local map = {}
  for i = 1, #flat, 2 do map[flat[i]] = tonumber(flat[i + 1]) end
  return map
end

function M.zscore(h, key, member)
  local s = h:call("ZSCORE", key, member)
  if s == false or s == nil then return nil end
  return tonumber(s)
end

-- SET as a sorted array.
function M.smembers(h, key)
  local m = assert(h:call("SMEMBERS", key))
  table.sort(m)
  return m
end

function M.sismember(h, key, member)
  return h:call("SISMEMBER", key, member) == 1
end

function M.exists(h, key)
  return assert(h:call("EXISTS", key)) == 1
end

-- xrange(h, key) -> array of field maps.
function M.xrange(h, key)
  local out = {}
  for _, e in ipairs(assert(h:call("XRANGE", key, "-", "+"))) do
    local m = {}
    for i = 1, #e[2], 2 do m[e[2][i]] = e[2][i + 1] end
    out[#out + 1] = m
  end
  return out
end

-- data_keys(h): every key but the claim keys of ff.claim (scanhost's own
-- bookkeeping, which any cycle with work writes).
function M.data_keys(h)
  local out = {}
  for _, k in ipairs(assert(h:call("KEYS", "*"))) do
    if not claim.is_key(k) then out[#out + 1] = k end
  end
  return out
end

-- dump(h): every data key and its value, type-aware (a snapshot to prove
-- "nothing changed", or to compare two runs).
function M.dump(h)
  local out = {}
  for _, k in ipairs(M.data_keys(h)) do
    local t = assert(h:call("TYPE", k))
    if t == "hash" then out[k] = M.hgetall(h, k)
    elseif t == "zset" then out[k] = M.zset(h, k)
    elseif t == "set" then out[k] = M.smembers(h, k)
    elseif t == "string" then out[k] = assert(h:call("GET", k))
    elseif t == "stream" then out[k] = M.xrange(h, k)
    else out[k] = t end
  end
  return out
end

-- Makes one command fail for every client (ACL), to provoke a read error that a
-- wrong key type cannot (EXISTS, TIME, ...). Always undo with allow_all.
function M.deny(h, cmd)
  assert(h:call("ACL", "SETUSER", "default", "-" .. cmd))
end

function M.allow_all(h)
  assert(h:call("ACL", "SETUSER", "default", "+@all"))
end

return M
