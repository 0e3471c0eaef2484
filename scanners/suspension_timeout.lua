-- suspension_timeout (spec 10 §A.5): applies the timeout behaviour of due
-- suspensions through ff_expire_suspension. The three HGETs of 0.1.1 are one
-- HMGET here (pipelined for a whole page); an empty waitpoint id, attempt
-- index or lane never yields a malformed key (the unused slot gets the
-- ff:noop:<tag> placeholder). See ff.exec_ops.expire_suspension.
local keys = require "ff.keys"
local ops = require "ff.exec_ops"
local due = require "ff.due"

return due.scanner {
  name = "suspension_timeout",
  interval = 2,
  targets = due.index(keys.suspension_timeout, ops.expire_suspension),
}
