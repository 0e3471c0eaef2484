-- ff.due: the skeleton of a due-item scanner. A due-item scanner names, per
-- partition, the indexes whose due entries (score <= now) it acts on and the
-- op that acts on one item (an ff.exec_ops op: the FCALL, its KEYS/ARGV and
-- an optional pre-read); the skeleton supplies the rest: select() (one TIME
-- and one pipeline of first pages per chunk, ff.selection.due), scan() (the
-- bounded, pipelined drain of ff.drain), the options and their bounds.
--
--   return require("ff.due").scanner {
--     name = "lease_expiry", interval = 1.5,
--     targets = function(ctx, tag, now)
--       return { { index = keys.lease_expiry(tag), op = ops.mark_lease_expired } }
--     end,
--   }
local drain = require "ff.drain"
local selection = require "ff.selection"

local M = {}

-- scanner(o) -> the scanner table. o: name, interval, targets(ctx, tag, now)
-- -> { { index, op }, ... }; optional family ("execution"), defaults (over
-- drain.defaults(): batch, max_pages, batch_min/max, batch_latency,
-- drain_budget), bounds (over drain.bounds()).
function M.scanner(o)
  assert(type(o.targets) == "function", "ff.due.scanner: targets must be a function")
  return {
    name = o.name,
    family = o.family or "execution",
    interval = o.interval,
    defaults = drain.defaults(o.defaults),
    bounds = drain.bounds(o.bounds),
    order = drain.ORDER,
    select = selection.due(o.targets),
    scan = drain.scan_due(o.targets),
  }
end

return M
