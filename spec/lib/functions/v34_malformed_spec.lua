-- Malformed data for scanhost's v34 functions, in the manner of
-- tests/faults/malformed*_spec.lua but calling the functions directly: each
-- case's record is built (ff.fixtures_v34 and ff.fixtures recipes), then one
-- piece of it is spoiled:
--  * every field of every hash it owns (and every string value) set in turn
--    to "", "x!" and a 40-digit number;
--  * every key it owns replaced by a value of another type (a string, or a
--    hash for a string key, and a list).
-- The function is called once. Asserted: a refusal ({0, ...}) or an error
-- reply leaves the keyspace exactly as it was: nothing is ever written before
-- a check fails, so no call raises after its first write.
local S = require "spec.helpers.env"
local V = require "ff.fixtures_v34"
local F = require "ff.fixtures"
local keys = require "ff.keys"

local VARIANTS = { "", "x!", ("9"):rep(40) }
local NOW = 1713600000000
local env, srv, h

setup(function() env = S.start(S.SECTION_C); srv, h = env.srv, env.r end)
teardown(function() env:stop() end)

local function fcall(name, k, a) return h:fcall(name, k, a) end

local function resolve(outcome)
  return function(c)
    local k, a = V.resolve_call(c, "D1", "U", outcome, NOW)
    return fcall("ff_resolve_dependency", k, a)
  end
end

local function cancel(o)
  return function(c) return fcall("ff_cancel_execution", V.cancel_call(c, "E1", o)) end
end

local function flow_open(members)
  return function()
    local c = V.ctx()
    h:call("HSET", V.flow(c, "core"), "flow_id", c.ids.F, "public_flow_state", "open")
    for _, m in ipairs(members) do h:call("SADD", V.flow(c, "members"), c.ids[m]) end
    return c
  end
end

local EXTRAS = '[{"waitpoint_id":"x1"}]'

local CASES = {
  { name = "resolve AllOf (C.4)", build = V.dependency_reconciler.all_of, call = resolve("success") },
  { name = "resolve AllOf impossible (C.4)", build = V.dependency_reconciler.all_of_impossible,
    call = resolve("failed") },
  { name = "resolve AnyOf + cancel_remaining (C.4)", build = V.dependency_reconciler.any_of,
    call = resolve("success") },
  { name = "resolve AnyOf impossible (C.4)", build = V.dependency_reconciler.any_of_impossible,
    call = resolve("failed") },
  { name = "cancel runnable (C.1)", build = V.cancel_reconciler.acting, call = cancel() },
  { name = "cancel active", call = cancel({ wiid = "wi1" }), build = function()
    local c = V.ctx()
    F.attempt_timeout.active(h, { eid = c.ids.E1, fields = { flow_id = c.ids.F } })
    h:call("HSET", keys.stream_meta(c.tag, c.ids.E1, 0), "x", "y")
    return c
  end },
  { name = "cancel suspended", call = cancel({ wp = F.W }), build = function()
    local c = V.ctx()
    F.suspension_timeout.acting(h, { eid = c.ids.E1, suspension = { additional_waitpoints_json = EXTRAS } })
    h:call("HSET", keys.waitpoint(c.tag, "x1"), "state", "active", "execution_id", c.ids.E1)
    h:call("HSET", keys.waitpoint_condition(c.tag, "x1"), "closed", "0")
    return c
  end },
  { name = "ack (C.1)", build = V.cancel_reconciler.two_members,
    call = function(c) return fcall("ff_ack_cancel_member", V.ack_call(c, "E1")) end },
  { name = "drain (C.2)", build = V.edge_cancel_dispatcher.acting,
    call = function(c) return fcall("ff_drain_sibling_cancel_group", V.group_call(c)) end },
  { name = "reconcile (C.3)", build = V.edge_cancel_reconciler.sibling_terminal,
    call = function(c) return fcall("ff_reconcile_sibling_cancel_group", V.group_call(c)) end },
  { name = "set_edge_group_policy", build = flow_open({}), call = function(c)
    return fcall("ff_set_edge_group_policy", { V.flow(c, "core"), V.edgegroup(c) },
      { "quorum", "cancel_remaining", "2", tostring(NOW) })
  end },
  { name = "cancel_flow", build = flow_open({ "E1", "E2" }), call = function(c)
    return fcall("ff_cancel_flow", { V.flow(c, "core"), V.flow(c, "members"), keys.flow_index(c.tag),
      V.pending_cancels(c), V.cancel_backlog(c) }, { c.ids.F, "r", "cancel_all", "0", "" })
  end },
  -- only what the v34 addition reads: the suspension record and the extra
  -- waitpoint (the 0.1.1 part raises WRONGTYPE after writing when one of its
  -- index keys has another type; it is not changed here)
  { name = "expire_suspension, v34 extras", only = "suspension:current$|:x1", build = function()
    local s = F.suspension_timeout.acting(h, { suspension = { additional_waitpoints_json = EXTRAS } })
    h:call("HSET", keys.waitpoint(s.tag, "x1"), "state", "active", "execution_id", s.eid)
    return s
  end, call = function(s)
    return fcall("ff_expire_suspension", {
      keys.core(s.tag, s.eid), keys.suspension_current(s.tag, s.eid), keys.waitpoint(s.tag, s.wid),
      keys.waitpoint_condition(s.tag, s.wid), keys.attempt(s.tag, s.eid, 0),
      keys.stream_meta(s.tag, s.eid, 0), keys.suspension_timeout(s.tag),
      keys.lane(s.tag, "default", "suspended"), keys.lane(s.tag, "default", "terminal"),
      keys.lane(s.tag, "default", "eligible"), keys.lane(s.tag, "default", "delayed"),
      keys.lease_history(s.tag, s.eid),
    }, { s.eid })
  end },
}

