-- Shared tools of the fault suite: fast seeding of fixture recipes through
-- `redis-cli --pipe`, server-side EVAL checks, RSS readings, and the
-- long/short switch (FAULTS_LONG=1 selects the full figures).
local RS = require "spec.helpers.redis_server"
local P = require "tests.integration.helpers.proc"
local F = require "ff.fixtures"
local K = require "ff.keys"
local claim = require "ff.claim"

local M = { RS = RS, P = P, F = F, K = K }

M.LONG = os.getenv("FAULTS_LONG") == "1"

-- pick(short, long): the figure for the current mode.
function M.pick(short, long)
  if M.LONG then return long end
  return short
end

-- A fake connection for ff.fixtures: records commands as RESP.
function M.recorder()
  local rec = { buf = {}, n = 0 }
  function rec:call(...)
    local args = { ... }
    local parts = { "*" .. #args .. "\r\n" }
    for i = 1, #args do
      local s = tostring(args[i])
      parts[#parts + 1] = "$" .. #s .. "\r\n" .. s .. "\r\n"
    end
    self.buf[#self.buf + 1] = table.concat(parts)
    self.n = self.n + 1
    return 1
  end
  return rec
end

-- pipe(srv, rec): sends every recorded command with redis-cli --pipe.
function M.pipe(srv, rec, dir)
  local path = (dir or srv.dir) .. "/seed.resp"
  local f = assert(io.open(path, "wb"))
  f:write(table.concat(rec.buf))
  f:close()
  local p = io.popen(("redis-cli %s --pipe < %s 2>&1"):format(srv:cli_args(), path))
  local out = p:read("*a")
  p:close()
  os.remove(path)
  local errors, replies = out:match("errors: (%d+), replies: (%d+)")
  assert(errors == "0" and tonumber(replies) == rec.n, "seeding failed: " .. out)
  return rec.n
end

-- eval(srv, script, ...) -> the raw redis-cli output (one value per line).
function M.eval(srv, script, ...)
  local path = srv.dir .. "/eval.lua"
  local f = assert(io.open(path, "w"))
  f:write(script)
  f:close()
  local args = {}
  for i, v in ipairs({ ... }) do args[i] = tostring(v) end
  local p = io.popen(("redis-cli %s --eval %s , %s 2>&1"):format(srv:cli_args(), path,
    table.concat(args, " ")))
  local out = p:read("*a")
  p:close()
  return out
end

-- numbers(out) -> list of the integers in redis-cli output.
function M.numbers(out)
  local t = {}
  for n in out:gmatch("%-?%d+") do t[#t + 1] = tonumber(n) end
  return t
end

-- VmRSS of a process in kB.
function M.rss_kb(pid)
  local s = P.read("/proc/" .. pid .. "/status")
  return s and tonumber(s:match("VmRSS:%s*(%d+)"))
end

-- True while pid runs (a zombie, not yet reaped, counts as dead).
function M.alive(pid)
  local s = P.read("/proc/" .. pid .. "/status")
  return s ~= nil and not s:find("State:%s*Z")
end

-- config(dir, text) -> path of a config file holding `return { text }`.
function M.config(dir, text)
  local path = dir .. "/faults.conf.lua"
  P.write(path, "return {\n" .. text .. "\n}\n")
  return path
end

-- copy(names, sdir): copies stock scanners into a private scanners dir.
function M.copy_scanners(names, sdir)
  P.sh("mkdir -p " .. sdir)
  for _, n in ipairs(names) do
    assert(P.sh(("cp scanners/%s.lua %s/"):format(n, sdir)))
  end
end

-- Counts the lines of text matching a plain substring.
function M.count_lines(text, needle)
  local n = 0
  for line in text:gmatch("[^\n]+") do
    if line:find(needle, 1, true) then n = n + 1 end
  end
  return n
end

-- A scanhost process must still run (no crash) and end with exit 0 at SIGTERM.
function M.term(proc, timeout)
  proc:signal("TERM")
  return proc:wait_exit(timeout or 10)
end

-- seed_delayed(srv, np, per, due(n, i) -> ms): delayed_promoter items
-- {fp:n} i = first..per (first defaults to 1), written with the fixture recipe.
function M.seed_delayed(srv, np, per, due, dir, first)
  local rec = M.recorder()
  for n = 0, np - 1 do
    for i = first or 1, per do
      local d = tostring(math.floor(due(n, i)))
      F.delayed_promoter.acting(rec, { n = n, i = i, score = d, fields = { delay_until = d } })
    end
  end
  return M.pipe(srv, rec, dir)
end

M.DELAYED_CENSUS = [[
local np, per, ok = tonumber(ARGV[1]), tonumber(ARGV[2]), 0
for n = 0, np - 1 do
  local tag = "{fp:" .. n .. "}"
  for i = 1, per do
    local eid = string.format("{fp:%d}:00000000-0000-4000-8000-%012x", n, i)
    local st = redis.call("HMGET", "ff:exec:" .. tag .. ":" .. eid .. ":core", "eligibility_state",
      "delay_until", "last_transition_at", "last_mutation_at", "lifecycle_phase")
    if st[1] == "eligible_now" and st[2] == "" and st[3] == st[4] and st[5] == "runnable"
      and redis.call("ZSCORE", "ff:idx:" .. tag .. ":lane:default:eligible", eid)
      and not redis.call("ZSCORE", "ff:idx:" .. tag .. ":lane:default:delayed", eid) then ok = ok + 1 end
  end
end
return ok]]

-- delayed_done(srv, np, per) -> items promoted exactly once, in the eligible
-- set only (last_transition_at == last_mutation_at: a single transition).
function M.delayed_done(srv, np, per)
  return M.numbers(M.eval(srv, M.DELAYED_CENSUS, np, per))[1] or -1
end

-- server_ms(srv) -> the server's TIME in ms.
function M.server_ms(srv)
  local t = M.numbers(srv:cli("TIME"))
  return t[1] * 1000 + math.floor((t[2] or 0) / 1000)
end

-- snapshot(h) -> key -> { type, c }: the whole keyspace through a test host,
-- c mapping hash fields, zset members (to scores) and set members (to "1");
-- strings and lists as c.value, streams as c.len.
function M.snapshot(h)
  local snap = {}
  for _, key in ipairs(h:call("KEYS", "*")) do
    local ty = not claim.is_key(key) and h:call("TYPE", key) -- not the claims (ff.claim)
    local c = {}
    if ty == "hash" or ty == "zset" then
      local flat = ty == "hash" and h:call("HGETALL", key) or h:call("ZRANGE", key, 0, -1, "WITHSCORES")
      for j = 1, #flat, 2 do c[flat[j]] = flat[j + 1] end
    elseif ty == "set" then
      for _, m in ipairs(h:call("SMEMBERS", key)) do c[m] = "1" end
    elseif ty == "string" then
      c.value = h:call("GET", key)
    elseif ty == "list" then
      c.value = table.concat(h:call("LRANGE", key, 0, -1), "\0")
    elseif ty == "stream" then
      c.len = tostring(h:call("XLEN", key))
    end
    if ty then snap[key] = { type = ty, c = c } end
  end
  return snap
end

-- retype(h, key, kind): replaces an existing key by one of another type
-- ("string", "hash" or "list") holding "garbage".
function M.retype(h, key, kind)
  assert(h:call("DEL", key) == 1, "no key " .. key)
  if kind == "string" then h:call("SET", key, "garbage")
  elseif kind == "hash" then h:call("HSET", key, "garbage", "garbage")
  else h:call("RPUSH", key, "garbage") end
end

-- fresh(h[, scanner]): an empty keyspace (the library stays) and no captured
-- log lines; with a scanner name, also a fresh Lua state for it: a scanner
-- that remembers items (lease_expiry's memo of expired leases) would
-- otherwise skip the same records seeded again with the same scores.
function M.fresh(h, scanner)
  h:call("FLUSHALL")
  if scanner then h:reload(scanner) end
  h:logs()
end

-- finish(case, proc, srv, dir): the end of a case: stops scanhost (its log
-- kept as build/test-logs/faults/<case>.log) and the server, removes dir.
function M.finish(case, proc, srv, dir)
  if proc then proc:stop() end
  M.keep_log(proc, case)
  if srv then srv:stop() end
  if dir then P.sh("rm -rf " .. dir) end
end

-- spread(now, from, width, np, per) -> due(n, i): due times spread evenly over
-- [now + from, now + from + width), partitions interleaved (for seed_delayed).
function M.spread(now, from, width, np, per)
  return function(n, i) return now + from + width * ((i - 1) * np + n) / (per * np) end
end

-- Keeps a copy of a scanhost log under build/test-logs/faults/ (for failures).
function M.keep_log(proc, name)
  if not proc then return end
  P.sh("mkdir -p build/test-logs/faults")
  P.sh(("cp %s build/test-logs/faults/%s.log 2>/dev/null"):format(proc.log, name))
end

return M
