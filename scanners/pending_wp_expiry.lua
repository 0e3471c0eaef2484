-- pending_wp_expiry (spec 10 §A.6): closes due pending waitpoints through
-- ff_close_waitpoint (reason never_committed). Index members are waitpoint
-- ids; the tracker is keyed by them. Batch 100 as in 0.1.1. The owning
-- execution id is pre-read (ff.exec_ops.close_waitpoint).
local keys = require "ff.keys"
local ops = require "ff.exec_ops"
local due = require "ff.due"

return due.scanner {
  name = "pending_wp_expiry",
  interval = 5,
  defaults = { batch = 100 },
  targets = due.index(keys.pending_waitpoint_expiry, ops.close_waitpoint),
}
