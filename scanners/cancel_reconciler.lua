-- cancel_reconciler (FlowFabric v34, spec 30 §7): finishes the member cancels
-- a cancel_all flow cancel still owes once its grace has passed. Flow
-- partitions {fp:N}; every 15 s; 50 due flows per partition (ZRANGEBYSCORE
-- of ff:idx:{fp:N}:cancel_backlog up to TIME), up to 500 owed members per flow
-- per cycle (SRANDMEMBER of its pending_cancels). Each member is cancelled
-- with ff_cancel_execution (ff.cancel) and acked with ff_ack_cancel_member,
-- which drops the flow from the backlog with its last member. Idle unless the
-- loaded library is version 34. The filter (ff.filter) applies per member: a
-- filtered member stays owed.
-- scanhost (README "Where scanhost's own scanners differ"), wire contract kept:
-- * a member already terminal or gone ({0,"execution_not_active"} /
--   {0,"execution_not_found"}) is acked, as FlowFabric intended: its flow
--   leaves the backlog instead of being re-cancelled every cycle (D1);
-- * the ack goes to the pending_cancels set and backlog that were read (the
--   scanned partition), not to the partition recomputed from the flow id, and
--   the backlog entry is removed as it is spelled (v34 removes the canonical
--   text F', which leaves a non-canonical entry behind for ever);
-- * a flow's pre-reads, cancels and acks are three pipelines (batch FCALLs
--   with scanhost's own library), not three round trips per member.
local keys = require "ff.keys"
local reply = require "ff.reply"
local selection = require "ff.selection"
local util = require "ff.util"
local batch = require "ff.batch"
local V = require "ff.v34"
local cancel = require "ff.cancel"
local filter = require "ff.filter"

-- ack_op(T, fid, entry): ff_ack_cancel_member for the members of flow fid
-- on T; the last ack removes the backlog entry as it is spelled there.
local function ack_op(T, fid, entry)
  local pkey, backlog = V.pending_cancels(T, fid), V.cancel_backlog(T)
  return { fn = "ff_ack_cancel_member",
    call = function(_, eid) return { pkey, backlog }, { eid, entry } end }
end

-- Drops the flow from the backlog (replies ignored: the next cycle retries).
local function forget(ctx, member, pkey)
  if pkey then ctx.redis:call("DEL", pkey) end
  ctx.redis:call("ZREM", V.cancel_backlog(ctx.tag), member)
end

-- members(ctx, acc, pkey, owed) -> the owed ids to cancel: malformed ones are
-- removed (errors), filtered ones left owed.
local function members(ctx, acc, pkey, owed)
  local good = {}
  for _, m in ipairs(owed) do
    if V.exec_tag(m) then
      good[#good + 1] = m
    else
      ctx.log:warn("pending cancel is not an execution id; removed", { member = m, set = pkey })
      ctx.redis:call("SREM", pkey, m)
      acc.errors = acc.errors + 1
    end
  end
  return filter.keep(ctx, good)
end

-- cancel_members(ctx, acc, fid, entry, reason, eids): cancel, then ack the final ones.
local function cancel_members(ctx, acc, fid, entry, reason, eids)
  local done = {}
  for _, c in ipairs(cancel.run(ctx, reason, eids)) do
    local d, detail = cancel.disposition(c)
    if d == "retry" then
      acc.errors = acc.errors + 1
      util.failed(ctx, c.transport and "transport", "member cancel failed",
        { flow_id = fid, execution_id = c.item, error = tostring(detail) })
    else
      ctx.log:debug("member cancel", { flow_id = fid, execution_id = c.item, disposition = d })
      done[#done + 1] = c.item
    end
  end
  if #done == 0 then return end
  for _, c in ipairs(batch.run(ctx, ack_op(ctx.tag, fid, entry), done)) do
    if c.err then
      acc.errors = acc.errors + 1
      util.failed(ctx, c.transport and "transport", "cancel ack failed",
        { flow_id = fid, execution_id = c.item, error = c.err })
    else
      acc.processed = acc.processed + 1
    end
  end
end

-- One backlog entry (spec 30 §7.A step 3).
local function reconcile_flow(ctx, acc, member)
  local fid = V.canonical(member)
  if not fid then
    ctx.log:warn("cancel backlog member is not a flow id; removed", { member = member })
    forget(ctx, member)
    acc.errors = acc.errors + 1
    return
  end
  local pkey, core = V.pending_cancels(ctx.tag, fid), keys.flow_core(ctx.tag, fid)
  local r = ctx.redis:pipeline({ { "EXISTS", core }, { "SRANDMEMBER", pkey, ctx.config.members },
    { "HGET", core, "cancel_reason" } })
  local err
  for _, x in ipairs(r) do
    if type(x) == "table" and x.err then err = x.err end
  end
  if err then
    acc.errors = acc.errors + 1
    ctx.log:warn("reading cancelled flow failed", { flow_id = fid, error = tostring(err) })
    return
  end
  if r[1] == 0 then return forget(ctx, member, pkey) end
  if #r[2] == 0 then return forget(ctx, member) end
  local reason = r[3] or "flow_cancelled"
  local eids = members(ctx, acc, pkey, r[2])
  if #eids > 0 then cancel_members(ctx, acc, fid, member, reason, eids) end
end

local function scan(ctx)
  local now = util.now(ctx)
  if not now then return 0, 1 end
  local due, err = ctx.redis:call("ZRANGEBYSCORE", V.cancel_backlog(ctx.tag), "-inf", now,
    "LIMIT", 0, ctx.config.batch)
  if not due then
    ctx.log:warn("reading cancel backlog failed", { error = tostring(err) })
    return 0, 1
  end
  return reply.each(ctx, due, reconcile_flow)
end

return {
  name = "cancel_reconciler",
  family = "flow",
  interval = 15,
  library_versions = { "34" },
  defaults = { batch = 50, members = 500 },
  bounds = { batch = { integer = true, min = 1, max = 10000 },
    members = { integer = true, min = 1, max = 100000 } },
  -- partitions with a cancel backlog; its size is ff_cancel_backlog_depth
  select = selection.sized(V.cancel_backlog),
  scan = scan,
}
