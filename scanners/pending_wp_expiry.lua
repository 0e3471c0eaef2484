-- pending_wp_expiry (spec 10 §A.6): closes due pending waitpoints through
-- ff_close_waitpoint (reason never_committed). Index members are waitpoint
-- ids; the tracker is keyed by them. Batch 100 as in 0.1.1. The owning
-- execution id is pre-read (ff.exec_ops.close_waitpoint).
local keys = require "ff.keys"
local ops = require "ff.exec_ops"

return require("ff.due").scanner {
  name = "pending_wp_expiry",
  interval = 5,
  defaults = { batch = 100 },
  targets = function(_, tag)
    return { { index = keys.pending_waitpoint_expiry(tag), op = ops.close_waitpoint } }
  end,
}
