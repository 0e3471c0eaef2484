-- ff.filter: FlowFabric v34's scanner filter (spec 30 §3.4), fail-closed.
-- The host hands it as ctx.filter = { namespace = "...", tag = { key =, value = } }
-- (config key `filter`; nil or empty = the no-op filter: no command, no skip).
-- A candidate (an execution id) is kept only when
--   * it parses as an execution id,
--   * namespace set: HGET ff:exec:{fp:M}:<eid>:core namespace is byte-equal,
--   * tag set: the tag key matches ^[a-z][a-z0-9_]*\.[a-z0-9_][a-z0-9_.]*$ and
--     HGET ff:exec:{fp:M}:<eid>:tags <key> is byte-equal to the value,
-- where {fp:M} is the id's own tag. Nil, another value, an error reply: skip.
-- A bad tag key skips every candidate without sending anything. A skipped
-- candidate is neither processed nor an error and leaves the tracker alone.
-- scanhost: the reads of a whole page go out in ONE pipeline (at most one
-- extra round trip per page, never one per item); both HGETs of a candidate
-- are sent together (they only read).
local K = require "ff.keys"
local P = require "ff.partition"
local V = require "ff.v34"

local M = {}

-- valid_tag_key(key): spec 30 §3.4 step 5's rule.
function M.valid_tag_key(key)
  return type(key) == "string" and key:match("^[a-z][a-z0-9_]*%.[a-z0-9_][a-z0-9_.]*$") ~= nil
end

-- active(ctx): a filter with a namespace or a tag is configured.
function M.active(ctx)
  local f = ctx.filter
  return f ~= nil and (f.namespace ~= nil or f.tag ~= nil)
end

-- reads(f, eid) -> the HGETs deciding eid, or false: skip without a read.
local function reads(f, eid)
  local T = V.exec_tag(eid)
  if not T then return false end
  if f.tag and not M.valid_tag_key(f.tag.key) then return false end
  local cmds = {}
  if f.namespace then cmds[#cmds + 1] = { "HGET", K.core(T, eid), "namespace" } end
  if f.tag then cmds[#cmds + 1] = { "HGET", K.exec(T, eid, "tags"), f.tag.key } end
  return cmds
end

-- wanted(f) -> the values the reads must return, in the order of reads().
local function wanted(f)
  local w = {}
  if f.namespace then w[#w + 1] = f.namespace end
  if f.tag then w[#w + 1] = f.tag.value end
  return w
end

-- keep(ctx, items[, eid_of]) -> the items the filter keeps, in order (all of
-- them, with no command, for the no-op filter). eid_of(item) gives an item's
-- candidate id (default: the item itself); an item whose eid_of is nil is
-- skipped.
function M.keep(ctx, items, eid_of)
  if not M.active(ctx) or #items == 0 then return items end
  local f, want = ctx.filter, wanted(ctx.filter)
  local cmds, first = {}, {}
  for i, item in ipairs(items) do
    local eid = eid_of and eid_of(item) or (not eid_of and item)
    local r = eid and reads(f, eid)
    if r then
      first[i] = #cmds + 1
      for _, c in ipairs(r) do cmds[#cmds + 1] = c end
    end
  end
  local res = #cmds > 0 and ctx.redis:pipeline(cmds) or {}
  local kept = {}
  for i, item in ipairs(items) do
    local ok = first[i] ~= nil
    for j = 1, ok and #want or 0 do
      ok = ok and res[first[i] + j - 1] == want[j]
    end
    if ok then
      kept[#kept + 1] = item
    else
      ctx.log:debug("filtered out", { item = item })
    end
  end
  return kept
end

-- walk(ctx, flat) -> ff.zwalk's prefilter: the set of members of a page
-- (flat member, score, ... reply) the filter keeps; nil for the no-op filter.
function M.walk(ctx, flat)
  if not M.active(ctx) then return nil end
  local members = {}
  for i = 1, #flat, 2 do members[#members + 1] = flat[i] end
  local set = {}
  for _, m in ipairs(M.keep(ctx, members)) do set[m] = true end
  return set
end

-- pre_candidates(ctx, jobs) -> item -> execution id, for the jobs whose op
-- names its candidate through its pre-read (op.candidate == "pre":
-- pending_wp_expiry's waitpoint -> execution_id), in one pipeline.
local function pre_candidates(ctx, jobs)
  local cmds, items = {}, {}
  for _, job in ipairs(jobs) do
    if job.op.candidate == "pre" then
      for _, item in ipairs(job.items) do
        cmds[#cmds + 1] = job.op.pre(job.ctx, item)
        items[#items + 1] = item
      end
    end
  end
  local res = #cmds > 0 and ctx.redis:pipeline(cmds) or {}
  local eid = {}
  for i, item in ipairs(items) do
    if type(res[i]) == "string" then eid[item] = res[i] end
  end
  return eid
end

-- valid_ids(jobs): the v34 check alone (no filter): each job's items that
-- are not execution ids are dropped with a warning, in place, without the
-- filter's per-item copies. Jobs whose candidates come from their pre-read
-- are left alone (only the filter reads them).
function M.valid_ids(jobs)
  for _, job in ipairs(jobs) do
    if job.op.candidate ~= "pre" then
      local kept = {}
      for _, item in ipairs(job.items) do
        if P.parse_execution_id(item) then
          kept[#kept + 1] = item
        else
          job.ctx.log:warn("malformed execution id; skipping", { item = item, index = job.index })
        end
      end
      job.items = kept
    end
  end
end

-- candidates(ctx, jobs): the item checks of the due-item drain (ff.drain)
-- before their calls (spec 30 §3.3, §3.4), in place on each job.items
-- (jobs: ff.batch jobs). At library version 34 an index member that is not
-- an execution id is skipped with a warning and left in place (no call, not
-- counted); then the filter, one pipeline for all the jobs' candidates.
function M.candidates(ctx, jobs)
  local strict, active = V.is34(ctx), M.active(ctx)
  if not strict and not active then return end
  if not active then return M.valid_ids(jobs) end
  local via_pre = active and pre_candidates(ctx, jobs) or {}
  local flat = {}
  for _, job in ipairs(jobs) do
    local from_pre = job.op.candidate == "pre"
    if active or not from_pre then
      for _, item in ipairs(job.items) do
        if from_pre or V.exec_tag(item) then
          flat[#flat + 1] = { job = job, item = item, eid = from_pre and via_pre[item] or item }
        else
          job.ctx.log:warn("malformed execution id; skipping", { item = item, index = job.index })
        end
      end
      job.items = {}
    end
  end
  for _, c in ipairs(M.keep(ctx, flat, function(c) return c.eid end)) do
    c.job.items[#c.job.items + 1] = c.item
  end
end

return M
