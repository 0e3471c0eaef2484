-- edge_cancel_reconciler (FlowFabric v34, spec 30 §9): the safety net of the
-- sibling-cancel groups. For each pending_cancel_groups member it calls
-- ff_reconcile_sibling_cancel_group, which removes a stale member
-- (sremmed_stale), finishes a group whose siblings are all terminal
-- (completed_drain) or leaves a group with live siblings to the dispatcher
-- (no_op). Flow partitions {fp:N}; every 10 s; up to 50 members per partition
-- per cycle (SRANDMEMBER). It never cancels anything and applies no filter.
-- Idle unless the loaded library is version 34.
-- processed = sremmed_stale + completed_drain; errors = malformed members
-- (removed) and calls that failed or answered something else.
-- scanhost: the calls of a page go out in one round trip (a batch FCALL with
-- scanhost's own library).
local reply = require "ff.reply"
local selection = require "ff.selection"
local util = require "ff.util"
local batch = require "ff.batch"
local V = require "ff.v34"
local sibling = require "ff.sibling"

local DONE = { sremmed_stale = true, completed_drain = true }

-- well_formed(ctx, acc, groups) -> the members that parse; the others are
-- removed and counted as errors.
local function well_formed(ctx, acc, groups)
  local good = {}
  for _, g in ipairs(groups) do
    if sibling.parse(ctx, acc, g) then good[#good + 1] = g end
  end
  return good
end

local OP = {
  fn = "ff_reconcile_sibling_cancel_group",
  call = function(ctx, g)
    local fid, ds = V.group(g)
    return { V.pending_cancel_groups(ctx.tag), V.edgegroup(ctx.tag, fid, ds) }, { fid, ds }
  end,
}

local function account(ctx, acc, c)
  local r = c.reply
  local action = type(r) == "table" and r[1] == 1 and r[3]
  if DONE[action] then
    acc.processed = acc.processed + 1
    ctx.log:debug("sibling cancel group reconciled", { group = c.item, action = action, detail = r[4] })
  elseif action ~= "no_op" then
    acc.errors = acc.errors + 1
    util.failed(ctx, c.transport and "transport", "reconciling sibling cancel group failed",
      { group = c.item, error = tostring(c.err or (type(r) == "table" and r[2]) or r) })
  end
end

local function scan(ctx)
  local acc = reply.new_acc()
  local groups = sibling.sample(ctx)
  if not groups then return 0, 1 end
  local good = well_formed(ctx, acc, groups)
  if #good > 0 then
    for _, c in ipairs(batch.run(ctx, OP, good)) do account(ctx, acc, c) end
  end
  return acc.processed, acc.errors
end

return {
  name = "edge_cancel_reconciler",
  family = "flow",
  interval = 10,
  library_versions = { "34" },
  defaults = { batch = 50 },
  bounds = { batch = { integer = true, min = 1, max = 10000 } },
  select = selection.nonempty(function(_, tag) return { V.pending_cancel_groups(tag) } end),
  scan = scan,
}
