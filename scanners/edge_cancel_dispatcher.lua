-- edge_cancel_dispatcher (FlowFabric v34, spec 30 §8): cancels the siblings a
-- fired AnyOf/Quorum edge group with on_satisfied = cancel_remaining left
-- running, then drains the group (ff_drain_sibling_cancel_group). Flow
-- partitions {fp:N}; every 1 s; up to 50 groups per partition per cycle
-- (SRANDMEMBER of ff:idx:{fp:N}:pending_cancel_groups, members
-- "<flow_id>|<downstream_eid>"), up to 1024 siblings per group per cycle.
-- Idle unless the loaded library is version 34. The filter is not applied:
-- siblings are cancelled whatever their namespace (EC3, as v34).
-- processed = groups drained; errors = malformed tuples (removed), sibling
-- cancels and drains that failed. A group with a failed cancel is retried
-- next cycle, not drained.
-- scanhost (README "Where scanhost's own scanners differ"), wire contract kept:
-- * a sibling already terminal or gone counts as such (already_terminal /
--   not_found) and the group drains, as FlowFabric intended (D1); v34 retries
--   such a group every second until edge_cancel_reconciler finishes it;
-- * more than 1024 siblings: the rest are cancelled in the next cycles before
--   the group drains (v34 drains them away uncancelled, EC1);
-- * a failed drain or cancel is an error, not silence (EC2);
-- * a page's groups are read, their siblings cancelled and the groups drained
--   together: each step one pipeline for the whole page, not round trips per
--   group or per sibling.
local reply = require "ff.reply"
local selection = require "ff.selection"
local util = require "ff.util"
local V = require "ff.v34"
local cancel = require "ff.cancel"
local sibling = require "ff.sibling"
local batch = require "ff.batch"

local progress = {} -- group member -> siblings already dealt with (EC1)

local FIELDS = { "cancel_siblings_reason", "cancel_siblings_pending_members",
  "cancel_siblings_pending_flag" }

