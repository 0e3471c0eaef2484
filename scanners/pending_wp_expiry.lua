-- pending_wp_expiry (spec 10 §A.6): closes due pending waitpoints through
-- ff_close_waitpoint (reason never_committed). Index members are waitpoint
-- ids; the tracker is keyed by them. Batch 100 as in 0.1.1.
local keys = require "ff.keys"
local scan = require "ff.scan"
local fc = require "ff.exec_fcall"

local function close(ctx, wid)
  local eid, err = ctx.redis:call("HGET", keys.waitpoint(ctx.tag, wid), "execution_id")
  if eid == nil then return nil, "waitpoint pre-read failed: " .. tostring(err) end
  return ctx.redis:fcall("ff_close_waitpoint", fc.close_waitpoint_keys(ctx.tag, wid, eid),
    { wid, "never_committed" })
end

return {
  name = "pending_wp_expiry",
  family = "execution",
  interval = 5,
  defaults = { batch = 100, max_pages = 10 },
  scan = function(ctx)
    return scan.run_due(ctx, {
      index = keys.pending_waitpoint_expiry(ctx.tag),
      handle = function(wid) return close(ctx, wid) end,
    })
  end,
}
