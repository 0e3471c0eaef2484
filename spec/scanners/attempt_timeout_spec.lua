-- attempt_timeout (spec 10 §A.3) over the spec 10 §C recipes: one full cycle (h:once)
-- compared with the state the exact §A call leaves (spec/helpers/exec_cases.lua).
local env_mod = require "spec.helpers.env"
local cases = require "spec.helpers.exec_cases"
local F = require "ff.fixtures"
local K = require "ff.keys"

local hgetall, zscore, dump = env_mod.hgetall, env_mod.zscore, env_mod.dump
local mark, promote, expire = cases.mark, cases.promote, cases.expire
local expire_susp, close_wp = cases.expire_susp, cases.close_wp

describe("attempt_timeout", function()
  local env, r
  local T, E, W = F.T, F.E, F.W
  setup(function()
    env = env_mod.start({ partitions = 8 })
    r = env.r
  end)
  teardown(function() env:stop() end)
  before_each(function() env:flush() end)
  local snapshot, once, case, unchanged = cases.runner(function() return env end)

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
