-- index_reconciler (spec 10 §A.7): detection only. Walks all_executions with
-- SSCAN and checks that each execution sits in the lane index its state
-- implies; each inconsistency is logged (warn) and counted as processed.
-- Nothing is written; no failure tracker, no TIME. Improvements: each SSCAN
-- page is checked with two pipelined round trips (HMGETs, then ZSCOREs), and
-- a member SSCAN returns twice is checked once per partition scan.
local keys = require "ff.keys"
local scan_sel = require "ff.scan" -- select(): skip partitions with nothing to walk
local filter = require "ff.filter"

local RUNNABLE = {
  eligible_now = "eligible",
  not_eligible_until_time = "delayed",
  blocked_by_dependencies = "blocked:dependencies",
  blocked_by_budget = "blocked:budget",
  blocked_by_quota = "blocked:quota",
  blocked_by_route = "blocked:route",
  blocked_by_operator = "blocked:operator",
}

-- expected_suffix(lp, es, os) -> lane index suffix, or nil when not checked.
local function expected_suffix(lp, es, os)
  if lp == "active" then return os == "leased" and "active" or nil end
  if lp == "runnable" then return RUNNABLE[es] end
  if lp == "suspended" or lp == "terminal" then return lp end
  return nil
end

-- page_members(reply, seen) -> cursor, members | nil when malformed.
local function page_members(reply, seen)
  if type(reply) ~= "table" or #reply ~= 2 or type(reply[1]) ~= "string"
    or type(reply[2]) ~= "table" then
    return nil
  end
  local members = {}
  for _, m in ipairs(reply[2]) do
    if type(m) == "string" and not seen[m] then
      seen[m] = true
      members[#members + 1] = m
    end
  end
  return reply[1], members
end

-- expectations(ctx, acc, members) -> list of { eid, key, lp, es, os } to verify.
local function expectations(ctx, acc, members)
  members = filter.keep(ctx, members) -- spec 30 §3.4: before the HMGET
  local cmds = {}
  for i, eid in ipairs(members) do
    cmds[i] = { "HMGET", keys.core(ctx.tag, eid), "lifecycle_phase", "eligibility_state",
      "ownership_state", "lane_id" }
  end
  local res = ctx.redis:pipeline(cmds)
  local out = {}
  for i, eid in ipairs(members) do
    local v = res[i]
    if type(v) ~= "table" or v.err then
      acc.errors = acc.errors + 1
      ctx.log:warn("core read failed", { item = eid, error = tostring(v and v.err) })
    elseif not v[1] then
      acc.processed = acc.processed + 1
      ctx.log:warn("in all_executions but core missing", { item = eid })
    else
      local lp, es, os = v[1], v[2] or "", v[3] or ""
      local suffix = expected_suffix(lp, es, os)
      if suffix then
        local key = keys.lane(ctx.tag, v[4] or "default", suffix)
        out[#out + 1] = { eid = eid, key = key, lp = lp, es = es, os = os }
      end
    end
  end
  return out
end

-- verify(ctx, acc, checks): one pipelined ZSCORE per expectation.
local function verify(ctx, acc, checks)
  if #checks == 0 then return end
  local cmds = {}
  for i, c in ipairs(checks) do cmds[i] = { "ZSCORE", c.key, c.eid } end
  local res = ctx.redis:pipeline(cmds)
  for i, c in ipairs(checks) do
    local v = res[i]
    if type(v) == "table" and v.err then
      acc.errors = acc.errors + 1
      ctx.log:warn("index read failed", { item = c.eid, error = tostring(v.err) })
    elseif v == false or v == nil then
      acc.processed = acc.processed + 1
      ctx.log:warn("execution missing from its expected index", { item = c.eid,
        expected = c.key, lifecycle_phase = c.lp, eligibility_state = c.es, ownership_state = c.os })
    end
  end
end

return {
  name = "index_reconciler",
  family = "execution",
  interval = 45,
  defaults = { batch = 100 },  -- SSCAN COUNT
  bounds = { batch = { integer = true, min = 1, max = 10000 } },
  select = scan_sel.select_nonempty(function(_, tag) return { keys.all_executions(tag) } end),
  scan = function(ctx)
    local acc = { processed = 0, errors = 0 }
    local cursor, seen = "0", {}
    local set = keys.all_executions(ctx.tag)
    repeat
      local reply, err = ctx.redis:call("SSCAN", set, cursor, "COUNT", ctx.config.batch)
      local members
      cursor, members = page_members(reply, seen)
      if not cursor then
        ctx.log:warn("SSCAN failed", { error = tostring(err or "malformed reply") })
        return acc.processed, acc.errors + 1
      end
      if #members > 0 then verify(ctx, acc, expectations(ctx, acc, members)) end
    until cursor == "0"
    return acc.processed, acc.errors
  end,
}
