-- execution_deadline (spec 10 §A.4) over the spec 10 §C recipes: one full cycle (h:once)
-- compared with the state the exact §A call leaves (spec/helpers/exec_cases.lua).
local env_mod = require "spec.helpers.env"
local cases = require "spec.helpers.exec_cases"
local F = require "ff.fixtures"
local K = require "ff.keys"

local hgetall, zscore = env_mod.hgetall, env_mod.zscore
local expire = cases.expire

describe("execution_deadline", function()
  local r
  local T, E, W = F.T, F.E, F.W
  local once, case, unchanged = cases.suite(function(env) r = env.r end)

  local D = F.execution_deadline
  it("acting case: expires the runnable execution", function()
    assert.same({ 1, "OK", "expired", "runnable" },
      case(D.acting, "execution_deadline", expire("execution_deadline", "default", nil), { 1, 0, 0 }))
    assert.is_nil(zscore(r, K.lane(T, "default", "eligible"), E))
    assert.equal("execution_deadline", hgetall(r, K.core(T, E)).failure_reason)
  end)
  it("variant: suspended", function()
    assert.same({ 1, "OK", "expired", "suspended" },
      case(D.suspended, "execution_deadline", expire("execution_deadline", "blue", "2"), { 1, 0, 0 }))
    assert.equal("ended_failure", hgetall(r, K.attempt(T, E, 2)).attempt_state)
    assert.is_nil(zscore(r, K.lane(T, "blue", "suspended"), E))
    assert.equal("active", hgetall(r, K.waitpoint(T, W)).state)
  end)
  it("no-op: not yet due", function() unchanged(D.not_yet_due, "execution_deadline", { 0, 0, 0 }) end)
  it("no-op: already terminal", function()
    assert.same({ 1, "OK", "already_terminal" },
      case(D.already_terminal, "execution_deadline", expire("execution_deadline", "default", "0"), { 0, 0, 1 }))
  end)
  it("no-op: missing core", function()
    assert.same({ 1, "OK", "not_found_cleaned" },
      case(D.missing_core, "execution_deadline", expire("execution_deadline", "default", "0"), { 1, 0, 0 }))
  end)
end)
