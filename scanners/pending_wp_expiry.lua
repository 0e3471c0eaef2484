-- pending_wp_expiry (spec 10 §A.6): closes due pending waitpoints through
-- ff_close_waitpoint (reason never_committed). Index members are waitpoint
-- ids; the tracker is keyed by them. Batch 100 as in 0.1.1. The owning
-- execution id is pre-read (ff.exec_ops.close_waitpoint).
local keys = require "ff.keys"
local scan = require "ff.scan"
local ops = require "ff.exec_ops"

local function targets(_, tag)
  return { { index = keys.pending_waitpoint_expiry(tag), op = ops.close_waitpoint } }
end

return {
  name = "pending_wp_expiry",
  family = "execution",
  interval = 5,
  defaults = scan.defaults({ batch = 100 }),
  bounds = scan.bounds(),
  order = scan.ORDER,
  select = scan.select_due(targets),
  observe = scan.observe_due(targets), -- while paused: the backlog metrics only
  scan = scan.scan_due(targets),
}
