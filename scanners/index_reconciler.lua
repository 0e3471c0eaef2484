-- index_reconciler (spec 10 §A.7): detection only. Walks all_executions with
-- SSCAN and checks that each execution sits in the lane index its state
-- implies; each inconsistency is logged (warn) and counted as processed.
-- Nothing is written; no failure tracker, no TIME. Improvements: each SSCAN
-- page is checked with two pipelined round trips (HMGETs, then ZSCOREs), and
-- a member SSCAN returns twice is checked once per partition scan (ff.walker).
-- The lane set a state implies is ff.util.lane_set.
local keys = require "ff.keys"
local util = require "ff.util"

-- expectations(ctx, acc, members) -> list of { eid, key, lp, es, os } to verify.
local function expectations(ctx, acc, members)
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
      local suffix = util.lane_set(lp, es, os)
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

-- check_page(ctx, st, members) -> processed, errors: two pipelined round
-- trips (the cores, then the expected indexes).
local function check_page(ctx, _, members)
  local acc = { processed = 0, errors = 0 }
  verify(ctx, acc, expectations(ctx, acc, members))
  return acc.processed, acc.errors
end

return require("ff.walker").scanner {
  name = "index_reconciler",
  interval = 45,
  now = false, -- detection only: no TIME
  sets = function(_, tag) return { keys.all_executions(tag) } end,
  page = check_page,
}
