-- delayed_promoter (spec 10 §A.2): promotes due items of every configured
-- lane's delayed set through ff_promote_delayed. One TIME per partition (or
-- the one select() read for the whole chunk); the same now_ms is passed for
-- every lane and item (0.1.1 behaviour). A failed lane read counts one error
-- and the next lane is still scanned.
local keys = require "ff.keys"
local scan = require "ff.scan"
local ops = require "ff.exec_ops"

return {
  name = "delayed_promoter",
  family = "execution",
  interval = 0.75,
  defaults = scan.defaults(),
  select = scan.select_due(function(ctx, tag) return keys.lane_sets(tag, ctx.lanes, "delayed") end),
  scan = function(ctx, _, data)
    local now = data and data.now or scan.now(ctx)
    if not now then return 0, 1 end
    local acc = scan.new_acc()
    for _, lane in ipairs(ctx.lanes) do
      local index = keys.lane(ctx.tag, lane, "delayed")
      scan.due_items(ctx, acc, { index = index, now = now, op = ops.promote_delayed(lane, now),
        first = scan.first_page(data, index) })
    end
    return acc.processed, acc.errors
  end,
}
