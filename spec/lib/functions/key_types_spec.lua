-- Every key a function of scanhost's own library writes, replaced in turn by a
-- key of another Redis type (or created as one): the function must refuse or
-- raise BEFORE its first write. Redis does not roll a function back when a
-- command raises (WRONGTYPE) half-way, so a check after the first write would
-- leave the record half-changed. Asserted for every 0.1.1 maintenance
-- function on its acting recipe (each execution path of ff_expire_execution
-- and ff_expire_suspension), and for the derived keys they build themselves.
local env_mod = require "spec.helpers.env"
local F = require "ff.fixtures"
local FX = require "ff.fixtures_flow"
local K = require "ff.keys"
local X = require "ff.exec_fcall"

local T, E, W = F.T, F.E, F.W
local I, KF = FX.ids, FX.keys
local NOW = 1713600000000

local function lane(suffix) return K.lane(T, "default", suffix) end

local EXPIRE_P = { lane = "default", ai = "0", wiid = "wi1" }
local SUSP_P = { lane = "default", ai = "0", wp = W }

local CASES = {
  { name = "ff_mark_lease_expired_if_due", seed = F.lease_expiry.acting,
    keys = function() return X.mark_lease_expired_keys(T, E) end, args = function() return { E } end,
    derived = { K.stream_meta(T, E, 0) } },
  { name = "ff_promote_delayed", seed = F.delayed_promoter.acting,
    keys = function() return X.promote_delayed_keys(T, E, "default") end,
    args = function(now) return { E, now } end },
  { name = "ff_expire_execution", path = "active", seed = F.attempt_timeout.active,
    keys = function() return X.expire_execution_keys(T, E, EXPIRE_P) end,
    args = function() return { E, "attempt_timeout" } end },
  { name = "ff_expire_execution", path = "suspended", seed = F.attempt_timeout.suspended,
    keys = function() return X.expire_execution_keys(T, E, EXPIRE_P) end,
    args = function() return { E, "attempt_timeout" } end },
  { name = "ff_expire_execution", path = "runnable", seed = F.attempt_timeout.runnable,
    keys = function() return X.expire_execution_keys(T, E, EXPIRE_P) end,
    args = function() return { E, "attempt_timeout" } end,
    derived = { lane("eligible"), lane("delayed"), lane("blocked:dependencies") } },
  { name = "ff_expire_suspension", seed = F.suspension_timeout.acting,
    keys = function() return X.expire_suspension_keys(T, E, SUSP_P) end, args = function() return { E } end },
  { name = "ff_close_waitpoint", seed = F.pending_wp_expiry.acting,
    keys = function() return X.close_waitpoint_keys(T, W, E) end,
    args = function() return { W, "expired" } end },
  { name = "ff_unblock_execution", seed = function(r) FX.unblock_budget(r, NOW) end,
    keys = function() return { KF.core(I.E1), KF.lane("blocked:budget"), KF.lane("eligible") } end,
    args = function() return { I.E1, tostring(NOW), "waiting_for_budget" } end },
  { name = "ff_resolve_dependency", seed = function(r) FX.dependency(r, NOW) end,
    keys = function()
      return { KF.core(I.E1), KF.exec(I.E1, "deps:meta"), KF.exec(I.E1, "deps:unresolved"),
        KF.exec(I.E1, "dep:d1"), KF.lane("eligible"), KF.lane("terminal"),
        KF.lane("blocked:dependencies"), K.attempt(I.tag, I.E1, "0"), K.stream_meta(I.tag, I.E1, "0"),
        KF.exec(I.E1, "payload"), KF.exec(I.U, "result") }
    end,
    args = function() return { "d1", "success", tostring(NOW) } end },
  { name = "ff_reset_budget", seed = function(r) FX.budget_reset(r, NOW) end,
    keys = function() return { KF.budget(), KF.budget("usage"), KF.budget_resets() } end,
    args = function() return { I.B, tostring(NOW) } end },
}

-- The key as another type: a hash, zset, set or stream becomes a string; a
-- string or a missing key becomes a hash.
local function retype(r, key)
  local t = r:call("TYPE", key)
  assert(r:call("DEL", key))
  if t == "string" or t == "none" then
    assert(r:call("HSET", key, "wrong", "type"))
  else
    assert(r:call("SET", key, "wrong type"))
  end
end

local function without(snapshot, key)
  local out = {}
  for k, v in pairs(snapshot) do
    if k ~= key then out[k] = v end
  end
  return out
end

describe("a key of the wrong type", function()
  local env, r

  setup(function()
    env = env_mod.start()
    r = env.r
  end)
  teardown(function() env:stop() end)

  for _, c in ipairs(CASES) do
    local label = c.name .. (c.path and (" (" .. c.path .. ")") or "")
    it(label .. ": refused or raised before any write, for every key it writes", function()
      local keys = c.keys()
      for _, k in ipairs(c.derived or {}) do keys[#keys + 1] = k end
      local half_done = {}
      for _, key in ipairs(keys) do
        env:flush()
        c.seed(r)
        retype(r, key)
        local before = without(env_mod.dump(r), key)
        local reply, err = r:fcall(c.name, c.keys(), c.args(env_mod.now_ms(r)))
        local refused = reply == nil or (type(reply) == "table" and reply[1] == 0)
        if refused then
          local after = without(env_mod.dump(r), key)
          if not pcall(assert.same, before, after) then
            half_done[#half_done + 1] = ("%s -> %s"):format(key, tostring(err or reply[2]))
          end
        end
      end
      assert.are.same({}, half_done)
    end)
  end
end)
