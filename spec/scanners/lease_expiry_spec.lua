-- lease_expiry (spec 10 §A.1) over the spec 10 §C recipes: one full cycle (h:once)
-- compared with the state the exact §A call leaves (spec/helpers/exec_cases.lua).
local env_mod = require "spec.helpers.env"
local cases = require "spec.helpers.exec_cases"
local F = require "ff.fixtures"
local K = require "ff.keys"

local hgetall, zscore, dump = env_mod.hgetall, env_mod.zscore, env_mod.dump
local mark = cases.mark

describe("lease_expiry", function()
  local r
  local T, E = F.T, F.E
  local once, case, unchanged = cases.suite(function(env) r = env.r end)

  local L = F.lease_expiry
  it("acting case: marks expired, keeps the entry, then already_expired", function()
    assert.same({ 1, "OK", "marked_expired" }, case(L.acting, "lease_expiry", mark, { 1, 0, 0 }))
    assert.equal("lease_expired_reclaimable", hgetall(r, K.core(T, E)).ownership_state)
    assert.equal(1000, zscore(r, K.lease_expiry(T), E))
    local before = dump(r)
    assert.same({ 0, 0, 1 }, { once("lease_expiry") }) -- already_expired: skipped
    assert.same(before, dump(r))
  end)
  it("no-op: not yet due (index)", function() unchanged(L.not_yet_due_index, "lease_expiry", { 0, 0, 0 }) end)
  for _, c in ipairs({ { "not_yet_due_record", "not_yet_expired" }, { "already_terminal", "not_active" },
    { "revoked", "already_revoked" }, { "unowned", "unowned" }, { "missing_core", "execution_not_found" } }) do
    it("no-op: " .. c[1], function()
      assert.same({ 1, "ALREADY_SATISFIED", c[2] }, case(L[c[1]], "lease_expiry", mark, { 0, 0, 1 }))
    end)
  end
  it("fault (empty lease_expires_at): skipped, nothing written", function()
    unchanged(L.fault, "lease_expiry", { 0, 0, 1 })
  end)
end)
