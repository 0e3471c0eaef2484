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
function B.run_item(fn, keys, args, call)
  local ok, res = pcall(fn, keys, args, call)
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

-- batch(fn, nkeys) -> the batch variant of the item function fn.
function B.batch(fn, nkeys)
  return function(keys, args)
    local n, m = B.shape(keys, args, nkeys)
    if not n then return redis.error_reply("ERR batch: " .. m) end
    -- call: this call's state, handed to every item (C.now_of: one TIME for
    -- the call); a local, so a killed call leaves nothing behind
    local out, call, item_keys, item_args = {}, {}, {}, {}
    for i = 1, n do
      out[i] = B.run_item(fn, B.fill(item_keys, keys, (i - 1) * nkeys + 1, nkeys),
        B.fill(item_args, args, 2 + (i - 1) * m, m), call)
    end
    return out
  end
end

-- (a numeric loop: the load-time environment has no ipairs)
for i = 1, #C.ITEM_FUNCTIONS do
  local f = C.ITEM_FUNCTIONS[i]
  redis.register_function(f.name .. "_batch", B.batch(f.fn, f.nkeys))
end
