-- budget_reset: applies due periodic budget resets with ff_reset_budget
-- (spec 20 §A.5). Budget partitions {b:M}; every 15 s; 20 due budgets per
-- partition per cycle.
-- scanhost: replies are read (a rejection is a skip, an error an error: G1), and
-- due entries the function refuses (e.g. invalid_state) are walked past with a
-- cursor instead of being re-read at the head of every cycle. Several instances:
-- a partition is reset only by the instance that claimed it (ff.claim), and
-- scanhost's ff_reset_budget re-checks atomically that the reset is due
-- (not_due otherwise); FlowFabric's does not, so there the claim alone keeps a
-- budget from being reset twice: it is checked (and renewed) before each call.
local keys = require "ff.keys"
local scan_util = require "ff.scan" -- classify(): the reply rule shared with issue 3
local zwalk = require "ff.zwalk"
local claim = require "ff.claim"

local cursors = {} -- resets-index key -> offset, kept across cycles

-- One FCALL; returns kept (the entry is still due), processed, errors.
local function reset_one(ctx, bid, now)
  local T = ctx.tag
  local r, err = ctx.redis:fcall("ff_reset_budget",
    { keys.budget(T, bid), keys.budget_usage(T, bid), keys.budget_resets(T) },
    { bid, now })
  local status, detail = scan_util.classify(r, err)
  if status == "processed" then
    ctx.log:debug("budget reset", { budget_id = bid, next_reset_at = detail })
    return false, 1, 0
  end
  if status == "skip" then
    scan_util.log_skip(ctx, r, "budget reset refused", { budget_id = bid, code = detail })
    -- gone from the due range: deleted, or reset meanwhile by another caller
    return detail ~= "budget_not_found" and detail ~= "not_due", 0, 0
  end
  ctx.log:warn("budget reset failed", { budget_id = bid, error = detail })
  return true, 0, 1
end

local function scan(ctx)
  local now, err = ctx:now_ms()
  if not now then
    ctx.log:warn("TIME failed", { error = err })
    return 0, 1
  end
  local processed, errors = 0, 0
  local _, werr = zwalk.walk(ctx, {
    key = keys.budget_resets(ctx.tag), min = "-inf", max = now,
    page = ctx.config.batch, limit = ctx.config.batch, cursors = cursors,
  }, function(bid)
    -- FlowFabric's ff_reset_budget is not idempotent: call it only while the
    -- partition's claim is ours (renewed if the walk has run long)
    if not claim.hold(ctx) then return "stop" end
    local kept, p, e = reset_one(ctx, bid, now)
    processed, errors = processed + p, errors + e
    return kept
  end)
  if werr then
    ctx.log:warn("reading budget_resets failed", { error = werr })
    errors = errors + 1
  end
  return processed, errors
end

local function resets(_, tag) return { { index = keys.budget_resets(tag) } } end

return {
  name = "budget_reset",
  family = "budget",
  interval = 15,
  defaults = { batch = 20 },
  bounds = { batch = { integer = true, min = 1, max = 10000 } },
  -- no op: select_due only selects the partitions with a due reset
  select = scan_util.select_due(resets),
  observe = scan_util.observe_due(resets), -- while paused: the backlog metrics only
  scan = scan,
}
