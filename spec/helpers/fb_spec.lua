-- Shared plumbing for the issue-4 specs: a private redis-server, a test host with
-- scanhost's library loaded, and small readers that return plain Lua tables so the
-- assertions can compare exact state.
local claim = require "ff.claim"

local M = {}

-- Starts redis + host; opts go to T.new (partition counts default to §C's 256/32/32).
function M.start(opts)
  local srv = require("spec.helpers.redis_server").start()
  local T = require "scanhost_test" -- build/scanhost_test.so (make all)
  opts = opts or {}
  local cfg = {
    redis = srv.url, partitions = opts.partitions or 256,
    budget_partitions = opts.budget_partitions or 32, quota_partitions = opts.quota_partitions or 32,
    lanes = opts.lanes or { "default" }, scanners = "scanners", functions = "lua-lib/functions",
    scanner_config = opts.scanner_config, capture_logs = opts.capture_logs, log_level = opts.log_level,
    library_level = opts.library_level, filter = opts.filter,
  }
  local h = T.new(cfg)
  local lib, err = h:load_library()
  assert(lib == "scanhost", "library load failed: " .. tostring(err))
  return srv, h
end

function M.stop(srv, h)
  if h then h:close() end
  if srv then srv:stop() end
end

-- FLUSHALL keeps the function library (FUNCTION FLUSH would drop it).
function M.reset(h)
  assert(h:call("FLUSHALL"))
end

function M.now(h)
  local t = assert(h:call("TIME"))
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

function M.hgetall(h, key)
  local flat = assert(h:call("HGETALL", key))
  local map = {}
  for i = 1, #flat, 2 do map[flat[i]] = flat[i + 1] end
  return map
end

-- ZSET as member → score (numbers).
function M.zset(h, key)
  local flat = assert(h:call("ZRANGE", key, 0, -1, "WITHSCORES"))
  local map = {}
  for i = 1, #flat, 2 do map[flat[i]] = tonumber(flat[i + 1]) end
  return map
end

-- SET as a sorted array.
function M.smembers(h, key)
  local m = assert(h:call("SMEMBERS", key))
  table.sort(m)
  return m
end

-- Full dump of the keyspace (type-aware), to prove that nothing changed; the
-- claim keys of ff.claim (scanhost's own bookkeeping) are left out.
function M.dump(h)
  local keys = assert(h:call("KEYS", "*"))
  local out = {}
  for _, k in ipairs(keys) do
    local t = not claim.is_key(k) and assert(h:call("TYPE", k))
    if t == "hash" then out[k] = M.hgetall(h, k)
    elseif t == "zset" then out[k] = M.zset(h, k)
    elseif t == "set" then out[k] = M.smembers(h, k)
    elseif t == "string" then out[k] = assert(h:call("GET", k))
    elseif t then out[k] = t end
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

function M.exists(h, key)
  return assert(h:call("EXISTS", key)) == 1
end

return M
