-- lease_expiry (spec 10 §A.1): marks due leases expired through
-- ff_mark_lease_expired_if_due. Entries of already-expired leases stay in the
-- index by design (0.1.1); ff.scan reads past them so they never hide newer
-- expirations (quirk 5).
local keys = require "ff.keys"
local scan = require "ff.scan"
local fc = require "ff.exec_fcall"

return {
  name = "lease_expiry",
  family = "execution",
  interval = 1.5,
  defaults = { batch = 50, max_pages = 10 },
  scan = function(ctx)
    return scan.run_due(ctx, {
      index = keys.lease_expiry(ctx.tag),
      handle = function(eid)
        return ctx.redis:fcall("ff_mark_lease_expired_if_due",
          fc.mark_lease_expired_keys(ctx.tag, eid), { eid })
      end,
    })
  end,
}
