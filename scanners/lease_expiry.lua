-- lease_expiry (spec 10 §A.1): marks due leases expired through
-- ff_mark_lease_expired_if_due. Entries of already-expired leases stay in the
-- index by design (0.1.1); the drain reads past them so they never hide newer
-- expirations (quirk 5), and does not call the function again for a lease it
-- saw already expired with the same score (the op's memo, issue 9).
local keys = require "ff.keys"
local ops = require "ff.exec_ops"
local due = require "ff.due"

return due.scanner {
  name = "lease_expiry",
  interval = 1.5,
  targets = due.index(keys.lease_expiry, ops.mark_lease_expired),
}
