-- Starts a private Redis Cluster for a spec file: N primaries + N*R replicas
-- on consecutive free ports of 127.0.0.1 (cluster-bus ports at +10000), each
-- node in its own scratch directory, created with `redis-cli --cluster create`;
-- start() returns once every node says cluster_state:ok. Stopped (by pid) by
-- :stop(). See /work/shared/recipes/redis-cluster.md.
--
-- opts: primaries (3), replicas (1 per primary), spare (extra nodes started
-- with cluster mode but not joined, for "a new primary" tests), args (extra
-- redis-server arguments), tls (true: TLS only, --tls-cluster and
-- --tls-replication, certificates made with the standalone helper's CA
-- functions; cl.tls = { ca, cert, key, client_cert, client_key }).
--
-- cl.nodes: every node { port, dir, url, cli(args), kill(sig), pid(), stop(),
-- restart() }; cl.url: the first node's URL; cl.spare: the spare nodes.
-- M.slot(key): the key's cluster slot (CRC16/XMODEM of its hash tag).
local bit = require "bit"
local RS = require "spec.helpers.redis_server"

local M = {}

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == 0 or ok == true
end

local function read_cmd(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("*a")
  p:close()
  return out
end

local function sleep(s) sh("sleep " .. s) end

-- ---- slots ----------------------------------------------------------------

local function crc16(s)
  local crc = 0
  for i = 1, #s do
    crc = bit.bxor(crc, bit.lshift(s:byte(i), 8))
    for _ = 1, 8 do
      if bit.band(crc, 0x8000) ~= 0 then
        crc = bit.band(bit.bxor(bit.lshift(crc, 1), 0x1021), 0xffff)
      else
        crc = bit.band(bit.lshift(crc, 1), 0xffff)
      end
    end
  end
  return crc
end

function M.slot(key)
  local open = key:find("{", 1, true)
  if open then
    local close = key:find("}", open + 1, true)
    if close and close > open + 1 then key = key:sub(open + 1, close - 1) end
  end
  return crc16(key) % 16384
end

-- ---- nodes ------------------------------------------------------------------

local Node = {}
Node.__index = Node

function Node:cli_args()
  local parts = { "-p " .. self.port }
  if self.tls then
    parts[#parts + 1] = ("--tls --cacert %s --cert %s --key %s"):format(self.tls.ca,
      self.tls.client_cert, self.tls.client_key)
  end
  return table.concat(parts, " ")
end

function Node:cli(args)
  return read_cmd(("redis-cli %s %s"):format(self:cli_args(), args))
end

function Node:pid()
  local f = io.open(self.dir .. "/redis.pid")
  if not f then return nil end
  local pid = f:read("*n")
  f:close()
  return pid
end

function Node:kill(sig)
  local pid = self:pid()
  return pid ~= nil and sh(("kill -%s %d 2>/dev/null"):format(sig or "TERM", pid))
end

function Node:alive()
  local pid = self:pid()
  return pid ~= nil and sh(("kill -0 %d 2>/dev/null"):format(pid))
end

-- start() -> true, or false and the tail of the node's log (why it did not
-- come up: a port taken meanwhile, a slow machine).
function Node:start()
  os.remove(self.dir .. "/redis.pid")
  if not sh(self.cmd .. " >/dev/null 2>&1") then return false, "redis-server refused to start" end
  for _ = 1, 600 do -- 30 s: a loaded machine may be slow to load a node
    if self:alive() and self:cli("PING"):find("PONG", 1, true) then return true end
    if sh(("grep -q 'aborting' %s/redis.log 2>/dev/null"):format(self.dir)) then break end -- a port taken
    sleep(0.05)
  end
  local f = io.popen(("tail -5 %s/redis.log 2>&1"):format(self.dir))
  local tail = f:read("*a")
  f:close()
  return false, tail
end
Node.restart = Node.start

function Node:stop()
  local pid = self:pid()
  if pid then
    sh("kill -CONT " .. pid .. " 2>/dev/null")
    sh("kill -9 " .. pid .. " 2>/dev/null")
  end
end

function Node:id()
  return (self:cli("CLUSTER MYID"):gsub("%s+$", ""))
end

local function node_cmd(port, dir, opts)
  local listen = "--port " .. port
  if opts.tls then
    local t = opts.tls
    listen = ("--port 0 --tls-port %d --tls-cluster yes --tls-replication yes --tls-cert-file %s "
      .. "--tls-key-file %s --tls-ca-cert-file %s --tls-auth-clients no"):format(port, t.cert, t.key, t.ca)
  end
  return ("redis-server %s --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file nodes.conf "
    .. "--cluster-node-timeout 1000 --save '' --appendonly no --dir %s --daemonize yes "
    .. "--pidfile %s/redis.pid --logfile %s/redis.log %s"):format(listen, dir, dir, dir, opts.args or "")
end

local function pick_base(n)
  local f = assert(io.open("/dev/urandom", "rb"))
  local b = f:read(2)
  f:close()
  -- client ports 3000..9999 (+n), bus ports 10000 above (13000..19999): both
  -- below the kernel's ephemeral range (32768..60999), where any outgoing
  -- connection may take a port before a spare node binds it, and apart from
  -- the standalone servers' 20000..29999 (spec/helpers/redis_server.lua)
  return 3000 + (b:byte(1) * 256 + b:byte(2)) % (7000 - n)
