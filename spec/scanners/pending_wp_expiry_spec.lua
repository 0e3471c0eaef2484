-- pending_wp_expiry (spec 10 §A.6) over the spec 10 §C recipes: one full cycle (h:once)
-- compared with the state the exact §A call leaves (spec/helpers/exec_cases.lua).
local env_mod = require "spec.helpers.env"
local cases = require "spec.helpers.exec_cases"
local F = require "ff.fixtures"
local K = require "ff.keys"

local hgetall, zscore = env_mod.hgetall, env_mod.zscore
local close_wp = cases.close_wp

describe("pending_wp_expiry", function()
  local r
  local T, W = F.T, F.W
  local once, case, unchanged = cases.suite(function(env) r = env.r end)

  local PW = F.pending_wp_expiry
  it("acting case: closes the waitpoint, execution untouched", function()
    assert.same({ 1, "OK" }, case(PW.acting, "pending_wp_expiry", close_wp(true), { 1, 0, 0 }))
    local wp = hgetall(r, K.waitpoint(T, W))
    assert.equal("closed", wp.state)
    assert.equal("never_committed", wp.close_reason)
    assert.is_nil(zscore(r, K.pending_waitpoint_expiry(T), W))
  end)
  it("no-op: not yet due", function() unchanged(PW.not_yet_due, "pending_wp_expiry", { 0, 0, 0 }) end)
  it("fix: already closed is counted once (skipped) and its entry removed", function()
    assert.same({ 1, "OK", "already_closed" }, case(PW.already_closed, "pending_wp_expiry", close_wp(true), { 0, 0, 1 }))
    assert.same({ 0, 0, 0 }, { once("pending_wp_expiry") })
  end)
  it("unknown state: a skip (not processed), entry stays", function()
    assert.same({ 0, "waitpoint_not_open" }, case(PW.unknown_state, "pending_wp_expiry", close_wp(true), { 0, 0, 1 }))
    assert.equal(1000, zscore(r, K.pending_waitpoint_expiry(T), W))
  end)
  it("fix: missing waitpoint is a skip and its entry is removed", function()
    assert.same({ 0, "waitpoint_not_found" },
      case(PW.missing_waitpoint, "pending_wp_expiry", close_wp(false), { 0, 0, 1 }))
    assert.same({}, env_mod.data_keys(r))
  end)
end)
