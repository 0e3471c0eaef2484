-- quota_reconciler: trims expired entries of each quota policy's request window
-- and recomputes the concurrency counter from live admission guards (spec 20 §A.7).
-- Quota partitions {q:K}; every 30 s.
-- scanhost: policies are walked with SSCAN, never an unbounded SMEMBERS (QR1); a
-- failed guard check is an error that removes nothing and leaves the counter
-- alone, since the live count is then unknown (QR2); each policy's
-- read-check-write is one script (issue 14).
local keys = require "ff.keys"
local budget = require "ff.budget" -- the server-side rule text (rule.int)

-- One policy, atomically on the server (issue 14): between a client-side count
-- of live guards and the counter write, an admission or a release (or another
-- instance) changed the counter, and the write lost it. The script trims the
-- window, counts the live guards of the whole admitted set (pruning expired
-- members) and fixes the counter in one step; its server time grows with the
-- admitted set, which this scanner keeps pruned to the admissions of about one
-- window. All reads come first: a key of the wrong type raises before anything
-- is written.
-- KEYS: definition, window, admitted_set, concurrency
-- ARGV: now_ms, guard key prefix (ff:quota:{q:K}:Q:admitted:)
-- Reply: { trimmed, changed (0/1), stored counter or "", live }
local RECONCILE = budget.script_prelude() .. [[
local function positive(v)
  local n = rule.int(v or '')
  if n and n > 0 then return n end
  return nil
end
local def = redis.call('HMGET', KEYS[1], 'requests_per_window_seconds', 'active_concurrency_cap')
local secs, cap = positive(def[1]), positive(def[2])
local members, stored = {}, false
if cap then
  members = redis.call('SMEMBERS', KEYS[3])
  stored = redis.call('GET', KEYS[4])
end
local trimmed = 0
if secs then
  trimmed = redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', math.max(0, tonumber(ARGV[1]) - secs * 1000))
end
if not cap then return { trimmed, 0, '', 0 } end
local live, stale = 0, {}
for _, m in ipairs(members) do
  if redis.call('EXISTS', ARGV[2] .. m) == 1 then live = live + 1 else stale[#stale + 1] = m end
end
for i = 1, #stale, 1000 do
  redis.call('SREM', KEYS[3], unpack(stale, i, math.min(i + 999, #stale)))
end
if (rule.int(stored or '') or 0) == live then return { trimmed, 0, stored or '', live } end
redis.call('SET', KEYS[4], live)
return { trimmed, 1, stored or '', live }]]

-- reconcile(ctx, st, Q) -> did_work | nil, err
local function reconcile(ctx, st, qid)
  local T = ctx.tag
  local r, err = ctx.redis:call("EVAL", RECONCILE, 4, keys.quota(T, qid), keys.quota_window(T, qid),
    keys.quota_admitted_set(T, qid), keys.quota_concurrency(T, qid), st.now,
    keys.quota_admitted(T, qid, ""))
  if type(r) ~= "table" then return nil, err or "unexpected reply" end
  if r[2] == 1 then
    ctx.log:info("quota concurrency corrected", { quota_policy_id = qid, from = r[3], to = r[4] })
  end
  return r[1] > 0 or r[2] == 1
end

return require("ff.walker").scanner {
  name = "quota_reconciler",
  family = "quota",
  interval = 30,
  sets = function(_, tag) return { keys.quota_policies(tag) } end,
  each = reconcile,
  failed = "quota reconcile failed",
  field = "quota_policy_id",
}
