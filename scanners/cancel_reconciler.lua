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
-- * a page's flows are read, filtered, cancelled and acked together: each
--   step one pipeline for every flow of the page (batch FCALLs with
--   scanhost's own library), not round trips per flow or per member.
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

-- members(ctx, acc, pkey, owed) -> the owed execution ids: malformed ones
-- are removed (errors).
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
  return good
end

-- settled(ctx, acc, fid, calls) -> the members whose cancel is final (to
-- ack); the others are errors, retried next cycle.
local function settled(ctx, acc, fid, calls)
  local done = {}
  for _, c in ipairs(calls) do
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
  return done
end

-- ack(ctx, acc, jobs): the acks of every flow's final members, one pipeline.
local function ack(ctx, acc, jobs)
  if #jobs == 0 then return end
  batch.run_many(ctx, jobs)
  for _, job in ipairs(jobs) do
    for _, c in ipairs(job.calls) do
      if c.err then
        acc.errors = acc.errors + 1
        util.failed(ctx, c.transport and "transport", "cancel ack failed",
          { flow_id = job.fid, execution_id = c.item, error = c.err })
      else
        acc.processed = acc.processed + 1
      end
    end
  end
end

-- cancel_flows(ctx, acc, flows): every owed member of every flow cancelled
-- (one round trip of pre-reads, one of calls), then the final ones acked.
local function cancel_flows(ctx, acc, flows)
  local sets, acks = {}, {}
  for i, f in ipairs(flows) do sets[i] = { reason = f.reason, eids = f.eids } end
  for i, calls in ipairs(cancel.run_many(ctx, sets)) do
    local f = flows[i]
    local done = settled(ctx, acc, f.fid, calls)
    if #done > 0 then
      acks[#acks + 1] = { ctx = ctx, op = ack_op(ctx.tag, f.fid, f.entry), items = done, fid = f.fid }
    end
  end
  ack(ctx, acc, acks)
end

local READS = 3 -- per flow: EXISTS core, SRANDMEMBER pending_cancels, HGET cancel_reason

-- owing(ctx, acc, f, r, at) -> f with its reason and owed members (f.owed),
-- or nil (a read failed, the flow is gone, or it owes nothing): spec 30 §7.A
-- step 3, on the pre-reads r[at..at+2].
local function owing(ctx, acc, f, r, at)
  for i = at, at + READS - 1 do
    if type(r[i]) == "table" and r[i].err then
      acc.errors = acc.errors + 1
      ctx.log:warn("reading cancelled flow failed", { flow_id = f.fid, error = tostring(r[i].err) })
      return nil
    end
  end
  if r[at] == 0 then return forget(ctx, f.entry, f.pkey) end
  if #r[at + 1] == 0 then return forget(ctx, f.entry) end
  f.reason = r[at + 2] or "flow_cancelled"
  f.owed, f.eids = members(ctx, acc, f.pkey, r[at + 1]), {}
  return f
end

-- filtered(ctx, flows) -> the flows with members to cancel (f.eids): the
-- filter reads every owed member of the page in one pipeline; a filtered
-- member stays owed.
local function filtered(ctx, flows)
  local items = {}
  for _, f in ipairs(flows) do
    for _, eid in ipairs(f.owed) do items[#items + 1] = { flow = f, eid = eid } end
  end
  for _, it in ipairs(filter.keep(ctx, items, function(it) return it.eid end)) do
    local eids = it.flow.eids
    eids[#eids + 1] = it.eid
  end
  local out = {}
  for _, f in ipairs(flows) do
    if #f.eids > 0 then out[#out + 1] = f end
  end
  return out
end

-- read_flows(ctx, acc, due) -> the due flows that owe cancels, their
-- pre-reads in one pipeline; a backlog member that is no flow id is removed.
local function read_flows(ctx, acc, due)
  local flows, cmds = {}, {}
  for _, member in ipairs(due) do
    local fid = V.canonical(member)
    if fid then
      local f = { fid = fid, entry = member, pkey = V.pending_cancels(ctx.tag, fid) }
      local core, n = keys.flow_core(ctx.tag, fid), #cmds
      cmds[n + 1], cmds[n + 2] = { "EXISTS", core }, { "SRANDMEMBER", f.pkey, ctx.config.members }
      cmds[n + 3] = { "HGET", core, "cancel_reason" }
      flows[#flows + 1] = f
    else
      ctx.log:warn("cancel backlog member is not a flow id; removed", { member = member })
      forget(ctx, member)
      acc.errors = acc.errors + 1
    end
  end
  local r = #cmds > 0 and ctx.redis:pipeline(cmds) or {}
  local out = {}
  for i, f in ipairs(flows) do out[#out + 1] = owing(ctx, acc, f, r, (i - 1) * READS + 1) end
  return filtered(ctx, out)
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
  local acc = reply.new_acc()
  local flows = read_flows(ctx, acc, due)
  if #flows > 0 and not ctx:stopping() then cancel_flows(ctx, acc, flows) end
  return acc.processed, acc.errors
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
