-- 30-batch.lua: batch variants of the per-item maintenance functions (issue 5).
-- Every function recorded by C.register_item gets a "<name>_batch" twin:
--
--   FCALL <name>_batch n*k  K(1)..K(n)  n  A(1)..A(n)
--
-- where K(i) are item i's KEYS exactly as for FCALL <name> (k of them, the
-- function's fixed count) and A(i) its ARGV (the same number m for every item,
-- m = (#ARGV - 1) / n). The reply is an array of n per-item replies, in order,
-- each exactly what FCALL <name> would have returned for that item; an item
-- that raises becomes an error reply at its position and the items after it
-- still run. One call saves the per-call cost (parsing, dispatch, the reply
-- round trip) that dominates a cheap maintenance function. Every key carries
-- the partition's hash tag, so a batch stays in one cluster slot.

local B = {}

-- fill(dst, src, first, count): dst[1 .. count] = src[first .. first + count - 1].
-- A batch call reuses one KEYS and one ARGV table for all its items (no item
-- function keeps them past its own run).
function B.fill(dst, src, first, count)
  for i = 1, count do dst[i] = src[first + i - 1] end
  return dst
end

-- Error text of a raise: a redis.call error keeps its code ("WRONGTYPE ...";
-- Redis 7.0 raises it as a string, 7.2+ as a table), a Lua runtime error gets
-- "ERR " as a top-level script error would.
function B.error_text(res)
  if type(res) == "table" and res.err then res = res.err end
  local msg = tostring(res)
  if string.find(msg, "^%u[%u_]* ") then return msg end
  return "ERR " .. msg
end

-- One item under pcall: a raise becomes this item's error reply instead of
-- aborting the whole batch; writes it made before raising stay, exactly as
-- with its own FCALL. nil becomes false so the reply array keeps every position.
function B.run_item(fn, keys, args, clock)
  local ok, res = pcall(fn, keys, args, clock)
  if ok then
    if res == nil then return false end
    return res
  end
  return { err = B.error_text(res) }
end

-- Shape check; returns n, m (items, ARGV per item) or nil, message.
function B.shape(keys, args, nkeys)
  local n = tonumber(args[1])
  if n == nil or n < 1 or n ~= math.floor(n) then return nil, "item count must be a positive integer" end
  if #keys ~= n * nkeys then
    return nil, string.format("expected %d keys (%d per item), got %d", n * nkeys, nkeys, #keys)
  end
  if (#args - 1) % n ~= 0 then return nil, "ARGV is not a multiple of the item count" end
  return n, (#args - 1) / n
end

-- new_clock() -> the clock of one batch call: server time read by one TIME,
-- the first time an item asks, and kept for the rest of this call only
-- (a local of the call, never module state: a killed call leaves nothing).
function B.new_clock()
  local now
  return function()
    if not now then now = C.now_ms() end
    return now
  end
end

-- batch(fn, nkeys) -> the batch variant of the item function fn.
function B.batch(fn, nkeys)
  return function(keys, args)
    local n, m = B.shape(keys, args, nkeys)
    if not n then return redis.error_reply("ERR batch: " .. m) end
    local out, clock, item_keys, item_args = {}, B.new_clock(), {}, {}
    for i = 1, n do
      out[i] = B.run_item(fn, B.fill(item_keys, keys, (i - 1) * nkeys + 1, nkeys),
        B.fill(item_args, args, 2 + (i - 1) * m, m), clock)
    end
    return out
  end
end

-- (a numeric loop: the load-time environment has no ipairs)
for i = 1, #C.ITEM_FUNCTIONS do
  local f = C.ITEM_FUNCTIONS[i]
  redis.register_function(f.name .. "_batch", B.batch(f.fn, f.nkeys))
end