end

local function make_tls(dir)
  local ca = RS.make_ca(dir, "ca")
  local t = { ca = ca.cert }
  t.cert, t.key = RS.issue(dir, ca, "server", "localhost", "DNS:localhost,IP:127.0.0.1")
  t.client_cert, t.client_key = RS.issue(dir, ca, "client", "client")
  return t
end

local Cluster = {}
Cluster.__index = Cluster

local function new_node(cl, port)
  local dir = ("%s/%d"):format(cl.dir, port)
  assert(sh("mkdir -p " .. dir))
  local node = setmetatable({ port = port, dir = dir, tls = cl.tls,
    cmd = node_cmd(port, dir, { tls = cl.tls, args = cl.args }) }, Node)
  node.url = ("%s://127.0.0.1:%d"):format(cl.tls and "rediss" or "redis", port)
  return node
end

-- The nodes' states as CLUSTER NODES says: list of { id, port, primary, fail, slots = {{a, b}} }.
function Cluster:topology(via)
  local out = {}
  if not via then
    for _, n in ipairs(self.nodes) do if n:alive() then via = n break end end
  end
  for line in via:cli("CLUSTER NODES"):gmatch("[^\n]+") do
    local f = {}
    for w in line:gmatch("%S+") do f[#f + 1] = w end
    if #f >= 8 then
      local e = { id = f[1], port = tonumber(f[2]:match(":(%d+)@")), primary = f[3]:find("master") ~= nil,
        fail = f[3]:find("fail") ~= nil, slots = {} }
      for i = 9, #f do
        local a, b = f[i]:match("^(%d+)%-(%d+)$")
        if a then e.slots[#e.slots + 1] = { tonumber(a), tonumber(b) }
        elseif f[i]:match("^%d+$") then e.slots[#e.slots + 1] = { tonumber(f[i]), tonumber(f[i]) } end
      end
      out[#out + 1] = e
    end
  end
  return out
end

function Cluster:node_by_port(port)
  for _, n in ipairs(self.all) do if n.port == port then return n end end
end

-- The primary node serving slot (as the first reachable node sees it).
function Cluster:owner(slot, via)
  for _, e in ipairs(self:topology(via)) do
    if e.primary and not e.fail then
      for _, r in ipairs(e.slots) do
        if slot >= r[1] and slot <= r[2] then return self:node_by_port(e.port) end
      end
    end
  end
end

function Cluster:primaries(via)
  local out = {}
  for _, e in ipairs(self:topology(via)) do
    if e.primary and not e.fail and #e.slots > 0 then out[#out + 1] = self:node_by_port(e.port) end
  end
  return out
end

-- A replica of primary node (a node whose master is its id).
function Cluster:replica_of(node)
  local id = node:id()
  for line in node:cli("CLUSTER REPLICAS " .. id):gmatch("[^\n]+") do
    local port = tonumber(line:match(":(%d+)@"))
    if port and not line:find("fail", 1, true) then return self:node_by_port(port) end
  end
end

-- True once every live node says cluster_state:ok and agrees on the primaries.
function Cluster:wait_ok(timeout)
  for _ = 1, (timeout or 20) * 20 do
    local ok = true
    for _, n in ipairs(self.nodes) do
      if n:alive() and not n:cli("CLUSTER INFO"):find("cluster_state:ok", 1, true) then ok = false end
    end
    if ok then return true end
    sleep(0.05)
  end
  return false
end

-- Every live replica has finished its initial sync.
function Cluster:wait_synced(timeout)
  for _ = 1, (timeout or 20) * 20 do
    local ok = true
    for _, n in ipairs(self.nodes) do
      local info = n:alive() and n:cli("INFO replication") or ""
      if info:find("role:slave", 1, true) and not info:find("master_link_status:up", 1, true) then ok = false end
    end
    if ok then return true end
    sleep(0.05)
  end
  return false
end

function Cluster:stop()
  for _, n in ipairs(self.all) do n:stop() end
  sh("rm -rf " .. self.dir)
end

-- cli(node, args) for the node owning key's slot.
function Cluster:cli_key(key, args)
  return self:owner(M.slot(key)):cli(args)
end

-- A recorder for ff.fixtures that keeps each command's slot (its first key:
-- argument 2, or the first KEYS entry of EVAL/FCALL).
function M.recorder()
  local rec = { by_slot = {}, n = 0 }
  function rec:call(...)
    local args = { ... }
    local cmd = tostring(args[1]):upper()
    local key = args[2]
    if cmd == "EVAL" or cmd == "FCALL" or cmd == "EVALSHA" then key = args[4] end
    local parts = { "*" .. #args .. "\r\n" }
    for i = 1, #args do
      local s = tostring(args[i])
      parts[#parts + 1] = "$" .. #s .. "\r\n" .. s .. "\r\n"
    end
    local slot = M.slot(tostring(key))
    local list = self.by_slot[slot] or {}
    self.by_slot[slot] = list
    list[#list + 1] = table.concat(parts)
    self.n = self.n + 1
    return 1
  end
  return rec
end

-- pipe(rec): each node gets its slots' commands through redis-cli --pipe.
function Cluster:pipe(rec)
  local files, counts = {}, {}
  for slot, cmds in pairs(rec.by_slot) do
    local node = assert(self:owner(slot), "no owner for slot " .. slot)
    files[node] = files[node] or {}
    local t = files[node]
    for _, c in ipairs(cmds) do t[#t + 1] = c end
    counts[node] = (counts[node] or 0) + #cmds
  end
  local total = 0
  for node, cmds in pairs(files) do
    local path = node.dir .. "/seed.resp"
    local f = assert(io.open(path, "wb"))
    f:write(table.concat(cmds))
    f:close()
    local out = read_cmd(("redis-cli %s --pipe < %s"):format(node:cli_args(), path))
    os.remove(path)
    local errors, replies = out:match("errors: (%d+), replies: (%d+)")
    assert(errors == "0" and tonumber(replies) == counts[node], "seeding failed: " .. out)
    total = total + counts[node]
  end
  return total
end

-- eval_each(script, argv_of(node) -> list or nil): EVAL with no keys on every
-- primary; returns the raw outputs, one per primary.
function Cluster:eval_each(script, argv_of)
  local outs = {}
  for _, node in ipairs(self:primaries()) do
    local argv = argv_of(node)
    if argv then
      local path = node.dir .. "/eval.lua"
      local f = assert(io.open(path, "w"))
      f:write(script)
      f:close()
      local args = {}
      for i, v in ipairs(argv) do args[i] = tostring(v) end
      outs[#outs + 1] = read_cmd(("redis-cli %s --eval %s , %s"):format(node:cli_args(), path,
        table.concat(args, " ")))
    end
  end
  return outs
end

-- Loads a function library (text) on every primary.
function Cluster:function_load(text, replace)
  for _, node in ipairs(self:primaries()) do
    local path = node.dir .. "/library.lua"
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
    local out = node:cli("-x FUNCTION LOAD " .. (replace and "REPLACE " or "") .. "< " .. path)
    assert(not out:find("ERR", 1, true), out)
  end
end

function Cluster:cluster_cli_args()
  return self.nodes[1]:cli_args()
end

-- Starts a spare node as a new empty primary: CLUSTER MEET, wait until every
-- node knows it, then give it `count` slots from each primary with
-- `redis-cli --cluster reshard`. Returns the node.
function Cluster:add_primary(node, count)
  local started, why = node:start()
  assert(started, "spare node did not start: " .. tostring(why))
  self.nodes[#self.nodes + 1] = node
  self.nodes[1]:cli(("CLUSTER MEET 127.0.0.1 %d"):format(node.port))
  local id = node:id()
  for _ = 1, 200 do
    local known = 0
    for _, n in ipairs(self.nodes) do
      if n:cli("CLUSTER NODES"):find(id, 1, true) then known = known + 1 end
    end
    if known == #self.nodes and node:cli("CLUSTER INFO"):find("cluster_state:ok", 1, true) then break end
    sleep(0.05)
  end
  local out = read_cmd(("redis-cli %s --cluster reshard 127.0.0.1:%d --cluster-from all --cluster-to %s "
    .. "--cluster-slots %d --cluster-yes"):format(self.nodes[1]:cli_args():gsub("^%-p %d+", ""),
      self.nodes[1].port, id, count))
  assert(out:find("Moving slot", 1, true), "reshard failed: " .. out)
  return node
end

function M.start(opts)
  opts = opts or {}
  local np, nr = opts.primaries or 3, opts.replicas or 1
  local count = np * (1 + nr)
  local spare = opts.spare or 0
  for _ = 1, 5 do
    local dir = os.tmpname()
    os.remove(dir)
    assert(sh("mkdir -p " .. dir))
    local cl = setmetatable({ dir = dir, nodes = {}, spare = {}, all = {}, args = opts.args }, Cluster)
    if opts.tls then cl.tls = make_tls(dir) end
    local base = pick_base(count + spare)
    local ok = true
    for i = 0, count + spare - 1 do
      local node = new_node(cl, base + i)
      cl.all[#cl.all + 1] = node
      if i < count then
        cl.nodes[#cl.nodes + 1] = node
        if not node:start() then ok = false break end
      else
        cl.spare[#cl.spare + 1] = node
      end
    end
    if ok then
      local addrs = {}
      for _, n in ipairs(cl.nodes) do addrs[#addrs + 1] = "127.0.0.1:" .. n.port end
      local tls_args = cl.nodes[1]:cli_args():gsub("^%-p %d+", "")
      local out = read_cmd(("redis-cli %s --cluster create %s --cluster-replicas %d --cluster-yes")
        :format(tls_args, table.concat(addrs, " "), nr))
      ok = out:find("All 16384 slots covered", 1, true) ~= nil and cl:wait_ok(20)
    end
    if ok then
      cl.url = cl.nodes[1].url
      return cl
    end
    cl:stop()
  end
  error("could not start a redis cluster")
end

return M
