-- Runs bin/scanhost in the background for integration specs: its log goes to
-- a file, its pid and exit status are captured, and helpers wait (bounded)
-- for log lines, files and exit.
local M = {}

local function sh(cmd)
  local r = os.execute(cmd)
  return r == 0 or r == true
end
M.sh = sh

local function read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end
M.read = read

function M.write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

function M.sleep(s)
  sh("sleep " .. s)
end

function M.now()
  local p = io.popen("date +%s.%N")
  local t = tonumber(p:read("*l"))
  p:close()
  return t
end

-- Polls fn() every 50 ms until it returns a truthy value or timeout seconds pass.
function M.wait_for(fn, timeout)
  local deadline = M.now() + (timeout or 5)
  repeat
    local v = fn()
    if v then return v end
    M.sleep(0.05)
  until M.now() > deadline
  return fn()
end

function M.tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(sh("mkdir -p " .. d))
  return d
end

local Proc = {}
Proc.__index = Proc

-- Starts scanhost with args (a string) in dir; returns a process handle.
function M.start(dir, args, env)
  local p = setmetatable({ dir = dir, log = dir .. "/scanhost.log",
                           pidfile = dir .. "/scanhost.pid", rcfile = dir .. "/scanhost.rc" }, Proc)
  os.remove(p.rcfile)
  os.remove(p.pidfile)
  local cmd = string.format("(%s ./bin/scanhost %s > %s 2>&1 & echo $! > %s; wait $!; echo $? > %s) 2>/dev/null &",
    env or "", args, p.log, p.pidfile, p.rcfile)
  assert(sh(cmd))
  p.pid = M.wait_for(function()
    local s = read(p.pidfile)
    return s and tonumber(s:match("%d+"))
  end, 5)
  assert(p.pid, "scanhost did not start")
  return p
end

function Proc:output()
  return read(self.log) or ""
end

function Proc:wait_log(pattern, timeout)
  return M.wait_for(function() return self:output():find(pattern) ~= nil end, timeout)
end

function Proc:count(pattern)
  local n = 0
  for _ in self:output():gmatch(pattern) do n = n + 1 end
  return n
end

function Proc:signal(sig)
  return sh(string.format("kill -%s %d 2>/dev/null", sig, self.pid))
end

-- Exit status once the process ended, or nil after timeout seconds.
function Proc:wait_exit(timeout)
  return M.wait_for(function()
    local s = read(self.rcfile)
    return s and tonumber(s:match("%d+"))
  end, timeout or 5)
end

function Proc:stop()
  if not read(self.rcfile) then
    self:signal("KILL")
    self:wait_exit(5)
  end
end

-- lines(text, needle) -> the lines of text holding needle (plain text).
function M.lines(text, needle)
  local t = {}
  for line in text:gmatch("[^\n]+") do
    if line:find(needle, 1, true) then t[#t + 1] = line end
  end
  return t
end

-- counter(key) -> the source of a scanner "counter" (execution family,
-- interval 0.1 s) that counts its scans in the hash field key.n.
function M.counter(key)
  return ([[
return { name = "counter", family = "execution", interval = 0.1,
  scan = function(ctx, p)
    local ok = ctx.redis:call("HINCRBY", %q, "n", 1)
    return ok and 1 or 0, ok and 0 or 1
  end }
]]):format(key)
end

-- cleanup{ proc =, srv =, dir =, pids = { ... } }: the end of a test: stops
-- scanhost, kills helper processes by their pid, stops the server, removes dir.
function M.cleanup(t)
  if t.proc then t.proc:stop() end
  for _, pid in pairs(t.pids or {}) do sh("kill " .. pid .. " 2>/dev/null") end
  if t.srv then t.srv:stop() end
  if t.dir then sh("rm -rf " .. t.dir) end
end

-- Runs scanhost in the foreground: exit status, combined output.
function M.run(args, env)
  local p = io.popen(string.format("%s ./bin/scanhost %s 2>&1; echo \"rc=$?\"", env or "", args))
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("rc=(%d+)%s*$"))
  return rc, out
end

return M
