-- execution_deadline (spec 10 §A.4): expires executions past their deadline,
-- through ff_expire_execution (reason execution_deadline). Shared procedure:
-- lua-lib/ff/expire_scan.lua.
return require("ff.expire_scan").scanner {
  name = "execution_deadline",
  index = "execution_deadline",
  reason = "execution_deadline",
  interval = 5,
}
