-- ff.expire_scan: the shared "expire-execution procedure" of the
-- attempt_timeout and execution_deadline scanners (spec 10 §A.3, §A.4).
-- One HMGET pre-read of the core, then FCALL ff_expire_execution with the 14
-- KEYS of 0.1.1 in order. Fixes: KEYS[7] is the real worker-lease set (read
-- from current_worker_instance_id) instead of the dummy "worker::leases", and
-- an empty lane_id / attempt index never produces a malformed key name.
local keys = require "ff.keys"
local scan = require "ff.scan"
local fc = require "ff.exec_fcall"

local M = {}

local PRE_READ = { "lane_id", "current_attempt_index", "current_worker_instance_id", "current_lane" }

-- call_expire(ctx, eid, reason) -> reply | nil, err
function M.call_expire(ctx, eid, reason)
  local tag = ctx.tag
  local core, err = scan.hmget(ctx, keys.core(tag, eid), PRE_READ)
  if not core then return nil, "core pre-read failed: " .. tostring(err) end
  local p = {
    lane = fc.lane(core.lane_id, core.current_lane),
    ai = core.current_attempt_index or "0",  -- absent -> 0 as in 0.1.1; "" -> placeholder
    wiid = core.current_worker_instance_id,
  }
  return ctx.redis:fcall("ff_expire_execution", fc.expire_execution_keys(tag, eid, p), { eid, reason })
end

-- scanner{ name, index, reason, interval } -> scanner table for scanners/*.lua
function M.scanner(o)
  return {
    name = o.name,
    family = "execution",
    interval = o.interval,
    defaults = { batch = 50, max_pages = 10 },
    scan = function(ctx)
      return scan.run_due(ctx, {
        index = keys.idx(ctx.tag, o.index),
        handle = function(eid) return M.call_expire(ctx, eid, o.reason) end,
      })
    end,
  }
end

return M
