-- budget_reconciler: keeps the `breached_at` marker of non-resetting budgets in
-- line with their hard limits and prunes index entries whose definition is gone
-- (spec 20 §A.6). Budget partitions {b:M}; every 30 s; SSCAN COUNT 100.
-- scanhost: the breach rule (usage >= hard limit) is ff.budget's, shared with the
-- unblock scanner (BR3); a read error is an error and never prunes or rewrites
-- anything (BR1); each budget's read-check-write is one script (issue 14).
local keys = require "ff.keys"
local budget = require "ff.budget"

-- One budget, atomically on the server (issue 14: two instances, or a usage
-- report, between a client-side read and write could leave a stale marker):
-- the definition, limits and usage are read and the marker set or cleared in
-- one script, with ff.budget's rule. All reads come first: a key of the wrong
-- type raises before anything is written.
-- KEYS: definition, usage, limits, budget_policies   ARGV: budget id, now_ms
local RECONCILE = budget.script_prelude() .. [[
local def = rule.to_map(redis.call('HGETALL', KEYS[1]))
if next(def) == nil then
  redis.call('SREM', KEYS[4], ARGV[1]) -- definition really gone: drop the index entry
  return 'pruned'
end
local interval = rule.reset_interval(def)
if interval == nil or interval > 0 then return 'skipped' end -- resetting (or unreadable)
local limits = rule.to_map(redis.call('HGETALL', KEYS[3]))
local usage = rule.to_map(redis.call('HGETALL', KEYS[2]))
if next(limits) == nil then return 'skipped' end
local breached = rule.breached_dimension(limits, usage) ~= nil
local marked = usage.breached_at ~= nil
if breached and not marked then
  redis.call('HSET', KEYS[2], 'breached_at', ARGV[2])
  return 'corrected'
elseif marked and not breached then
  redis.call('HDEL', KEYS[2], 'breached_at')
  return 'corrected'
end
return 'unchanged']]

-- reconcile_page(ctx, st, ids) -> processed, errors: one EVAL per budget, all
-- of the page in one round trip.
local function reconcile_page(ctx, st, ids)
  local T = ctx.tag
  local cmds = {}
  for i, bid in ipairs(ids) do
    cmds[i] = { "EVAL", RECONCILE, 4, keys.budget(T, bid), keys.budget_usage(T, bid),
      keys.budget_limits(T, bid), keys.budget_policies(T), bid, st.now }
  end
  local res = ctx.redis:pipeline(cmds)
  local processed, errors = 0, 0
  for i, bid in ipairs(ids) do
    local r = res[i]
    if r == "corrected" then
      processed = processed + 1
    elseif type(r) ~= "string" then
      errors = errors + 1
      ctx.log:warn("budget reconcile failed", { budget_id = bid, error = tostring(r and r.err) })
    end
  end
  return processed, errors
end

return require("ff.walker").scanner {
  name = "budget_reconciler",
  family = "budget",
  interval = 30,
  sets = function(_, tag) return { keys.budget_policies(tag) } end,
  page = reconcile_page,
}
