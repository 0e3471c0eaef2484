-- suspension_timeout (spec 10 §A.5) over the spec 10 §C recipes: one full cycle (h:once)
-- compared with the state the exact §A call leaves (spec/helpers/exec_cases.lua).
local env_mod = require "spec.helpers.env"
local cases = require "spec.helpers.exec_cases"
local F = require "ff.fixtures"
local K = require "ff.keys"

local zscore = env_mod.zscore
local expire_susp = cases.expire_susp

describe("suspension_timeout", function()
  local r
  local T, E, W = F.T, F.E, F.W
  local once, case, unchanged = cases.suite(function(env) r = env.r end)

  local S = F.suspension_timeout
  local direct = expire_susp(W, "0", "default")
  for _, b in ipairs({ { "fail", "failed" }, { "cancel", "cancelled" }, { "expire", "expired" },
    { "auto_resume", "waiting" }, { "escalate", "suspended" } }) do
    it("acting case, behavior " .. b[1], function()
      local seed = function(rr) return S.acting(rr, { behavior = b[1] }) end
      assert.same({ 1, "OK", b[1], b[2] }, case(seed, "suspension_timeout", direct, { 1, 0, 0 }))
      assert.is_nil(zscore(r, K.suspension_timeout(T), E))
    end)
  end
  it("no-op: not yet due (record) keeps the entry", function()
    assert.same({ 1, "OK", "not_yet_due" }, case(S.not_yet_due_record, "suspension_timeout", direct, { 0, 0, 1 }))
    assert.equal(1000, zscore(r, K.suspension_timeout(T), E))
  end)
  for _, c in ipairs({ { "already_terminal", "not_suspended_cleaned" },
    { "no_suspension", "no_active_suspension_cleaned" }, { "no_suspension_id", "no_active_suspension_cleaned" },
    { "suspension_closed", "no_active_suspension_cleaned" } }) do
    it("no-op: " .. c[1], function()
      assert.same({ 1, "OK", c[2] }, case(S[c[1]], "suspension_timeout", direct, { 1, 0, 0 }))
      assert.is_nil(zscore(r, K.suspension_timeout(T), E))
    end)
  end
  it("no-op: missing core", function()
    assert.same({ 1, "OK", "not_found_cleaned" },
      case(S.missing_core, "suspension_timeout", expire_susp(nil, "0", "default"), { 1, 0, 0 }))
  end)
  it("fault (empty timeout_at): skipped, nothing written", function()
    unchanged(S.fault, "suspension_timeout", { 0, 0, 1 })
  end)
  it("fix: an empty waitpoint id / attempt index / lane writes no malformed key", function()
    local seed = function(rr)
      return S.acting(rr, { waitpoint = false, fields = { current_waitpoint_id = "",
        current_attempt_index = "", lane_id = "" } })
    end
    assert.same({ 1, "OK", "fail", "failed" }, case(seed, "suspension_timeout", expire_susp(nil, nil, "default"), { 1, 0, 0 }))
    assert.same({}, r:call("KEYS", "ff:wp:*"))
    assert.same({}, r:call("KEYS", "*lane::*"))
    assert.same({}, r:call("KEYS", "ff:attempt:*"))
    assert.same({}, r:call("KEYS", "ff:noop:*"))
  end)
end)
