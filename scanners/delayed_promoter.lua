-- delayed_promoter (spec 10 §A.2): promotes due items of every configured
-- lane's delayed set through ff_promote_delayed. One TIME per partition; the
-- same now_ms is passed for every lane and item (0.1.1 behaviour). A failed
-- lane read counts one error and the next lane is still scanned.
local keys = require "ff.keys"
local scan = require "ff.scan"
local fc = require "ff.exec_fcall"

local function scan_lane(ctx, acc, lane, now)
  local tag = ctx.tag
  scan.due_items(ctx, acc, {
    index = keys.lane(tag, lane, "delayed"), now = now,
    batch = ctx.config.batch, max_pages = ctx.config.max_pages,
    handle = function(eid)
      return ctx.redis:fcall("ff_promote_delayed", fc.promote_delayed_keys(tag, eid, lane),
        { eid, now })
    end,
  })
end

return {
  name = "delayed_promoter",
  family = "execution",
  interval = 0.75,
  defaults = { batch = 50, max_pages = 10 },
  scan = function(ctx)
    local now = scan.now(ctx)
    if not now then return 0, 1 end
    local acc = scan.new_acc()
    for _, lane in ipairs(ctx.lanes) do
      scan_lane(ctx, acc, lane, now)
    end
    return acc.processed, acc.errors
  end,
}