-- Every key the case's record owns, with its type, in order.
local function owned(case)
  env:flush()
  case.build(h)
  local dump = S.dump(h)
  local out = {}
  for k in pairs(dump) do out[#out + 1] = { key = k, type = h:call("TYPE", k) } end
  table.sort(out, function(a, b) return a.key < b.key end)
  for _, o in ipairs(out) do
    if type(o.type) == "table" then o.type = o.type.ok end
    o.fields = {}
    if o.type == "hash" then
      for f in pairs(dump[o.key]) do o.fields[#o.fields + 1] = f end
      table.sort(o.fields)
    end
  end
  return out
end

-- The spoilers of one key: field values, then other types.
local function spoilers(o)
  local out = {}
  for _, f in ipairs(o.fields) do
    for _, v in ipairs(VARIANTS) do
      out[#out + 1] = { label = ("%s %s=%q"):format(o.key, f, v), fn = function() h:call("HSET", o.key, f, v) end }
    end
  end
  if o.type == "string" then
    for _, v in ipairs(VARIANTS) do
      out[#out + 1] = { label = ("%s=%q"):format(o.key, v), fn = function() h:call("SET", o.key, v) end }
    end
  end
  local other = o.type == "string" and { "hash", "list" } or { "string", "list" }
  for _, t in ipairs(other) do
    out[#out + 1] = { label = o.key .. " as a " .. t, fn = function()
      h:call("DEL", o.key)
      if t == "string" then h:call("SET", o.key, "x")
      elseif t == "hash" then h:call("HSET", o.key, "x", "y")
      else h:call("RPUSH", o.key, "x") end
    end }
  end
  return out
end

describe("v34 functions on malformed data", function()
  for _, case in ipairs(CASES) do
    it(case.name .. ": a refusal or an error reply never comes after a write", function()
      local problems, calls, refusals, raises = {}, 0, 0, 0
      for _, o in ipairs(owned(case)) do
        local wanted = not case.only
        for alt in (case.only or ""):gmatch("[^|]+") do wanted = wanted or o.key:find(alt) ~= nil end
        for _, sp in ipairs(wanted and spoilers(o) or {}) do
          env:flush()
          local c = case.build(h)
          sp.fn()
          local before = S.dump(h)
          local reply, err = case.call(c)
          calls = calls + 1
          local refused = reply == nil or (type(reply) == "table" and reply[1] == 0)
          if reply == nil then raises = raises + 1 elseif refused then refusals = refusals + 1 end
          if refused and not require("luassert.util").deepcompare(before, S.dump(h), true) then
            problems[#problems + 1] = ("%s: %s after writing"):format(sp.label,
              reply == nil and ("raised " .. tostring(err)) or ("refused " .. tostring(reply[2])))
          end
        end
      end
      assert.is_true(calls > 0)
      io.stderr:write(("# %s: %d calls, %d refusals, %d error replies\n"):format(case.name, calls,
        refusals, raises))
      assert.same({}, problems)
    end)
  end
end)
