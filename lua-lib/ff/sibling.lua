-- ff.sibling: what edge_cancel_dispatcher and edge_cancel_reconciler share
-- (spec 30 §8-9): the page of ff:idx:{fp:N}:pending_cancel_groups a cycle
-- takes, and the validation of each "<flow_id>|<downstream_eid>" member (a
-- malformed one is removed and counted as an error, spec 30 §3.3).
local V = require "ff.v34"

local M = {}

-- sample(ctx) -> up to ctx.config.batch distinct members, at random | nil
-- (the failure is logged).
function M.sample(ctx)
  local groups, err = ctx.redis:call("SRANDMEMBER", V.pending_cancel_groups(ctx.tag), ctx.config.batch)
  if not groups then
    ctx.log:warn("reading pending_cancel_groups failed", { error = tostring(err) })
    return nil
  end
  return groups
end

-- parse(ctx, acc, g) -> F', downstream eid | nil after removing g (acc.errors + 1).
function M.parse(ctx, acc, g)
  local fid, ds = V.group(g)
  if fid then return fid, ds end
  ctx.log:warn("malformed sibling cancel group; removed", { member = g, error = ds })
  ctx.redis:call("SREM", V.pending_cancel_groups(ctx.tag), g)
  acc.errors = acc.errors + 1
  return nil
end

return M
