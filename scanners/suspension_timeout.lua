-- suspension_timeout (spec 10 §A.5): applies the timeout behaviour of due
-- suspensions through ff_expire_suspension. The three HGETs of 0.1.1 are one
-- HMGET here (pipelined for a whole page); an empty waitpoint id, attempt
-- index or lane never yields a malformed key (the unused slot gets the
-- ff:noop:<tag> placeholder). See ff.exec_ops.expire_suspension.
local keys = require "ff.keys"
local scan = require "ff.scan"
local ops = require "ff.exec_ops"

local function targets(_, tag)
  return { { index = keys.suspension_timeout(tag), op = ops.expire_suspension } }
end

return {
  name = "suspension_timeout",
  family = "execution",
  interval = 2,
  defaults = scan.defaults(),
  bounds = scan.bounds(),
  order = scan.ORDER,
  select = scan.select_due(targets),
  observe = scan.observe_due(targets), -- while paused: the backlog metrics only
  scan = scan.scan_due(targets),
}
