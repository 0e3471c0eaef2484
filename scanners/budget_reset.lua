-- budget_reset: applies due periodic budget resets with ff_reset_budget
-- (spec 20 §A.5). Budget partitions {b:M}; every 15 s; 20 due budgets per
-- partition per cycle.
-- scanhost: replies are read (a rejection is a skip, an error an error: G1), and
-- due entries the function refuses (e.g. invalid_state) are walked past with a
-- cursor instead of being re-read at the head of every cycle. Several instances:
-- a partition is reset only by the instance that claimed it (ff.claim), and
-- scanhost's ff_reset_budget re-checks atomically that the reset is due
-- (not_due otherwise); FlowFabric's does not, so there the claim alone keeps a
-- budget from being reset twice: it is checked (and renewed) right before each
-- page's calls, which go out in one pipeline.
local keys = require "ff.keys"
local reply = require "ff.reply"
local selection = require "ff.selection"
local claim = require "ff.claim"
local batch = require "ff.batch"

-- verdict(ctx, bid, r) -> kept (the entry is still due), processed, errors:
-- one ff_reset_budget reply.
local function verdict(ctx, bid, r)
  local status, detail = reply.outcome(ctx, r, nil, "budget reset", { budget_id = bid })
  if status == "processed" then
    ctx.log:debug("budget reset", { budget_id = bid, next_reset_at = detail })
    return false, 1, 0
  end
  -- a skip for a budget gone from the due range (deleted, or reset meanwhile
  -- by another caller) leaves it; any other refusal or failure keeps it
  if status == "skip" then return detail ~= "budget_not_found" and detail ~= "not_due", 0, 0 end
  return true, 0, 1
end

-- visit(ctx, st, entries) -> kept per budget, processed, errors: the page's
-- resets in one pipeline. FlowFabric's ff_reset_budget is not idempotent: the
-- calls go out only while the partition's claim is ours (checked, and renewed
-- if the walk has run long, right before them).
local function visit(ctx, st, entries)
  local verdicts, cmds = {}, {}
  if not claim.hold(ctx) then
    verdicts[1] = "stop"
    return verdicts, 0, 0
  end
  local T = ctx.tag
  for i, e in ipairs(entries) do
    cmds[i] = batch.fcall_cmd("ff_reset_budget",
      { keys.budget(T, e[1]), keys.budget_usage(T, e[1]), keys.budget_resets(T) }, { e[1], st.now })
  end
  local processed, errors = 0, 0
  for i, r in ipairs(ctx.redis:pipeline(cmds)) do
    local kept, p, e = verdict(ctx, entries[i][1], r)
    verdicts[i], processed, errors = kept, processed + p, errors + e
  end
  return verdicts, processed, errors
end

local function resets(_, tag) return { { index = keys.budget_resets(tag) } } end

return require("ff.walker").scanner {
  name = "budget_reset",
  family = "budget",
  interval = 15,
  defaults = { batch = 20 },
  sets = function(_, tag) return { keys.budget_resets(tag) } end,
  due = true,
  items = visit,
  -- no op: selection.due only selects the partitions with a due reset
  select = selection.due(resets),
  observe = selection.observe_due(resets), -- while paused: the backlog metrics only
}
