-- delayed_promoter (spec 10 §A.2): promotes due items of every configured
-- lane's delayed set through ff_promote_delayed. One TIME per partition (or
-- the one select() read for the whole chunk); the same now_ms is passed for
-- every lane and item (0.1.1 behaviour). A failed lane read counts one error
-- and the next lane is still scanned.
local keys = require "ff.keys"
local ops = require "ff.exec_ops"
local due = require "ff.due"

return due.scanner {
  name = "delayed_promoter",
  interval = 0.75,
  targets = function(ctx, tag, now)
    local out = {}
    for i, lane in ipairs(ctx.lanes) do
      out[i] = { index = keys.lane(tag, lane, "delayed"), op = ops.promote_delayed(lane, now) }
    end
    return out
  end,
}
