-- ff.exec_fcall: the KEYS lists of the five execution maintenance functions
-- (spec 10 §A/§B), in the exact 0.1.1 order. Shared by the scanners and specs.
-- Where 0.1.1 passed a malformed name (dummy "worker::leases", "lane::x",
-- "ff:attempt:T:E:", "ff:wp:T:"), the slot gets the real key or, when the
-- value is empty, the partition's never-written placeholder ff:noop:<tag>.
local K = require "ff.keys"

local M = {}

local function set(v)
  return v ~= nil and v ~= false and v ~= ""
end

-- Pre-read values -> safe key parts. lane: lane_id, current_lane, "default";
-- ai / wiid / wp: nil when not set (the slot becomes the placeholder).
function M.lane(lane_id, current_lane)
  if set(lane_id) then return lane_id end
  if set(current_lane) then return current_lane end
  return "default"
end

-- last(build) -> build(tag, lane), remembered for the last (tag, lane): the
-- partition-level keys of a call are the same for every item of a page, so
-- a drain builds them once per page, not once per item.
local function last(build)
  local tag_, lane_, key_
  return function(tag, lane)
    if tag ~= tag_ or lane ~= lane_ then tag_, lane_, key_ = tag, lane, build(tag, lane) end
    return key_
  end
end

local lease_expiry = last(K.lease_expiry)
local delayed = last(function(tag, lane) return K.lane(tag, lane, "delayed") end)
local eligible = last(function(tag, lane) return K.lane(tag, lane, "eligible") end)

-- ff_mark_lease_expired_if_due: core, lease:current, lease_expiry, lease:history.
function M.mark_lease_expired_keys(tag, eid)
  return { K.core(tag, eid), K.lease_current(tag, eid), lease_expiry(tag), K.lease_history(tag, eid) }
end

-- ff_promote_delayed: core, lane delayed, lane eligible.
function M.promote_delayed_keys(tag, eid, lane)
  return { K.core(tag, eid), delayed(tag, lane), eligible(tag, lane) }
end

-- ff_expire_execution (14 keys). p = { lane, ai, wiid } from the core pre-read.
function M.expire_execution_keys(tag, eid, p)
  local noop = K.noop(tag)
  local ai, lane = p.ai, p.lane or "default"
  return {
    K.core(tag, eid),
    set(ai) and K.attempt(tag, eid, ai) or noop,
    set(ai) and K.stream_meta(tag, eid, ai) or noop,
    K.lease_current(tag, eid),
    K.lease_history(tag, eid),
    K.lease_expiry(tag),
    set(p.wiid) and K.worker_leases(tag, p.wiid) or noop,
    K.lane(tag, lane, "active"),
    K.lane(tag, lane, "terminal"),
    K.attempt_timeout(tag),
    K.execution_deadline(tag),
    K.lane(tag, lane, "suspended"),
    K.suspension_timeout(tag),
    K.suspension_current(tag, eid),
  }
end

-- ff_expire_suspension (12 keys). p = { lane, ai, wp } from the core pre-read.
function M.expire_suspension_keys(tag, eid, p)
  local noop = K.noop(tag)
  local ai, wp, lane = p.ai, p.wp, p.lane or "default"
  return {
    K.core(tag, eid),
    K.suspension_current(tag, eid),
    set(wp) and K.waitpoint(tag, wp) or noop,
    set(wp) and K.waitpoint_condition(tag, wp) or noop,
    set(ai) and K.attempt(tag, eid, ai) or noop,
    set(ai) and K.stream_meta(tag, eid, ai) or noop,
    K.suspension_timeout(tag),
    K.lane(tag, lane, "suspended"),
    K.lane(tag, lane, "terminal"),
    K.lane(tag, lane, "eligible"),
    K.lane(tag, lane, "delayed"),
    K.lease_history(tag, eid),
  }
end

-- ff_close_waitpoint: core of the owning execution (unused; placeholder when
-- the waitpoint names none), waitpoint hash, pending_waitpoint_expiry.
function M.close_waitpoint_keys(tag, wid, eid)
  return { set(eid) and K.core(tag, eid) or K.noop(tag), K.waitpoint(tag, wid),
    K.pending_waitpoint_expiry(tag) }
end

return M
