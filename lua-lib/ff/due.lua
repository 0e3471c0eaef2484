-- ff.due: the skeleton of a due-item scanner. A due-item scanner names, per
-- partition, the indexes whose due entries (score <= now) it acts on and the
-- op that acts on one item (an ff.exec_ops op: the FCALL, its KEYS/ARGV and
-- an optional pre-read); the skeleton supplies the rest: select() (one TIME
-- and one pipeline of first pages per chunk, then the bounded drain of the
-- whole chunk, two groups of pages in flight: ff.selection.due), scan() (what
-- select() left: a failed page read, retried one page at a time by ff.drain),
-- the options and their bounds.
--
--   local due = require "ff.due"
--   return due.scanner {
--     name = "lease_expiry", interval = 1.5,
--     targets = due.index(keys.lease_expiry, ops.mark_lease_expired),
--   }
local drain = require "ff.drain"
local selection = require "ff.selection"

local M = {}

-- index(index_of, op) -> the targets of a scanner with one due index per
-- partition: index_of(tag) names it, op acts on its items.
function M.index(index_of, op)
  return function(_, tag) return { { index = index_of(tag), op = op } } end
end

-- scanner(o) -> the scanner table. o: name, interval, targets(ctx, tag, now)
-- -> { { index, op }, ... }; optional family ("execution"), defaults (over
-- drain.defaults(): batch, max_pages, batch_min/max, batch_latency,
-- drain_budget), bounds (over drain.bounds()).
function M.scanner(o)
  assert(type(o.targets) == "function", "ff.due.scanner: targets must be a function")
  return {
    name = o.name,
    family = o.family or "execution",
    library_versions = o.library_versions,
    interval = o.interval,
    defaults = drain.defaults(o.defaults),
    bounds = drain.bounds(o.bounds),
    order = drain.ORDER,
    select = selection.due(o.targets),
    observe = selection.observe_due(o.targets), -- while paused: the backlog metrics only
    scan = drain.scan_due(o.targets),
  }
end

return M