-- siblings(members) -> the "|"-separated ids, empty tokens dropped.
local function siblings(members)
  local out = {}
  for s in members:gmatch("[^|]+") do out[#out + 1] = s end
  return out
end

-- share(ctx, d): this cycle's share of group d's siblings (EC1: at most
-- ctx.config.siblings, from where the last cycle stopped): d.eids to
-- cancel, d.disp counting the tokens that are no execution id as not found,
-- d.upto the last one taken.
local function share(ctx, d)
  local from = progress[d.g] or 0
  d.upto = math.min(#d.list, from + ctx.config.siblings)
  d.eids, d.disp = {}, { cancelled = 0, already_terminal = 0, not_found = 0 }
  for i = from + 1, d.upto do
    if V.exec_tag(d.list[i]) then
      d.eids[#d.eids + 1] = d.list[i]
    else
      ctx.log:warn("sibling is not an execution id", { group = d.g, sibling = d.list[i] })
      d.disp.not_found = d.disp.not_found + 1
    end
  end
end

-- settled(ctx, acc, d, calls) -> true when every sibling of group d got a
-- final disposition and none is left for a later cycle (it may drain).
local function settled(ctx, acc, d, calls)
  local final = true
  for _, c in ipairs(calls) do
    local disp, detail = cancel.disposition(c)
    if disp == "retry" then
      final = false
      util.failed(ctx, c.transport and "transport", "sibling cancel failed",
        { group = d.g, execution_id = c.item, error = tostring(detail) })
    else
      d.disp[disp] = d.disp[disp] + 1
    end
  end
  ctx.log:debug("sibling cancels", { group = d.g, reason = d.reason, dispatched = #d.eids,
    cancelled = d.disp.cancelled, already_terminal = d.disp.already_terminal,
    not_found = d.disp.not_found })
  if not final then
    acc.errors = acc.errors + 1
    return false
  end
  progress[d.g] = d.upto < #d.list and d.upto or nil
  return d.upto >= #d.list
end

-- drain(ctx, acc, ready): ff_drain_sibling_cancel_group for each group whose
-- siblings are done, one pipeline.
local function drain(ctx, acc, ready)
  if #ready == 0 then return end
  local cmds = {}
  for i, d in ipairs(ready) do
    cmds[i] = batch.fcall_cmd("ff_drain_sibling_cancel_group",
      { V.pending_cancel_groups(ctx.tag), d.G }, { d.fid, d.ds })
  end
  for i, r in ipairs(ctx.redis:pipeline(cmds)) do
    local d = ready[i]
    if type(r) == "table" and r[1] == 1 then
      acc.processed = acc.processed + 1
      ctx.log:debug("sibling cancel group drained", { group = d.g, detail = tostring(r[3]) })
    else
      acc.errors = acc.errors + 1
      util.failed(ctx, type(r) == "table" and r.transport and "transport",
        "draining sibling cancel group failed",
        { group = d.g, error = tostring(type(r) == "table" and (r.err or r[2]) or r) })
    end
  end
end

-- read_groups(ctx, acc, groups) -> the well-formed groups with their
-- request (d.reason, d.list, d.cancel), their HMGETs in one pipeline
-- (spec 30 §8.A); a malformed member is removed, a failed read an error.
local function read_groups(ctx, acc, groups)
  local parsed, cmds = {}, {}
  for _, g in ipairs(groups) do
    local fid, ds = sibling.parse(ctx, acc, g)
    if fid then
      local d = { g = g, fid = fid, ds = ds, G = V.edgegroup(ctx.tag, fid, ds) }
      parsed[#parsed + 1] = d
      cmds[#cmds + 1] = { "HMGET", d.G, unpack(FIELDS) }
    end
  end
  local out = {}
  for i, v in ipairs(#cmds > 0 and ctx.redis:pipeline(cmds) or {}) do
    local d = parsed[i]
    local err, transport = batch.err_of(v)
    if err then
      acc.errors = acc.errors + 1
      util.failed(ctx, transport and "transport", "reading edge group failed",
        { group = d.g, error = err })
    else
      local reason, members, flag = v[1] or "", v[2] or "", v[3] or ""
      d.cancel = flag ~= "" or members ~= ""
      d.reason = reason ~= "" and reason or "sibling_quorum_satisfied"
      d.list = siblings(members)
      out[#out + 1] = d
    end
  end
  return out
end

-- dispatch(ctx, acc, groups): a page of pending_cancel_groups members: read
-- them, cancel every group's share of siblings (two round trips for all),
-- then drain the groups that are done (one more).
local function dispatch(ctx, acc, groups)
  local asking, sets, ready = {}, {}, {}
  for _, d in ipairs(read_groups(ctx, acc, groups)) do
    if d.cancel then
      share(ctx, d)
      asking[#asking + 1] = d
      sets[#sets + 1] = { reason = d.reason, eids = d.eids }
    else
      ready[#ready + 1] = d
    end
  end
  if ctx:stopping() then return end
  for i, calls in ipairs(cancel.run_many(ctx, sets)) do
    if settled(ctx, acc, asking[i], calls) then ready[#ready + 1] = asking[i] end
  end
  drain(ctx, acc, ready)
end

local function scan(ctx)
  local groups = sibling.sample(ctx)
  if not groups then return 0, 1 end
  local acc = reply.new_acc()
  dispatch(ctx, acc, groups)
  return acc.processed, acc.errors
end

return {
  name = "edge_cancel_dispatcher",
  family = "flow",
  interval = 1,
  library_versions = { "34" },
  defaults = { batch = 50, siblings = 1024 },
  bounds = { batch = { integer = true, min = 1, max = 10000 },
    siblings = { integer = true, min = 1, max = 100000 } },
  select = selection.nonempty(function(_, tag) return { V.pending_cancel_groups(tag) } end),
  scan = scan,
}
