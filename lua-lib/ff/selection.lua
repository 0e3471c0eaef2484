-- ff.selection: the select(ctx, partitions) functions of the stock
-- scanners: which partitions of a chunk scan() must visit, found with one
-- pipeline for the whole chunk (idle cycles cost 2 round trips). Issue 14
-- (several instances): they claim the partitions they find work in
-- (ff.claim.pipeline) and act only on those they won.
local adaptive = require "ff.adaptive"
local claim = require "ff.claim"
local drain = require "ff.drain"
local reply = require "ff.reply"
local util = require "ff.util"

local M = {}

-- Item logs written during select() name the item's partition.
local PartitionLog = {}
PartitionLog.__index = PartitionLog
for _, level in ipairs({ "debug", "info", "warn", "error" }) do
  PartitionLog[level] = function(self, msg, fields)
    local f = { item_partition = self.p }
    for k, v in pairs(fields or {}) do f[k] = v end
    return self.log[level](self.log, msg, f)
  end
end

-- at_partition(ctx, p) -> ctx as seen from partition p (select()'s ctx.tag is
-- that of the chunk's first partition).
local function at_partition(ctx, p)
  if p == ctx.partition then return ctx end
  return setmetatable({ partition = p, tag = ctx:tag_for(p),
    log = setmetatable({ log = ctx.log, p = p }, PartitionLog) }, { __index = ctx })
end

-- FIRST_PASS_ITEMS: the most due members the first pass of due() reads
-- in its one discovery pipeline. A chunk whose first pages hold more (256
-- partitions x 50) reads only a head of each (FIRST_PASS_ITEMS / targets
-- members); a partition whose head is full has its whole first page read
-- later, a group at a time, in the round trip of the previous group's calls.
-- So besides the heads no step holds more than two groups of 2 x batch_max
-- members (one acted on, the next read ahead), and an idle cycle or a chunk
-- of small pages costs the round trips it did before.
M.FIRST_PASS_ITEMS = 1024

-- IN_FLIGHT: groups of calls sent before the oldest one's replies are
-- counted: while the client counts one group and prepares the next, the
-- server still has the others to run.
M.IN_FLIGHT = 2

-- GC_SLACK_KB: how much a drain lets its garbage grow the Lua heap before a
-- full collection. A full collection after every group bounded the heap as
-- well, but cost a fifth of the client's CPU per item. Each collection marks
-- the whole live heap: 2 MB rather than 1 MB between them cut the client's
-- instructions per item by 3% (delayed_promoter) to 7% (lease_expiry, whose
-- memo is live) for about 1 MB more peak RSS (callgrind; BENCH_ONLY=rss).
M.GC_SLACK_KB = 2048

-- first_pages(ctx, partitions, targets_of, now, size, budget) -> cmds,
-- jobs, owner: the first-page read of every target of every partition of a
-- chunk, of `size` members, where a target with an op reads a head of
-- min(size, budget / targets) members (job.read: what was asked).
local function first_pages(ctx, partitions, targets_of, now, size, budget)
  local cmds, jobs, owner = {}, {}, {}
  for _, p in ipairs(partitions) do
    local pctx = at_partition(ctx, p)
    for _, t in ipairs(targets_of(pctx, pctx.tag, now)) do
      jobs[#jobs + 1] = { p = p, ctx = pctx, op = t.op, index = t.index, read = size }
      owner[#owner + 1] = p
    end
  end
  local head = math.min(size, math.max(1, math.floor(budget / math.max(#jobs, 1))))
  for i, job in ipairs(jobs) do
    if job.op then job.read = head end
    cmds[i] = drain.page_cmd(job.op, job.index, now, 0, job.read)
  end
  return cmds, jobs, owner
end

-- observe_due(targets_of) -> an observe(ctx, partitions) function: what the
-- host runs instead of select() while the scanner is paused. One TIME and
-- one pipeline, no claim and no action: for every target, its oldest due
-- entry and the count of its due entries (ZCOUNT), so the backlog metrics
-- go on showing what piles up, exactly, without reading any page of
-- members (a paused scanner's cycle holds two values per target, however
-- deep the backlog). A failed read is one error.
function M.observe_due(targets_of)
  return function(ctx, partitions)
    local now = util.now(ctx)
    if not now then return {}, 0, 1 end
    local cmds, targets = {}, {}
    for _, p in ipairs(partitions) do
      local pctx = at_partition(ctx, p)
      for _, t in ipairs(targets_of(pctx, pctx.tag, now)) do
        targets[#targets + 1] = t
        cmds[#cmds + 1] = drain.page_cmd(t.op, t.index, now, 0, 1)
        cmds[#cmds + 1] = { "ZCOUNT", t.index, "-inf", now }
      end
    end
    local res = #cmds > 0 and ctx.redis:pipeline(cmds) or {}
    local errors = 0
    for i, t in ipairs(targets) do
      local head, count = res[2 * i - 1], res[2 * i]
      if type(head) ~= "table" or head.err or type(count) ~= "number" then
        local r = (type(head) ~= "table" or head.err) and head or count
        local rt = type(r) == "table" and r or {}
        errors = errors + 1
        util.failed(ctx, rt.transport and "transport", "index read failed",
          { index = t.index, error = tostring(rt.err or r) })
      elseif ctx.note_backlog then
        ctx:note_backlog(count, tonumber(head[2]), now)
      end
    end
    return {}, 0, errors
  end
end

-- take(queue, from, budget) -> the jobs of queue from `from` whose pages
-- hold at most budget members together (at least one job), and the next index.
local function take(queue, from, budget)
  local group, n, i = {}, 0, from
  while queue[i] and (#group == 0 or n + #queue[i].page.members <= budget) do
    group[#group + 1] = queue[i]
    n = n + #queue[i].page.members
    queue[i], i = nil, i + 1 -- the queue lets go of what it hands out
  end
  return group, i
end

-- due(targets_of) -> a select(ctx, partitions) function: the whole drain of
-- a chunk's due items. One TIME and one pipeline of first pages (of their
-- heads past FIRST_PASS_ITEMS) for the whole chunk; then pages are acted on
-- for all partitions, in round trips of at most 2 x batch_max due members,
-- two in flight (group k is sent while group k-1's replies are counted), and
-- the pages still to read (first pages past a full head, the next page of a
-- full page whose drain goes on: drain.resume) ride along with the calls.
-- Further pages queue behind every first page, so every partition is acted
-- on before a deep one takes a second turn. Pre-reads (if the op has one)
-- cost one more round trip per group. Returns wanted, processed, errors,
-- where wanted holds only the partitions scan() must go on with:
-- { now, from = { [index] = at } } for a failed page read (left for scan()
-- to retry and count), or a non-empty target without an op.
function M.due(targets_of)
  return function(ctx, partitions)
    -- a failed TIME is one error and selects nothing: the cycle goes on
    -- (or, for a lost connection, the host interrupts it)
    local now = util.now(ctx)
    if not now then return {}, 0, 1 end
    local size = adaptive.size(ctx.config)
    local cmds, jobs, owner = first_pages(ctx, partitions, targets_of, now, size, M.FIRST_PASS_ITEMS)
    local res, won, claim_errors = claim.pipeline(ctx, cmds, owner,
      function(_, r) return r.err ~= nil or #r > 0 end)
    local wanted, acc = {}, reply.new_acc()
    acc.errors = claim_errors
    local function want(job, at)
      wanted[job.p] = wanted[job.p] or { now = now, from = {} }
      wanted[job.p].from[job.index] = at
    end
    -- pages to act on, and pages to read (job.at: where; job.read: how
    -- many); queues: q.last counts what was ever put in, q.at is the next out
    local ready, pending = { at = 1, last = 0 }, { at = 1, last = 0 }
    local function put(q, job)
      q.last = q.last + 1
      q[q.last] = job
    end
    -- page(job, r): r is job's page read (or its error)
    local function page(job, r)
      if r.err then return want(job, job.at) end
      job.page = drain.to_page(job.op, r, job.read, job.at.offset)
      drain.note_backlog(ctx, job.page, job.at.offset, now)
      if #job.page.members == 0 then return end
      if not job.op then return want(job, drain.START) end
      put(ready, job)
    end
    for i, job in ipairs(jobs) do
      local r = res[i]
      job.at = drain.START
      if not r.err and #r == 0 then -- nothing due here (claimed or not)
        drain.note_backlog(ctx, { members = r }, 0, now)
      elseif not won[job.p] then -- another instance has it this cycle
      elseif not r.err and job.read < size and #drain.to_page(job.op, r, size, 0).members >= job.read then
        put(pending, job) -- a full head: its first page is read later
      else
        job.read = size
        page(job, r)
      end
      res[i] = nil
    end
    jobs, cmds, owner = nil, nil, nil
    -- whole pages, at most 2 x batch_max members per round trip: the server
    -- time of one round trip stays bounded (command_timeout, the shared
    -- connection, shutdown) however deep the backlog, and so does memory:
    -- with two groups in flight, the Lua heap and the connection's buffers
    -- hold a few groups' commands and replies (a 100,000-item drain peaks at
    -- 8-9 MB RSS; at 4 x batch_max it reached 10-12.5 MB)
    -- claims aging during the drain are renewed ahead, in a group's
    -- pipeline (ff.claim.aging), so resume()'s claim check finds them fresh
    local renewing = {}
    local function renew_ahead(jobs, ahead, renewals)
      for _, job in ipairs(jobs) do
        if not renewing[job.p] and claim.aging(job.ctx, job.p) then
          renewing[job.p] = true
          ahead[#ahead + 1] = claim.renew_cmd(job.ctx, job.p)
          renewals[#renewals + 1] = { job = job, t0 = ctx:elapsed() }
        end
      end
    end
    local function land(f)
      local got = drain.finish_pages(ctx, acc, f.started)
      for i, rn in ipairs(f.renewals) do
        claim.renewed(rn.job.ctx, rn.job.p, rn.t0, got[#f.reads + i])
        renewing[rn.job.p] = nil
      end
      for _, job in ipairs(f.group) do
        local at = drain.resume(job.ctx, job, job.at)
        if at then put(pending, { p = job.p, ctx = job.ctx, op = job.op, index = job.index, at = at }) end
      end
      for i, job in ipairs(f.reads) do page(job, got[i]) end
    end
    -- groups sent and not yet landed, oldest first
    local flight, heap_kb = { at = 1, last = 0 }, collectgarbage("count")
    local function land_oldest()
      local f = flight[flight.at]
      flight[flight.at], flight.at = nil, flight.at + 1
      land(f)
    end
    while (ready[ready.at] or pending[pending.at] or flight[flight.at]) and not ctx:stopping() do
      local now_size = adaptive.size(ctx.config)
      local cap = 2 * math.max(now_size, ctx.config.batch_max or now_size)
      local group, reads, ahead = {}, {}, {}
      if ready[ready.at] then group, ready.at = take(ready, ready.at, cap) end
      while pending[pending.at] and #reads < math.max(1, math.floor(cap / now_size)) do
        local job = pending[pending.at]
        job.read = now_size
        reads[#reads + 1], ahead[#ahead + 1] = job, drain.page_cmd(job.op, job.index, now, job.at.offset, now_size)
        pending[pending.at], pending.at = nil, pending.at + 1
      end
      local sent = #group > 0 or #reads > 0
      if sent then
        local renewals = {}
        renew_ahead(group, ahead, renewals)
        renew_ahead(reads, ahead, renewals)
        put(flight, { started = drain.start_pages(ctx, acc, group, now, ahead), group = group, reads = reads,
          renewals = renewals })
      end
      if not sent or flight.last - flight.at + 1 >= M.IN_FLIGHT then land_oldest() end
      -- LuaJIT keeps the largest heap it ever had (until the host trims it
      -- at the cycle's end): once what the groups left has grown the heap by
      -- GC_SLACK_KB, it is collected before the next group
      if collectgarbage("count") > heap_kb + M.GC_SLACK_KB then
        collectgarbage()
        heap_kb = collectgarbage("count")
      end
    end
    while flight[flight.at] do land_oldest() end -- stopping: their replies are still counted
    return wanted, acc.processed, acc.errors, acc.skipped
  end
end

-- nonempty(keys_of) -> a select(ctx, partitions) function for
-- scanners that walk whole sets: one pipeline of EXISTS; a partition whose
-- keys are all absent is left out; a failed EXISTS selects it (scan() will
-- report the error). Only partitions this instance claimed are selected.
local function nonempty(_, r) return type(r) ~= "number" or r > 0 end

function M.nonempty(keys_of)
  return function(ctx, partitions)
    local cmds = {}
    for i, p in ipairs(partitions) do
      cmds[i] = { "EXISTS", unpack(keys_of(ctx, ctx:tag_for(p))) }
    end
    local res, won, claim_errors = claim.pipeline(ctx, cmds, partitions, nonempty)
    local out = {}
    for i, p in ipairs(partitions) do
      if won[p] and nonempty(i, res[i]) then out[p] = true end
    end
    return out, 0, claim_errors
  end
end

-- sized(key_of) -> the select() of a scanner with one sorted set per
-- partition whose size is itself a figure (cancel_reconciler's cancel
-- backlog, FlowFabric's ff_cancel_backlog_depth: spec 30 §3.2). The same one
-- pipeline as nonempty(), of ZCARD; the chunk's total is reported as its
-- backlog (ctx:note_backlog) only when every partition answered, so a
-- failed read never shows as a smaller backlog.
function M.sized(key_of)
  return function(ctx, partitions)
    local cmds = {}
    for i, p in ipairs(partitions) do cmds[i] = { "ZCARD", key_of(ctx:tag_for(p)) } end
    local res, won, claim_errors = claim.pipeline(ctx, cmds, partitions, nonempty)
    local out, total, complete = {}, 0, true
    for i, p in ipairs(partitions) do
      if type(res[i]) == "number" then total = total + res[i] else complete = false end
      if won[p] and nonempty(i, res[i]) then out[p] = true end
    end
    if complete and ctx.note_backlog then ctx:note_backlog(total, nil, 0) end
    return out, 0, claim_errors
  end
end

return M
