-- Starts a private redis-server for a spec file: a free port on 127.0.0.1,
-- a scratch directory under /tmp, no persistence unless asked. Stopped by :stop().
--
-- opts: port, aof (appendonly yes), fsync ("always" | "everysec" | "no"),
-- maxmemory (e.g. "2mb", with noeviction), password (requirepass), args
-- (extra redis-server arguments). srv:kill(sig) signals the server process,
-- srv:restart() starts it again on the same port and directory (AOF reloaded).
local M = {}

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == 0 or ok == true
end

local function pick_port()
  -- spread specs over a range so parallel runs rarely collide; retried on
  -- failure. /dev/urandom, not math.random seeded from the clock: two starts
  -- in the same second got the same port.
  local f = assert(io.open("/dev/urandom", "rb"))
  local b = f:read(2)
  f:close()
  return 20000 + (b:byte(1) * 256 + b:byte(2)) % 10000
end

-- True when the server started in dir is running: redis-server writes its
-- pidfile only after binding the port. A start that lost the port to another
-- server exits (after --daemonize has already returned 0), while the other
-- server still answers PING on that port.
local function running_in(dir)
  local f = io.open(dir .. "/redis.pid")
  if not f then return false end
  local pid = f:read("*n")
  f:close()
  return pid ~= nil and sh(("kill -0 %d 2>/dev/null"):format(pid))
end

function M.start(opts)
  opts = opts or {}
  for _ = 1, 10 do
    local port = opts.port or pick_port()
    local dir = os.tmpname()
    os.remove(dir)
    assert(sh("mkdir -p " .. dir))
    local extra = opts.args or ""
    if opts.fsync then extra = extra .. " --appendfsync " .. opts.fsync end
    if opts.maxmemory then
      extra = extra .. " --maxmemory " .. opts.maxmemory .. " --maxmemory-policy noeviction"
    end
    if opts.password then extra = extra .. " --requirepass " .. opts.password end
    local cmd = string.format(
      "redis-server --port %d --bind 127.0.0.1 --dir %s --daemonize yes --pidfile %s/redis.pid "
        .. "--logfile %s/redis.log --save '' --appendonly %s %s",
      port, dir, dir, dir, opts.aof and "yes" or "no", extra)
    if sh(cmd .. " >/dev/null 2>&1") then
      for _ = 1, 100 do
        if running_in(dir) and sh(string.format("redis-cli -p %d ping >/dev/null 2>&1", port)) then
          local srv = { port = port, dir = dir, url = "redis://127.0.0.1:" .. port,
                        cmd = cmd, password = opts.password }
          if opts.password then
            srv.url = ("redis://:%s@127.0.0.1:%d"):format(opts.password, port)
          end
          function srv:cli(args)
            local auth = self.password and ("--no-auth-warning -a " .. self.password .. " ") or ""
            local p = io.popen(string.format("redis-cli -p %d %s%s 2>&1", self.port, auth, args))
            local out = p:read("*a")
            p:close()
            return out
          end
          function srv:pid()
            local f = io.open(self.dir .. "/redis.pid")
            if not f then return nil end
            local pid = f:read("*n")
            f:close()
            return pid
          end
          -- Sends a signal (e.g. "KILL", "STOP", "CONT") to the server process.
          function srv:kill(sig)
            local pid = self:pid()
            return pid ~= nil and sh(("kill -%s %d 2>/dev/null"):format(sig or "TERM", pid))
          end
          -- Starts the server again after a kill (same port, dir, options);
          -- waits until it answers PING (it may reply LOADING first).
          function srv:restart(timeout)
            os.remove(self.dir .. "/redis.pid")
            if not sh(self.cmd .. " >/dev/null 2>&1") then return false end
            local auth = self.password and ("--no-auth-warning -a " .. self.password .. " ") or ""
            for _ = 1, (timeout or 10) * 20 do
              local p = io.popen(("redis-cli -p %d %sping 2>&1"):format(self.port, auth))
              local out = p:read("*a")
              p:close()
              if out:find("PONG", 1, true) and running_in(self.dir) then return true end
              sh("sleep 0.05")
            end
            return false
          end
          function srv:stop()
            local pid = self:pid()
            if pid then sh("kill -CONT " .. pid .. " 2>/dev/null") end
            sh(string.format("redis-cli -p %d %sshutdown nosave >/dev/null 2>&1", self.port,
              self.password and ("--no-auth-warning -a " .. self.password .. " ") or ""))
            if pid then sh("kill -9 " .. pid .. " 2>/dev/null") end
            sh("rm -rf " .. self.dir)
          end
          return srv
        end
        if sh(("grep -q 'aborting' %s/redis.log 2>/dev/null"):format(dir)) then break end -- port taken
        sh("sleep 0.05")
      end
    end
    sh("rm -rf " .. dir)
    if opts.port then break end
  end
  error("could not start redis-server")
end

return M
