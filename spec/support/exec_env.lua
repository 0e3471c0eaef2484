-- Shared setup for the execution specs: a private redis-server, scanhost's
-- library loaded by the host's loader, and scanhost_test handles for seeding,
-- assertions and h:once.
local claim = require "ff.claim"

local M = {}

-- library_source(): the library exactly as the host builds it.
function M.library_source(dir)
  dir = dir or "lua-lib/functions"
  local p = assert(io.popen("ls " .. dir .. "/*.lua | sort"))
  local parts = { "#!lua name=scanhost\n", "-- scanhost library (spec build)\n" }
  for path in p:lines() do
    local f = assert(io.open(path))
    parts[#parts + 1] = f:read("*a")
    parts[#parts + 1] = "\n"
    f:close()
  end
  p:close()
  return table.concat(parts)
end

-- start(opts) -> env {srv, r, new_host}; env:flush(); env:stop().
-- env.r is a scanhost_test handle (the host's own bindings) used for seeding,
-- FCALL and assertions; env.new_host(o) returns a fresh handle (fresh failure
-- trackers) for h:once. The library is loaded through the host's own loader.
function M.start(opts)
  opts = opts or {}
  local T = require "scanhost_test"
  local srv = require("spec.helpers.redis_server").start()
  local env = { srv = srv }
  local cfg = { redis = srv.url, partitions = opts.partitions or 8,
    lanes = opts.lanes or { "default" }, scanners = "scanners",
    functions = "lua-lib/functions", scanner_config = opts.scanner_config,
    log_level = os.getenv("SCANHOST_SPEC_LOG") or "error" }
  env.new_host = function(o)
    local c = {}
    for k, v in pairs(cfg) do c[k] = v end
    for k, v in pairs(o or {}) do c[k] = v end
    return T.new(c)
  end
  -- env:host(o): a fresh handle (fresh failure trackers) closed by env:close_hosts()
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
  function env:flush()
    assert(self.r:call("FLUSHDB"))
  end
  -- env:use(lib): the library the hosts find: "scanhost" (with the batch
  -- functions) or "flowfabric" (the per-item functions alone, as FlowFabric's).
  function env:use(lib)
    assert(self.r:call("FUNCTION", "FLUSH"))
    if lib == "flowfabric" then
      assert(self.r:call("FUNCTION", "LOAD", M.per_item_library()))
    else
      local lib, err = self.r:load_library()
      assert(lib == "scanhost", "load_library: " .. tostring(lib) .. " " .. tostring(err))
    end
  end
  function env:stop()
    self.r:close()
    self.srv:stop()
  end
  env.r = env.new_host()
  env:use("scanhost")
  return env
end

-- per_item_library(): the per-item functions alone, under the name
-- "flowfabric": the host then uses them like FlowFabric's library
-- (pipelined per-item calls, no batch variants).
function M.per_item_library()
  local src = M.library_source():gsub("#!lua name=scanhost", "#!lua name=flowfabric", 1)
  return (src:gsub("\n%-%- 30%-batch%.lua.*$", "\n"))
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

-- Helpers for assertions ------------------------------------------------------
function M.hgetall(r, key)
  local flat = assert(r:call("HGETALL", key))
  local map = {}
  for i = 1, #flat, 2 do map[flat[i]] = flat[i + 1] end
  return map
end

function M.zscore(r, key, member)
  local s = r:call("ZSCORE", key, member)
  if s == false or s == nil then return nil end
  return tonumber(s)
end

function M.sismember(r, key, member)
  return r:call("SISMEMBER", key, member) == 1
end

function M.exists(r, key)
  return r:call("EXISTS", key) == 1
end

-- xrange(r, key) -> array of field maps.
function M.xrange(r, key)
  local out = {}
  for _, e in ipairs(assert(r:call("XRANGE", key, "-", "+"))) do
    local m = {}
    for i = 1, #e[2], 2 do m[e[2][i]] = e[2][i + 1] end
    out[#out + 1] = m
  end
  return out
end

-- now_ms(r): server time.
function M.now_ms(r)
  local t = assert(r:call("TIME"))
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- data_keys(r): every key but the claim keys of ff.claim (scanhost's own
-- bookkeeping, which any cycle with work writes).
function M.data_keys(r)
  local out = {}
  for _, k in ipairs(assert(r:call("KEYS", "*"))) do
    if not claim.is_key(k) then out[#out + 1] = k end
  end
  return out
end

-- dump(r): every data key and its value (snapshot to prove "nothing changed").
function M.dump(r)
  local out = {}
  for _, k in ipairs(M.data_keys(r)) do
    local t = r:call("TYPE", k)
    if t == "hash" then out[k] = M.hgetall(r, k)
    elseif t == "zset" then out[k] = r:call("ZRANGE", k, "0", "-1", "WITHSCORES")
    elseif t == "set" then
      local m = r:call("SMEMBERS", k); table.sort(m); out[k] = m
    elseif t == "stream" then out[k] = M.xrange(r, k)
    else out[k] = t end
  end
  return out
end

return M
