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
-- * a group's pre-reads and cancels are two pipelines, not two round trips per
--   sibling.
local reply = require "ff.reply"
local selection = require "ff.selection"
local util = require "ff.util"
local V = require "ff.v34"
local cancel = require "ff.cancel"
local sibling = require "ff.sibling"

local progress = {} -- group member -> siblings already dealt with (EC1)

local FIELDS = { "cancel_siblings_reason", "cancel_siblings_pending_members",
  "cancel_siblings_pending_flag" }

-- siblings(members) -> the "|"-separated ids, empty tokens dropped.
local function siblings(members)
  local out = {}
  for s in members:gmatch("[^|]+") do out[#out + 1] = s end
  return out
end

-- cancel_siblings(ctx, acc, g, list, reason) -> true when every sibling of
-- this cycle's share got a final disposition.
local function cancel_siblings(ctx, acc, g, list, reason)
  local from = progress[g] or 0
  local upto = math.min(#list, from + ctx.config.siblings)
  local eids, disp = {}, { cancelled = 0, already_terminal = 0, not_found = 0 }
  for i = from + 1, upto do
    if V.exec_tag(list[i]) then
      eids[#eids + 1] = list[i]
    else
      ctx.log:warn("sibling is not an execution id", { group = g, sibling = list[i] })
      disp.not_found = disp.not_found + 1
    end
  end
  local final = true
  for _, c in ipairs(cancel.run(ctx, reason, eids)) do
    local d, detail = cancel.disposition(c)
    if d == "retry" then
      final = false
      util.failed(ctx, c.transport and "transport", "sibling cancel failed",
        { group = g, execution_id = c.item, error = tostring(detail) })
    else
      disp[d] = disp[d] + 1
    end
  end
  ctx.log:debug("sibling cancels", { group = g, reason = reason, dispatched = #eids,
    cancelled = disp.cancelled, already_terminal = disp.already_terminal,
    not_found = disp.not_found })
  if not final then
    acc.errors = acc.errors + 1
    return false
  end
  progress[g] = upto < #list and upto or nil
  return upto >= #list
end

local function drain(ctx, acc, g, fid, ds, G)
  local r, err = ctx.redis:fcall("ff_drain_sibling_cancel_group",
    { V.pending_cancel_groups(ctx.tag), G }, { fid, ds })
  if type(r) == "table" and r[1] == 1 then
    acc.processed = acc.processed + 1
    ctx.log:debug("sibling cancel group drained", { group = g, detail = tostring(r[3]) })
    return
  end
  acc.errors = acc.errors + 1
  ctx.log:warn("draining sibling cancel group failed",
    { group = g, error = tostring(err or (type(r) == "table" and r[2]) or r) })
end

-- dispatch(g): one pending_cancel_groups member (spec 30 §8.A).
local function dispatch(ctx, acc, g)
  local fid, ds = sibling.parse(ctx, acc, g)
  if not fid then return end
  local G = V.edgegroup(ctx.tag, fid, ds)
  local v, err, kind = ctx.redis:call("HMGET", G, unpack(FIELDS))
  if not v then
    acc.errors = acc.errors + 1
    return util.failed(ctx, kind, "reading edge group failed", { group = g, error = tostring(err) })
  end
  local reason, members, flag = v[1] or "", v[2] or "", v[3] or ""
  if flag ~= "" or members ~= "" then
    if reason == "" then reason = "sibling_quorum_satisfied" end
    if not cancel_siblings(ctx, acc, g, siblings(members), reason) then return end
  end
  drain(ctx, acc, g, fid, ds, G)
end

local function scan(ctx)
  local groups = sibling.sample(ctx)
  if not groups then return 0, 1 end
  return reply.each(ctx, groups, dispatch)
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
