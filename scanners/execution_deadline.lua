-- execution_deadline (spec 10 §A.4): expires executions past their deadline,
-- through ff_expire_execution (reason execution_deadline): the procedure of
-- attempt_timeout (ff.exec_ops.expire_execution) on the deadline index.
local keys = require "ff.keys"
local ops = require "ff.exec_ops"
local due = require "ff.due"

return due.scanner {
  name = "execution_deadline",
  interval = 5,
  targets = due.index(keys.execution_deadline, ops.expire_execution("execution_deadline")),
}
