-- attempt_timeout (spec 10 §A.3): expires executions whose attempt timed out,
-- through ff_expire_execution (reason attempt_timeout): one HMGET pre-read of
-- the core, then the 14 KEYS of 0.1.1 in order with the real worker-lease set
-- (ff.exec_ops.expire_execution), pipelined per page.
local keys = require "ff.keys"
local ops = require "ff.exec_ops"
local due = require "ff.due"

return due.scanner {
  name = "attempt_timeout",
  interval = 2,
  targets = due.index(keys.attempt_timeout, ops.expire_execution("attempt_timeout")),
}
