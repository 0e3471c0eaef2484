-- attempt_timeout (spec 10 §A.3): expires executions whose attempt timed out,
-- through ff_expire_execution (reason attempt_timeout). Shared procedure:
-- lua-lib/ff/expire_scan.lua.
return require("ff.expire_scan").scanner {
  name = "attempt_timeout",
  index = "attempt_timeout",
  reason = "attempt_timeout",
  interval = 2,
}
