-- suspension_timeout (spec 10 §A.5): applies the timeout behaviour of due
-- suspensions through ff_expire_suspension. The three HGETs of 0.1.1 are one
-- HMGET here (pipelined for a whole page); an empty waitpoint id, attempt
-- index or lane never yields a malformed key (the unused slot gets the
-- ff:noop:<tag> placeholder). See ff.exec_ops.expire_suspension.
local keys = require "ff.keys"
local scan = require "ff.scan"
local ops = require "ff.exec_ops"

return {
  name = "suspension_timeout",
  family = "execution",
  interval = 2,
  defaults = scan.defaults(),
  select = scan.select_due(function(_, tag) return { keys.suspension_timeout(tag) } end),
  scan = function(ctx, _, data)
    return scan.run_due(ctx, { index = keys.suspension_timeout(ctx.tag), op = ops.expire_suspension,
      data = data })
  end,
}
