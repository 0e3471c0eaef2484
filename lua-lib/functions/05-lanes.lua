-- 05-lanes.lua: the runnable lane set of each eligibility_state (spec 00),
-- written once for both sides: the library (this file is part of its one
-- chunk, where C is 00-common's table) and the scanners (ff.lanes runs this
-- very file with C as its only global). Data only: no redis calls here.
C.RUNNABLE_SETS = {
  eligible_now = "eligible",
  not_eligible_until_time = "delayed",
  blocked_by_dependencies = "blocked:dependencies",
  blocked_by_budget = "blocked:budget",
  blocked_by_quota = "blocked:quota",
  blocked_by_route = "blocked:route",
  blocked_by_operator = "blocked:operator",
}
C.RUNNABLE_ORDER = { "eligible_now", "not_eligible_until_time", "blocked_by_dependencies",
  "blocked_by_budget", "blocked_by_quota", "blocked_by_route", "blocked_by_operator" }
