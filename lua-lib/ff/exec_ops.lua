-- ff.exec_ops: the per-item calls of the five execution maintenance functions
-- as ff.batch ops ({ fn, pre, call }), shared by the scanners, the bench and
-- the specs so every path builds exactly the same KEYS and ARGV (spec 10 §A).
-- Pre-reads: one HMGET of the core (expire_execution, expire_suspension) or
-- one HGET of the waitpoint (close_waitpoint), pipelined for a whole page.
local keys = require "ff.keys"
local fc = require "ff.exec_fcall"

local M = {}

-- fields(vals, names) -> map name -> value of a HMGET reply (absent: nil).
function M.fields(vals, names)
  local map = {}
  for i, f in ipairs(names) do
    if type(vals[i]) == "string" then map[f] = vals[i] end
  end
  return map
end

local function hmget_core(names)
  return function(ctx, eid) return { "HMGET", keys.core(ctx.tag, eid), unpack(names) } end
end

M.mark_lease_expired = {
  fn = "ff_mark_lease_expired_if_due",
  call = function(ctx, eid) return fc.mark_lease_expired_keys(ctx.tag, eid), { eid } end,
  -- A lease already marked expired (or revoked) keeps its index entry by
  -- design (0.1.1) and the call changes nothing: ff.drain does not call it
  -- again while its index score stays the same (issue 9).
  memo = function(reply)
    return reply[1] == 1 and reply[2] == "ALREADY_SATISFIED"
      and (reply[3] == "already_expired" or reply[3] == "already_revoked")
  end,
}

-- promote_delayed(lane, now): ARGV[2] is the scan's now_ms (0.1.1).
function M.promote_delayed(lane, now)
  return {
    fn = "ff_promote_delayed",
    call = function(ctx, eid) return fc.promote_delayed_keys(ctx.tag, eid, lane), { eid, now } end,
  }
end

local EXPIRE_READ = { "lane_id", "current_attempt_index", "current_worker_instance_id", "current_lane" }

-- expire_execution(reason): KEYS[7] is the real worker-lease set; an empty
-- lane / attempt index never builds a malformed key.
function M.expire_execution(reason)
  return {
    fn = "ff_expire_execution",
    pre = hmget_core(EXPIRE_READ),
    call = function(ctx, eid, vals)
      local core = M.fields(vals, EXPIRE_READ)
      local p = {
        lane = fc.lane(core.lane_id, core.current_lane),
        ai = core.current_attempt_index or "0",  -- absent -> 0 as in 0.1.1; "" -> placeholder
        wiid = core.current_worker_instance_id,
      }
      return fc.expire_execution_keys(ctx.tag, eid, p), { eid, reason }
    end,
  }
end

local SUSPENSION_READ = { "current_waitpoint_id", "current_attempt_index", "lane_id", "current_lane" }

-- The three HGETs of 0.1.1 are one HMGET.
M.expire_suspension = {
  fn = "ff_expire_suspension",
  pre = hmget_core(SUSPENSION_READ),
  call = function(ctx, eid, vals)
    local core = M.fields(vals, SUSPENSION_READ)
    local p = {
      wp = core.current_waitpoint_id,
      ai = core.current_attempt_index or "0",
      lane = fc.lane(core.lane_id, core.current_lane),
    }
    return fc.expire_suspension_keys(ctx.tag, eid, p), { eid }
  end,
}

-- Index members are waitpoint ids; the owning execution is pre-read.
M.close_waitpoint = {
  fn = "ff_close_waitpoint",
  pre = function(ctx, wid) return { "HGET", keys.waitpoint(ctx.tag, wid), "execution_id" } end,
  call = function(ctx, wid, eid)
    return fc.close_waitpoint_keys(ctx.tag, wid, eid), { wid, "never_committed" }
  end,
}

return M
