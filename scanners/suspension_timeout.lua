-- suspension_timeout (spec 10 §A.5): applies the timeout behaviour of due
-- suspensions through ff_expire_suspension. The three HGETs of 0.1.1 are one
-- HMGET here; an empty waitpoint id, attempt index or lane never yields a
-- malformed key (the unused slot gets the ff:noop:<tag> placeholder).
local keys = require "ff.keys"
local scan = require "ff.scan"
local fc = require "ff.exec_fcall"

local PRE_READ = { "current_waitpoint_id", "current_attempt_index", "lane_id", "current_lane" }

local function expire(ctx, eid)
  local core, err = scan.hmget(ctx, keys.core(ctx.tag, eid), PRE_READ)
  if not core then return nil, "core pre-read failed: " .. tostring(err) end
  local p = {
    wp = core.current_waitpoint_id,
    ai = core.current_attempt_index or "0",
    lane = fc.lane(core.lane_id, core.current_lane),
  }
  return ctx.redis:fcall("ff_expire_suspension", fc.expire_suspension_keys(ctx.tag, eid, p), { eid })
end

return {
  name = "suspension_timeout",
  family = "execution",
  interval = 2,
  defaults = { batch = 50, max_pages = 10 },
  scan = function(ctx)
    return scan.run_due(ctx, {
      index = keys.suspension_timeout(ctx.tag),
      handle = function(eid) return expire(ctx, eid) end,
    })
  end,
}
