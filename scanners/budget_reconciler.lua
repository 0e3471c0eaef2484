-- budget_reconciler: keeps the `breached_at` marker of non-resetting budgets in
-- line with their hard limits and prunes index entries whose definition is gone
-- (spec 20 §A.6). Budget partitions {b:M}; every 30 s; SSCAN COUNT 100.
-- scanhost: the breach rule (usage >= hard limit) is ff.budget's, shared with the
-- unblock scanner (BR3); a read error is an error and never prunes or rewrites
-- anything (BR1).
local keys = require "ff.keys"
local scan_sel = require "ff.scan" -- select(): skip partitions with nothing to walk
local budget = require "ff.budget"
local sscan = require "ff.sscan"

-- Reads definition, usage and limits; returns def, usage, limits | nil, err.
local function read_budget(ctx, bid)
  local T = ctx.tag
  local res, nerr = ctx.redis:pipeline({
    { "HGETALL", keys.budget(T, bid) },
    { "HGETALL", keys.budget_usage(T, bid) },
    { "HGETALL", keys.budget_limits(T, bid) },
  })
  if nerr > 0 then
    for _, r in ipairs(res) do
      if type(r) == "table" and r.err then return nil, r.err end
    end
  end
  return budget.to_map(res[1]), budget.to_map(res[2]), budget.to_map(res[3])
end

-- Sets or clears the marker; returns "corrected" | "unchanged" | nil, err.
local function apply_marker(ctx, bid, breached, marked, now)
  local usage_key = keys.budget_usage(ctx.tag, bid)
  local r, err
  if breached and not marked then
    r, err = ctx.redis:call("HSET", usage_key, "breached_at", now)
  elseif marked and not breached then
    r, err = ctx.redis:call("HDEL", usage_key, "breached_at")
  else
    return "unchanged"
  end
  if r == nil then return nil, err end
  return "corrected"
end

-- reconcile(B) -> "corrected" | "skipped" | "unchanged" | nil, err
local function reconcile(ctx, bid, now)
  local def, usage, limits = read_budget(ctx, bid)
  if not def then return nil, usage end
  if next(def) == nil then
    -- definition really gone (not a read error): drop the index entry
    ctx.redis:call("SREM", keys.budget_policies(ctx.tag), bid)
    return "skipped"
  end
  local interval = budget.reset_interval(def)
  if interval == nil or interval > 0 then return "skipped" end -- resetting (or unreadable) budget
  if next(limits) == nil then return "skipped" end
  local dim = budget.breached_dimension(limits, usage)
  return apply_marker(ctx, bid, dim ~= nil, usage.breached_at ~= nil, now)
end

local function scan(ctx)
  local now, err = ctx:now_ms()
  if not now then
    ctx.log:warn("TIME failed", { error = err })
    return 0, 1
  end
  local processed, errors = 0, 0
  local ok, serr = sscan.each(ctx, keys.budget_policies(ctx.tag), ctx.config.batch, function(ids)
    for _, bid in ipairs(ids) do
      local res, rerr = reconcile(ctx, bid, now)
      if res == "corrected" then
        processed = processed + 1
      elseif res == nil then
        errors = errors + 1
        ctx.log:warn("budget reconcile failed", { budget_id = bid, error = rerr })
      end
    end
  end)
  if not ok then
    errors = errors + 1
    ctx.log:warn("SSCAN budget_policies failed", { error = serr })
  end
  return processed, errors
end

return {
  name = "budget_reconciler",
  family = "budget",
  interval = 30,
  defaults = { batch = 100 },
  bounds = { batch = { integer = true, min = 1, max = 10000 } },
  select = scan_sel.select_nonempty(function(_, tag) return { keys.budget_policies(tag) } end),
  scan = scan,
}
