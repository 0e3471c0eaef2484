-- ff.partition: FlowFabric 0.1.1 partitioning (spec 00-model §1).
-- CRC-16/XMODEM over raw bytes, UUID text -> 16 bytes, id -> partition index,
-- execution-id parsing and hash-tag text. Pure functions, no I/O.
local bit = require "bit"
local band, bxor, lshift, rshift = bit.band, bit.bxor, bit.lshift, bit.rshift

local M = {}

-- CRC-16/XMODEM table: poly 0x1021, init 0, no reflection, no final xor.
local TABLE = {}
for i = 0, 255 do
  local crc = lshift(i, 8)
  for _ = 1, 8 do
    if band(crc, 0x8000) ~= 0 then
      crc = band(bxor(lshift(crc, 1), 0x1021), 0xFFFF)
    else
      crc = band(lshift(crc, 1), 0xFFFF)
    end
  end
  TABLE[i] = crc
end

-- crc16(bytes) -> 0..65535 ("123456789" -> 0x31C3).
function M.crc16(bytes)
  local crc = 0
  for i = 1, #bytes do
    local idx = bxor(rshift(crc, 8), bytes:byte(i))
    crc = band(bxor(lshift(crc, 8), TABLE[idx]), 0xFFFF)
  end
  return crc
end

-- uuid_bytes("550e8400-e29b-...") -> 16-byte string, or nil, err for a text
-- that is not 32 hex digits (hyphens ignored only in the canonical places).
function M.uuid_bytes(text)
  if type(text) ~= "string" then return nil, "uuid must be a string" end
  local hex = text
  if #text == 36 then
    if not text:match("^%x+%-%x+%-%x+%-%x+%-%x+$") then return nil, "bad uuid: " .. text end
    hex = text:gsub("%-", "")
  end
  if #hex ~= 32 or hex:find("[^%x]") then return nil, "bad uuid: " .. text end
  return (hex:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

-- is_uuid(text): uuid_bytes would accept text (without building the bytes:
-- the drains check every index member with it).
-- at (optional): the UUID is text's tail from position `at` (no substring
-- is made for it).
function M.is_uuid(text, at)
  if type(text) ~= "string" then return false end
  at = at or 1
  local len = #text - at + 1
  if len == 36 then return text:find("^%x+%-%x+%-%x+%-%x+%-%x+$", at) ~= nil end
  return len == 32 and not text:find("[^%x]", at)
end

local function check_count(n)
  if type(n) ~= "number" or n < 1 or n ~= math.floor(n) then
    error("partition count must be a positive integer, got " .. tostring(n), 3)
  end
end

-- Partition of a UUID-keyed object (flow, budget, quota): crc16(16 bytes) mod n.
local function uuid_partition(id, n)
  check_count(n)
  local bytes, err = M.uuid_bytes(id)
  if not bytes then return nil, err end
  return M.crc16(bytes) % n
end

function M.flow_partition(fid, n) return uuid_partition(fid, n) end
function M.budget_partition(bid, n) return uuid_partition(bid, n) end
function M.quota_partition(qid, n) return uuid_partition(qid, n) end

-- Default solo partitioner: crc16 of the lane id's bytes mod n.
function M.solo_partition(lane, n)
  check_count(n)
  return M.crc16(lane) % n
end

-- parse_execution_id("{fp:N}:<uuid>") -> N, or nil for an invalid id (§1.5):
-- "{fp:" prefix, partition text up to the first "}:", u16 decimal, UUID rest.
-- (One match: partition text that is not digits can never reach the first
-- "}:", so the pattern finds what the rule does. The drains check every
-- index member with it, so the UUID is checked in place, not captured.)
function M.parse_execution_id(eid)
  if type(eid) ~= "string" then return nil end
  local ptext, at = eid:match("^{fp:(%+?%d+)}:()")
  local n = ptext and tonumber(ptext)
  if not n or n > 65535 or not M.is_uuid(eid, at) then return nil end
  return n
end

local PREFIX = { flow = "fp", execution = "fp", budget = "b", quota = "q" }

-- tag("flow"|"execution"|"budget"|"quota", n) -> "{fp:n}" / "{b:n}" / "{q:n}".
function M.tag(family, n)
  local p = PREFIX[family]
  if not p then error("unknown partition family: " .. tostring(family), 2) end
  return string.format("{%s:%d}", p, n)
end

return M
