-- ff.util: the small rules every scanner needs the same way: integer text,
-- the first error of a pipeline, the lane set an execution's state puts it
-- in, and the server's "now" with its failure path.
local M = {}

-- int(v) -> the number of an integer text (optional sign), else nil: the rule
-- of ff.budget, which its server-side scripts embed (one rule on both sides).
M.int = require("ff.budget").int

-- uint(v) -> the number of a non-negative integer text (digits only), else nil.
function M.uint(v)
  if type(v) ~= "string" or not v:match("^%d+$") then return nil end
  return tonumber(v)
end

-- first_err(res) -> the first error of a pipeline result, or nil.
function M.first_err(res)
  for i = 1, #res do
    if type(res[i]) == "table" and res[i].err then return res[i].err end
  end
  return nil
end

-- failed(ctx, kind, msg, fields): a failure is a warning, unless it is a
-- transport failure (the host logs the lost connection once; per step it
-- is debug, so a Redis restart does not flood the log).
function M.failed(ctx, kind, msg, fields)
  if kind == "transport" then ctx.log:debug(msg, fields) else ctx.log:warn(msg, fields) end
end

-- now(ctx) -> the server's now_ms, or nil after logging the failure: a
-- scanner counts one error and leaves the partition for the next cycle.
function M.now(ctx)
  local now, err, kind = ctx:now_ms()
  if not now then
    M.failed(ctx, kind, "TIME failed", { error = tostring(err) })
    return nil
  end
  return now
end

-- The runnable lane sets by eligibility_state (spec 00), the very table the
-- function library uses (ff.lanes).
M.RUNNABLE_SETS = require("ff.lanes").RUNNABLE_SETS

-- lane_set(lifecycle_phase, eligibility_state, ownership_state) -> the
-- suffix of the lane set an execution in this state sits in, or nil when the
-- state does not name one (a leased active execution: "active").
function M.lane_set(lp, es, os)
  if lp == "active" then return os == "leased" and "active" or nil end
  if lp == "runnable" then return M.RUNNABLE_SETS[es] end
  if lp == "suspended" or lp == "terminal" then return lp end
  return nil
end

return M
