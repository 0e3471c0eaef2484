-- Starts a private redis-server for a spec file: a free port on 127.0.0.1,
-- a scratch directory under /tmp, no persistence unless asked. Stopped by :stop().
local M = {}

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == 0 or ok == true
end

local function pick_port()
  -- spread specs over a range so parallel runs rarely collide; retried on failure
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
  return 20000 + math.random(0, 9999)
end

function M.start(opts)
  opts = opts or {}
  for _ = 1, 10 do
    local port = opts.port or pick_port()
    local dir = os.tmpname()
    os.remove(dir)
    assert(sh("mkdir -p " .. dir))
    local extra = opts.args or ""
    local cmd = string.format(
      "redis-server --port %d --bind 127.0.0.1 --dir %s --daemonize yes --pidfile %s/redis.pid "
        .. "--logfile %s/redis.log --save '' --appendonly %s %s",
      port, dir, dir, dir, opts.aof and "yes" or "no", extra)
    if sh(cmd .. " >/dev/null 2>&1") then
      for _ = 1, 100 do
        if sh(string.format("redis-cli -p %d ping >/dev/null 2>&1", port)) then
          local srv = { port = port, dir = dir, url = "redis://127.0.0.1:" .. port }
          function srv:cli(args)
            local p = io.popen(string.format("redis-cli -p %d %s 2>&1", self.port, args))
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
          function srv:stop()
            local pid = self:pid()
            sh(string.format("redis-cli -p %d shutdown nosave >/dev/null 2>&1", self.port))
            if pid then sh("kill -9 " .. pid .. " 2>/dev/null") end
            sh("rm -rf " .. self.dir)
          end
          return srv
        end
        sh("sleep 0.05")
      end
    end
    sh("rm -rf " .. dir)
    if opts.port then break end
  end
  error("could not start redis-server")
end

return M
