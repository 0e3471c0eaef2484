-- Bench only: FlowFabric 0.1.1's scan pattern, run by the same host as the
-- stock scanners so the comparison measures the pattern, not the runtime:
-- per partition one TIME, one ZRANGEBYSCORE ... LIMIT 0 50, then one FCALL per
-- item, sequential (one round trip each). No select(), no paging, no drain.
-- `mode` picks the scenario: lease_expiry or delayed_promoter (lane default).
local keys = require "ff.keys"
local reply = require "ff.reply"
local fc = require "ff.exec_fcall"

local MODES = {
  lease_expiry = {
    index = function(tag) return keys.lease_expiry(tag) end,
    call = function(ctx, eid) return "ff_mark_lease_expired_if_due", fc.mark_lease_expired_keys(ctx.tag, eid), { eid } end,
  },
  delayed_promoter = {
    index = function(tag) return keys.lane(tag, "default", "delayed") end,
    call = function(ctx, eid, now)
      return "ff_promote_delayed", fc.promote_delayed_keys(ctx.tag, eid, "default"), { eid, now }
    end,
  },
}

return {
  name = "ff011_baseline",
  family = "execution",
  interval = 1.5,
  defaults = { batch = 50, mode = "lease_expiry" },
  scan = function(ctx)
    local m = MODES[ctx.config.mode]
    local now = ctx:now_ms()
    if not now then return 0, 1 end
    local due = ctx.redis:call("ZRANGEBYSCORE", m.index(ctx.tag), "-inf", now, "LIMIT", 0, ctx.config.batch)
    if type(due) ~= "table" then return 0, 1 end
    local acc = reply.new_acc()
    for _, eid in ipairs(due) do
      reply.account(ctx, acc, eid, ctx.redis:fcall(m.call(ctx, eid, now)))
    end
    return acc.processed, acc.errors
  end,
}
