-- lease_expiry (spec 10 §A.1): marks due leases expired through
-- ff_mark_lease_expired_if_due. Entries of already-expired leases stay in the
-- index by design (0.1.1); ff.scan reads past them so they never hide newer
-- expirations (quirk 5). Pages are pipelined / batched and drained (issue 5).
local keys = require "ff.keys"
local scan = require "ff.scan"
local ops = require "ff.exec_ops"

local function targets(_, tag)
  return { { index = keys.lease_expiry(tag), op = ops.mark_lease_expired } }
end

return {
  name = "lease_expiry",
  family = "execution",
  interval = 1.5,
  defaults = scan.defaults(),
  bounds = scan.bounds(),
  order = scan.ORDER,
  select = scan.select_due(targets),
  observe = scan.observe_due(targets), -- while paused: the backlog metrics only
  scan = scan.scan_due(targets),
}
