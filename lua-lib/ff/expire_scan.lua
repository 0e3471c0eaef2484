-- ff.expire_scan: the shared "expire-execution procedure" of the
-- attempt_timeout and execution_deadline scanners (spec 10 §A.3, §A.4):
-- one HMGET pre-read of the core, then FCALL ff_expire_execution with the 14
-- KEYS of 0.1.1 in order (ff.exec_ops.expire_execution: real worker-lease
-- set, no malformed key names). Pre-reads and calls are pipelined per page.
local keys = require "ff.keys"
local scan = require "ff.scan"
local ops = require "ff.exec_ops"

local M = {}

-- scanner{ name, index, reason, interval } -> scanner table for scanners/*.lua
function M.scanner(o)
  local op = ops.expire_execution(o.reason)
  local function targets(_, tag) return { { index = keys.idx(tag, o.index), op = op } } end
  return {
    name = o.name,
    family = "execution",
    interval = o.interval,
    defaults = scan.defaults(),
    bounds = scan.bounds(),
    order = scan.ORDER,
    select = scan.select_due(targets),
    scan = scan.scan_due(targets),
  }
end

return M
