-- attempt_timeout (spec 10 §A.3) over the spec 10 §C recipes: one full cycle (h:once)
-- compared with the state the exact §A call leaves (spec/helpers/exec_cases.lua).
local env_mod = require "spec.helpers.env"
local cases = require "spec.helpers.exec_cases"
local F = require "ff.fixtures"
local K = require "ff.keys"

local hgetall, zscore = env_mod.hgetall, env_mod.zscore
local expire = cases.expire

describe("attempt_timeout", function()
  local r
  local T, E = F.T, F.E
  local once, case, unchanged = cases.suite(function(env) r = env.r end)

  local A = F.attempt_timeout
  it("acting case: expires the active execution", function()
    assert.same({ 1, "OK", "expired", "active" },
      case(A.acting, "attempt_timeout", expire("attempt_timeout", "default", "0", "wi1"), { 1, 0, 0 }))
    local c = hgetall(r, K.core(T, E))
    assert.equal("terminal", c.lifecycle_phase)
    assert.equal("attempt_timeout", c.failure_reason)
    assert.is_false(env_mod.sismember(r, K.worker_leases(T, "wi1"), E))
    assert.equal(tonumber(c.completed_at), zscore(r, K.lane(T, "default", "terminal"), E))
  end)
  it("no-op: not yet due", function() unchanged(A.not_yet_due, "attempt_timeout", { 0, 0, 0 }) end)
  it("no-op: already terminal", function()
    assert.same({ 1, "OK", "already_terminal" },
      case(A.already_terminal, "attempt_timeout", expire("attempt_timeout", "default", "0"), { 0, 0, 1 }))
    assert.is_nil(zscore(r, K.execution_deadline(T), E))
  end)
  it("no-op: missing core", function()
    assert.same({ 1, "OK", "not_found_cleaned" },
      case(A.missing_core, "attempt_timeout", expire("attempt_timeout", "default", "0"), { 1, 0, 0 }))
    assert.same({}, env_mod.data_keys(r))
  end)
end)
