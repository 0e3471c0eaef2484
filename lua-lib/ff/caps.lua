-- ff.caps: unblock's worker-capability union at library version 34 (spec 30
-- §5.B): the workers of the execution's own namespace, ff:idx:<ns>:workers
-- (SSCAN COUNT 100), each one's caps_csv from the HASH
-- ff:worker:<ns>:<wiid>:caps (HGETs 16 at a time, a page's before the next
-- SSCAN). One snapshot per namespace, reloaded when older than the scanner's
-- interval; a worker in namespace a never clears an execution in namespace b.
-- The legacy keys ff:idx:workers / ff:worker:<wiid>:caps are not read.
-- scanhost, as for 0.1.1 (U4): a failed load (an error reply, e.g. WRONGTYPE
-- for a legacy STRING left under the namespaced name) keeps the execution
-- blocked and counts an error, reported once per partition scan and tried
-- again by the next; v34 unblocks it (fail-open). An execution without a
-- namespace cannot be routed: kept blocked, an error (v34 counts every member
-- without a namespace as an error, whatever its set: U-N1).
local sscan = require "ff.sscan"
local V = require "ff.v34"

local M = {}

local snapshots = {} -- namespace -> { union = set, at = ms }, kept across cycles

-- add_caps(ctx, union, ns, workers) -> true | nil, err
local function add_caps(ctx, union, ns, workers)
  for i = 1, #workers, 16 do
    local cmds = {}
    for j = i, math.min(i + 15, #workers) do
      cmds[#cmds + 1] = { "HGET", V.worker_caps(ns, workers[j]), "caps_csv" }
    end
    for _, v in ipairs((ctx.redis:pipeline(cmds))) do
      if type(v) == "table" then return nil, tostring(v.err) end
      if v then for tok in v:gmatch("[^,]+") do union[tok] = true end end
    end
  end
  return true
end

local function load(ctx, ns)
  local union, failure = {}, nil
  local ok, err = sscan.each(ctx, V.workers(ns), 100, function(workers)
    local fine, e = add_caps(ctx, union, ns, workers)
    if not fine then failure = e; return false end
  end)
  if not ok or failure then return nil, err or failure end
  return union
end

-- union(ctx, st, ns) -> set of the capability tokens of namespace ns's
-- workers | nil, err (st: the partition scan's state; a failed load is not
-- retried within it).
function M.union(ctx, st, ns)
  if not ns or ns == "" then return nil, "execution has no namespace" end
  st.caps_failed_ns = st.caps_failed_ns or {}
  if st.caps_failed_ns[ns] then return nil, "worker caps of namespace " .. ns .. " unavailable" end
  local now, err = ctx:now_ms()
  if not now then return nil, err end
  local snap = snapshots[ns]
  if snap and now - snap.at < ctx.config.interval * 1000 then return snap.union end
  local union, lerr = load(ctx, ns)
  if not union then
    st.caps_failed_ns[ns] = true
    return nil, lerr
  end
  snapshots[ns] = { union = union, at = now }
  return union
end

return M
