-- Starts a private redis-server for a spec file: a free port on 127.0.0.1,
-- a scratch directory under /tmp, no persistence unless asked. Stopped by :stop().
--
-- opts: port, aof (appendonly yes), fsync ("always" | "everysec" | "no"),
-- maxmemory (e.g. "2mb", with noeviction), password (requirepass), args
-- (extra redis-server arguments), tls (a table: TLS only, `--port 0
-- --tls-port PORT`, with a CA and certificates the helper makes with the
-- openssl CLI in the server's directory; tls.san is the server
-- certificate's subjectAltName, default "DNS:localhost,IP:127.0.0.1";
-- tls.auth_clients "no" (default), "yes" or "optional").
-- srv:kill(sig) signals the server process, srv:restart() starts it again on
-- the same port and directory (AOF reloaded, same certificates).
-- A TLS server has srv.url = "rediss://..." and srv.tls = { dir, ca, cert,
-- key, client_cert, client_key } (paths); M.make_ca/M.issue make more.
-- srv:cli_args() is what redis-cli needs to reach the server.
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

local function openssl(args)
  assert(sh("openssl " .. args .. " >/dev/null 2>&1"), "openssl " .. args)
end

-- make_ca(dir, name) -> { cert = path, key = path }: a self-signed test CA.
function M.make_ca(dir, name)
  local ca = { cert = ("%s/%s.crt"):format(dir, name), key = ("%s/%s.key"):format(dir, name) }
  openssl(("req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=%s -keyout %s -out %s")
    :format(name, ca.key, ca.cert))
  return ca
end

-- issue(dir, ca, name, cn, san) -> cert path, key path: a certificate signed by ca.
function M.issue(dir, ca, name, cn, san)
  local base = dir .. "/" .. name
  openssl(("req -newkey rsa:2048 -nodes -subj /CN=%s -keyout %s.key -out %s.csr"):format(cn, base, base))
  local ext = ""
  if san then
    local f = assert(io.open(base .. ".ext", "w"))
    f:write("subjectAltName=" .. san .. "\n")
    f:close()
    ext = " -extfile " .. base .. ".ext"
  end
  openssl(("x509 -req -in %s.csr -CA %s -CAkey %s -CAcreateserial -days 2%s -out %s.crt")
    :format(base, ca.cert, ca.key, ext, base))
  return base .. ".crt", base .. ".key"
end

local function make_tls(dir, opts)
  local ca = M.make_ca(dir, "ca")
  local t = { dir = dir, ca = ca.cert, ca_key = ca.key }
  t.cert, t.key = M.issue(dir, ca, "server", "localhost", opts.san or "DNS:localhost,IP:127.0.0.1")
  t.client_cert, t.client_key = M.issue(dir, ca, "client", "client")
  return t
end

-- redis-cli arguments reaching srv (port, TLS, password)
local function cli_base(srv)
  local parts = { "-p " .. srv.port }
  if srv.tls then
    parts[#parts + 1] = ("--tls --cacert %s --cert %s --key %s"):format(srv.tls.ca,
      srv.tls.client_cert, srv.tls.client_key)
  end
  if srv.password then parts[#parts + 1] = "--no-auth-warning -a " .. srv.password end
  return table.concat(parts, " ")
end

-- PONG: up and loaded; any answer (e.g. NOAUTH, with the password in args): up.
local function answers_ping(srv, pong)
  if not pong then
    return sh(("redis-cli %s ping >/dev/null 2>&1"):format(cli_base(srv)))
  end
  local p = io.popen(("redis-cli %s ping 2>&1"):format(cli_base(srv)))
  local out = p:read("*a")
  p:close()
  return out:find("PONG", 1, true) ~= nil
end

local Server = {}
Server.__index = Server

-- The redis-cli arguments that reach this server (port, TLS, password).
function Server:cli_args()
  return cli_base(self)
end

function Server:cli(args)
  local p = io.popen(string.format("redis-cli %s %s 2>&1", cli_base(self), args))
  local out = p:read("*a")
  p:close()
  return out
end

function Server:pid()
  local f = io.open(self.dir .. "/redis.pid")
  if not f then return nil end
  local pid = f:read("*n")
  f:close()
  return pid
end

-- Sends a signal (e.g. "KILL", "STOP", "CONT") to the server process.
function Server:kill(sig)
  local pid = self:pid()
  return pid ~= nil and sh(("kill -%s %d 2>/dev/null"):format(sig or "TERM", pid))
end

-- Starts the server again after a kill (same port, dir, options);
-- waits until it answers PING (it may reply LOADING first).
function Server:restart(timeout)
  os.remove(self.dir .. "/redis.pid")
  if not sh(self.cmd .. " >/dev/null 2>&1") then return false end
  for _ = 1, (timeout or 10) * 20 do
    if answers_ping(self, true) and running_in(self.dir) then return true end
    sh("sleep 0.05")
  end
  return false
end

function Server:stop()
  local pid = self:pid()
  if pid then sh("kill -CONT " .. pid .. " 2>/dev/null") end
  sh(string.format("redis-cli %s shutdown nosave >/dev/null 2>&1", cli_base(self)))
  if pid then sh("kill -9 " .. pid .. " 2>/dev/null") end
  sh("rm -rf " .. self.dir)
end

local function server_args(opts, port, dir, tls)
  local extra = opts.args or ""
  if opts.fsync then extra = extra .. " --appendfsync " .. opts.fsync end
  if opts.maxmemory then
    extra = extra .. " --maxmemory " .. opts.maxmemory .. " --maxmemory-policy noeviction"
  end
  if opts.password then extra = extra .. " --requirepass " .. opts.password end
  local listen = "--port " .. port
  if tls then
    listen = ("--port 0 --tls-port %d --tls-cert-file %s --tls-key-file %s --tls-ca-cert-file %s "
      .. "--tls-auth-clients %s"):format(port, tls.cert, tls.key, tls.ca, opts.tls.auth_clients or "no")
  end
  return string.format(
    "redis-server %s --bind 127.0.0.1 --dir %s --daemonize yes --pidfile %s/redis.pid "
      .. "--logfile %s/redis.log --save '' --appendonly %s %s",
    listen, dir, dir, dir, opts.aof and "yes" or "no", extra)
end

function M.start(opts)
  opts = opts or {}
  for _ = 1, 10 do
    local port = opts.port or pick_port()
    local dir = os.tmpname()
    os.remove(dir)
    assert(sh("mkdir -p " .. dir))
    local tls = opts.tls and make_tls(dir, opts.tls)
    local cmd = server_args(opts, port, dir, tls)
    local srv = setmetatable({ port = port, dir = dir, cmd = cmd, password = opts.password, tls = tls },
      Server)
    local auth = opts.password and (":%s@"):format(opts.password) or ""
    srv.url = ("%s://%s127.0.0.1:%d"):format(tls and "rediss" or "redis", auth, port)
    if sh(cmd .. " >/dev/null 2>&1") then
      for _ = 1, 100 do
        if running_in(dir) and answers_ping(srv) then return srv end
        if sh(("grep -q 'aborting' %s/redis.log 2>/dev/null"):format(dir)) then break end -- port taken
        sh("sleep 0.05")
      end
      -- a server of ours that never answered must not outlive its directory
      if running_in(dir) then srv:kill("KILL") end
    end
    sh("rm -rf " .. dir)
    if opts.port then break end
  end
  error("could not start redis-server")
end

return M
