-- The execution scanners' specs (spec/scanners/): one full cycle (h:once) over
-- each spec 10 §C recipe compared with the state the exact §A call leaves
-- (timestamps normalised to "NOW"). Recipes sit on {fp:5} of 8 partitions.
local env_mod = require "spec.helpers.env"
local F = require "ff.fixtures"
local assert = require "luassert" -- a module does not see the spec's globals

local M = {}

local E, W = F.E, F.W
local X1 = "ff:exec:{fp:5}:" .. E

-- The exact §A calls, written out literally.
function M.mark(rr)
  return rr:fcall("ff_mark_lease_expired_if_due", { X1 .. ":core", X1 .. ":lease:current",
    "ff:idx:{fp:5}:lease_expiry", X1 .. ":lease:history" }, { E })
end

function M.promote(lane)
  return function(rr)
    return rr:fcall("ff_promote_delayed", { X1 .. ":core", "ff:idx:{fp:5}:lane:" .. lane .. ":delayed",
      "ff:idx:{fp:5}:lane:" .. lane .. ":eligible" }, { E, env_mod.now_ms(rr) })
  end
end

function M.expire(reason, lane, ai, wiid)
  return function(rr)
    local att = ai and ("ff:attempt:{fp:5}:" .. E .. ":" .. ai) or "ff:noop:{fp:5}"
    local meta = ai and ("ff:stream:{fp:5}:" .. E .. ":" .. ai .. ":meta") or "ff:noop:{fp:5}"
    return rr:fcall("ff_expire_execution", { X1 .. ":core", att, meta, X1 .. ":lease:current",
      X1 .. ":lease:history", "ff:idx:{fp:5}:lease_expiry",
      wiid and ("ff:idx:{fp:5}:worker:" .. wiid .. ":leases") or "ff:noop:{fp:5}",
      "ff:idx:{fp:5}:lane:" .. lane .. ":active", "ff:idx:{fp:5}:lane:" .. lane .. ":terminal",
      "ff:idx:{fp:5}:attempt_timeout", "ff:idx:{fp:5}:execution_deadline",
      "ff:idx:{fp:5}:lane:" .. lane .. ":suspended", "ff:idx:{fp:5}:suspension_timeout",
      X1 .. ":suspension:current" }, { E, reason })
  end
end

function M.expire_susp(wp, ai, lane)
  return function(rr)
    local noop = "ff:noop:{fp:5}"
    return rr:fcall("ff_expire_suspension", { X1 .. ":core", X1 .. ":suspension:current",
      wp and ("ff:wp:{fp:5}:" .. wp) or noop, wp and ("ff:wp:{fp:5}:" .. wp .. ":condition") or noop,
      ai and ("ff:attempt:{fp:5}:" .. E .. ":" .. ai) or noop,
      ai and ("ff:stream:{fp:5}:" .. E .. ":" .. ai .. ":meta") or noop,
      "ff:idx:{fp:5}:suspension_timeout", "ff:idx:{fp:5}:lane:" .. lane .. ":suspended",
      "ff:idx:{fp:5}:lane:" .. lane .. ":terminal", "ff:idx:{fp:5}:lane:" .. lane .. ":eligible",
      "ff:idx:{fp:5}:lane:" .. lane .. ":delayed", X1 .. ":lease:history" }, { E })
  end
end

function M.close_wp(eid)
  return function(rr)
    return rr:fcall("ff_close_waitpoint", { eid and (X1 .. ":core") or "ff:noop:{fp:5}",
      "ff:wp:{fp:5}:" .. W, "ff:idx:{fp:5}:pending_waitpoint_expiry" }, { W, "never_committed" })
  end
end

-- suite(bind) -> once, case, unchanged, in a scanner's describe block: the
-- block's environment over 8 partitions (env.suite: bind(env) hands it to
-- the spec) and the three runners that work on it.
function M.suite(bind)
  local env
  env_mod.suite(function(e)
    env = e
    bind(e)
  end, { partitions = 8 })
  local dump, normalize = env_mod.dump, env_mod.normalize

  local function snapshot(fn)
    local t0 = env_mod.now_ms(env.r)
    local a, b, c = fn()
    local t1 = env_mod.now_ms(env.r) + 1
    return normalize(dump(env.r), t0, t1), a, b, c
  end

  -- once(name[, host_opts]) with a fresh host (fresh failure tracker).
  local function once(name, host_opts)
    local h = env.new_host(host_opts)
    local p, e, s = h:once(name)
    h:close()
    return p, e, s
  end

  -- case(seed, scanner, direct, counts[, host_opts]) -> reply of direct;
  -- counts = { processed, errors, skipped } of one cycle
  local function case(seed, scanner, direct, counts, host_opts)
    env:flush()
    seed(env.r)
    local via_scan, p, e, s = snapshot(function() return once(scanner, host_opts) end)
    env:flush()
    seed(env.r)
    local reply
    local via_call = snapshot(function() reply = direct and direct(env.r) end)
    assert.same(counts, { p, e, s })
    assert.same(via_call, via_scan)
    return reply
  end

  local function unchanged(seed, scanner, counts, host_opts)
    env:flush()
    seed(env.r)
    local before = dump(env.r)
    local p, e, s = once(scanner, host_opts)
    assert.same(counts, { p, e, s })
    assert.same(before, dump(env.r))
  end

  return once, case, unchanged
end

return M
