-- 00-common.lua: helpers shared by every file of scanhost's server-side library.
-- The host concatenates lua-lib/functions/*.lua in file-name order after the
-- "#!lua name=scanhost" header, so the locals below are visible to later files.
-- Kept to a handful of top-level locals: they all live in one chunk (limit 200).
-- Values follow the FlowFabric 0.1.1 encoding: every timestamp is integer ms text.

-- The contract the library presents (spec 30 §1), what FCALL ff_version 0
-- answers and what the scanners pick their behaviour by:
--   "34"  FlowFabric v34: every function below, the 14-KEY ff_resolve_dependency
--         with edge groups, the cancel and sibling-cancel functions, the v34
--         completion PUBLISHes (the default);
--   "5"   FlowFabric 0.1.1: only the 0.1.1 maintenance functions, as before v34.
-- The C loader rewrites the next line from its config (library_level); it
-- must stay exactly one line of this shape, and appear nowhere else.
local FF_LIBRARY_LEVEL = "34"

local C = {}

-- Any other level refuses to load, with an error that names the fix (the
-- load-time environment has no error(): reading an undefined global raises).
C.V34 = FF_LIBRARY_LEVEL == "34"
if not C.V34 and FF_LIBRARY_LEVEL ~= "5" then
  C.V34 = FF_LIBRARY_LEVEL_must_be_5_or_34
end

redis.register_function("ff_version", function() return FF_LIBRARY_LEVEL end)

-- Server time in ms: seconds * 1000 + floor(microseconds / 1000).
function C.now_ms()
  local t = redis.call("TIME")
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- now_of(call) -> server time in ms. call: the state of one batch call
-- (30-batch.lua), a table made for that call and passed down to each of its
-- items, so one TIME serves the whole call; nil when an item runs as its own
-- FCALL (one TIME each). Nothing is kept between calls (a call may be killed
-- half-way).
function C.now_of(call)
  if not call then return C.now_ms() end
  if not call.now then call.now = C.now_ms() end
  return call.now
end

-- A value is "set" when present and not "" (0.1.1 rule; false = nil bulk).
function C.is_set(v)
  return v ~= nil and v ~= false and v ~= ""
end

-- HGETALL as a field -> value map ({} when the key is missing).
function C.hgetall_map(key)
  local flat = redis.call("HGETALL", key)
  local map = {}
  for i = 1, #flat, 2 do map[flat[i]] = flat[i + 1] end
  return map
end

-- HMGET of the fields an item needs, as a field -> value map (absent fields
-- left out, as hgetall_map would). Much cheaper than HGETALL of a whole core;
-- a key of another type raises the same WRONGTYPE.
function C.hmget_map(key, fields)
  local vals = redis.call("HMGET", key, unpack(fields))
  local map = {}
  for i = 1, #fields do
    if vals[i] then map[fields[i]] = vals[i] end
  end
  return map
end

-- Whether the hash that hmget_map read exists: one of its fields came back,
-- else EXISTS says (only a record without any of them costs the look).
function C.found(key, map)
  return next(map) ~= nil or redis.call("EXISTS", key) == 1
end

-- True when the map read by hgetall_map has at least one field.
function C.exists(map)
  return next(map) ~= nil
end

-- First "{...}" group of a key (e.g. "{fp:7}"), or nil.
function C.tag_of(key)
  return string.match(key, "{[^}]*}")
end

-- Number parse with 0.1.1 defaults but without the runtime fault: absent ->
-- default; "" or non-numeric -> nil so the caller can refuse before writing.
function C.num_field(map, field, default)
  local v = map[field]
  if v == nil then return default end
  return tonumber(v)
end

-- Number -> plain decimal text: integers never as "1.7e+12".
function C.ms_text(n)
  if n == math.floor(n) then return string.format("%d", n) end
  return string.format("%.17g", n)
end

-- Eligible-set score -(priority * 10^12) + created_at, or nil + the bad field.
function C.eligible_score(core)
  local prio = C.num_field(core, "priority", 0)
  if prio == nil then return nil, "priority" end
  local created = C.num_field(core, "created_at", 0)
  if created == nil then return nil, "created_at" end
  return 0 - prio * 1000000000000 + created
end

-- Reply builders: success {1, "OK", ...}, logical refusal {0, code, ...}.
function C.ok(...)
  return { 1, "OK", ... }
end

function C.err(code, ...)
  return { 0, code, ... }
end

-- Refusal used when a stored field cannot be parsed: nothing was written.
function C.invalid(field)
  return { 0, "invalid_state", field }
end

-- Core value or "" (stream fields / copies: absent -> "").
function C.field_or_empty(map, field)
  local v = map[field]
  if v == nil then return "" end
  return v
end

-- The first key of list ({{key, redis type}, ...}; unset keys skipped) that
-- exists with another type than the one the caller is about to write, or nil.
-- Checked before the first write: a wrong-type key is refused (C.invalid(key))
-- instead of raising WRONGTYPE half-way through the writes. seen (optional)
-- receives each key's type, so a later step of the same item need not ask
-- again (C.close_stream_meta).
function C.mistyped(list, seen)
  for i = 1, #list do
    local key, want = list[i][1], list[i][2]
    if C.is_set(key) then
      local t = redis.call("TYPE", key)
      if type(t) == "table" then t = t.ok end
      if seen then seen[key] = t end
      if t ~= "none" and t ~= want then return key end
    end
  end
  return nil
end

-- Whether key exists: from the type the item's check saw (C.mistyped's seen),
-- else asked.
function C.key_exists(key, seen)
  local t = seen and seen[key]
  if t then return t ~= "none" end
  return redis.call("EXISTS", key) == 1
end

-- v34 (spec 30 §2.6): PUBLISH the completion of a flow member (a core with a
-- flow_id) on ff:dag:completions. Key order in the JSON is cjson's, as in v34.
function C.publish_completion(core, eid, outcome)
  if not (C.is_set(core.flow_id) and C.is_set(eid)) then return end
  redis.call("PUBLISH", "ff:dag:completions",
    cjson.encode({ execution_id = eid, flow_id = core.flow_id, outcome = outcome }))
end

-- HSET from an ordered flat list {f1, v1, f2, v2, ...}.
function C.hset(key, flat)
  if #flat > 0 then redis.call("HSET", key, unpack(flat)) end
end

-- Close an existing stream-meta hash (missing key: no write).
function C.close_stream_meta(key, now, reason, only_if_open, seen)
  if not C.key_exists(key, seen) then return end
  if only_if_open and C.is_set(redis.call("HGET", key, "closed_at")) then return end
  redis.call("HSET", key, "closed_at", C.ms_text(now), "closed_reason", reason)
end

-- The refusal of the first key of list ({{key, redis type}, ...}) of another
-- type than the one about to be written, or nil (C.mistyped).
function C.refuse_mistyped(list, seen)
  local bad = C.mistyped(list, seen)
  if bad then return C.invalid(bad) end
  return nil
end

-- ff:idx:<tag>:lane:<lane>:<suffix>
function C.lane_key(tag, lane, suffix)
  return "ff:idx:" .. tag .. ":lane:" .. lane .. ":" .. suffix
end

-- Lane of a core record: lane_id, else current_lane, else "default". Unlike
-- 0.1.1 an empty value falls through, so no "lane::x" key is ever built.
function C.lane_of(core)
  if C.is_set(core.lane_id) then return core.lane_id end
  if C.is_set(core.current_lane) then return core.current_lane end
  return "default"
end

-- Execution id from a core key "ff:exec:<tag>:<eid>:core" (0.1.1 rule).
function C.eid_from_core_key(key)
  local open = string.find(key, "{", 1, true)
  if not open then return nil end
  local close = string.find(key, "}", open, true)
  if not close then return nil end
  local stop = string.find(key, ":core", close, true)
  if not stop then return nil end
  return string.sub(key, close + 2, stop - 1)
end

-- Per-item maintenance functions: C.register_item registers one under its
-- FlowFabric name and records it with its fixed KEYS count, so 30-batch.lua
-- can register a batch variant that runs the very same item function.
C.ITEM_FUNCTIONS = {}

function C.register_item(name, fn, nkeys)
  redis.register_function(name, fn)
  C.ITEM_FUNCTIONS[#C.ITEM_FUNCTIONS + 1] = { name = name, fn = fn, nkeys = nkeys }
end

-- Backward-compatible short aliases for later files (one local each).
local now_ms, is_set, hgetall_map, tag_of = C.now_ms, C.is_set, C.hgetall_map, C.tag_of
local eligible_score, ok, err = C.eligible_score, C.ok, C.err
