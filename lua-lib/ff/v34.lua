-- ff.v34: what FlowFabric's library version 34 adds to the key schema and ids
-- (spec 30 §0, §2): canonical UUID text, the cancel-backlog and sibling-cancel
-- keys, the "<flow_id>|<downstream_eid>" tuples, and the version test the
-- dual-version scanners use. Pure functions, no I/O.
local K = require "ff.keys"
local P = require "ff.partition"

local M = {}

-- is34(ctx): the loaded library follows the v34 contract (spec 30 §1.3).
function M.is34(ctx)
  return ctx.library_version == "34"
end

-- canonical(text) -> the UUID's canonical text (lowercase, hyphenated, 36
-- characters: spec 30 §0 F'), or nil when text is not a UUID.
function M.canonical(text)
  local bytes = P.uuid_bytes(text)
  if not bytes then return nil end
  local hex = bytes:gsub(".", function(c) return string.format("%02x", c:byte()) end)
  return ("%s-%s-%s-%s-%s"):format(hex:sub(1, 8), hex:sub(9, 12), hex:sub(13, 16),
    hex:sub(17, 20), hex:sub(21, 32))
end

-- exec_tag(eid) -> "{fp:M}", the execution id's own tag, or nil when eid is
-- not an execution id (00 §1.5).
function M.exec_tag(eid)
  local n = P.parse_execution_id(eid)
  return n and P.tag("execution", n) or nil
end

-- u32(text) -> the text as an unsigned 32-bit integer, else 0 (spec 30 §6.A.9,
-- §7.B: nil, "" or unparsable attempt indexes read as 0).
function M.u32(text)
  if type(text) ~= "string" or not text:match("^%d+$") or #text > 10 then return 0 end
  local n = tonumber(text)
  return n <= 4294967295 and n or 0
end

-- Keys (spec 30 §2.1).
function M.cancel_backlog(tag) return K.idx(tag, "cancel_backlog") end
function M.pending_cancel_groups(tag) return K.idx(tag, "pending_cancel_groups") end
function M.pending_cancels(tag, fid) return K.flow(tag, fid, "pending_cancels") end
function M.edgegroup(tag, fid, deid) return K.flow(tag, fid, "edgegroup:" .. deid) end
function M.workers(ns) return "ff:idx:" .. ns .. ":workers" end
function M.worker_caps(ns, wiid) return "ff:worker:" .. ns .. ":" .. wiid .. ":caps" end

-- group(member) -> F', ds | nil, why: a pending_cancel_groups member split at
-- its first "|" (spec 30 §8.A steps 1-2): the flow part must be a UUID (F' is
-- its canonical text) and the rest an execution id.
function M.group(member)
  local bar = member:find("|", 1, true)
  if not bar or bar == 1 or bar == #member then return nil, "no flow_id|downstream_eid" end
  local fid = M.canonical(member:sub(1, bar - 1))
  if not fid then return nil, "flow id is not a UUID" end
  local ds = member:sub(bar + 1)
  if not P.parse_execution_id(ds) then return nil, "downstream is not an execution id" end
  return fid, ds
end

return M
