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
local reply = require "ff.reply"
local selection = require "ff.selection"
local claim = require "ff.claim"

-- One FCALL; returns kept (the entry is still due), processed, errors.
local function reset_one(ctx, bid, now)
  local T = ctx.tag
  local r, err = ctx.redis:fcall("ff_reset_budget",
    { keys.budget(T, bid), keys.budget_usage(T, bid), keys.budget_resets(T) },
    { bid, now })
  local status, detail = reply.outcome(ctx, r, err, "budget reset", { budget_id = bid })
  if status == "processed" then
    ctx.log:debug("budget reset", { budget_id = bid, next_reset_at = detail })
    return false, 1, 0
  end
  -- a skip for a budget gone from the due range (deleted, or reset meanwhile
  -- by another caller) leaves it; any other refusal or failure keeps it
  if status == "skip" then return detail ~= "budget_not_found" and detail ~= "not_due", 0, 0 end
  return true, 0, 1
end

-- visit(ctx, st, bid) -> kept, processed, errors. FlowFabric's ff_reset_budget
-- is not idempotent: it is called only while the partition's claim is ours
-- (renewed if the walk has run long).
local function visit(ctx, st, bid)
  if not claim.hold(ctx) then return "stop" end
  return reset_one(ctx, bid, st.now)
end

local function resets(_, tag) return { { index = keys.budget_resets(tag) } } end

return require("ff.walker").scanner {
  name = "budget_reset",
  family = "budget",
  interval = 15,
  defaults = { batch = 20 },
  sets = function(_, tag) return { keys.budget_resets(tag) } end,
  due = true,
  item = visit,
  -- no op: selection.due only selects the partitions with a due reset
  select = selection.due(resets),
  observe = selection.observe_due(resets), -- while paused: the backlog metrics only
}
