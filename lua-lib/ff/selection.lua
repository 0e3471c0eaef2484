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
-- So besides the heads no step holds more than two groups of 4 x batch_max
-- members (one acted on, the next read ahead), and an idle cycle or a chunk
-- of small pages costs the round trips it did before.
M.FIRST_PASS_ITEMS = 1024

-- first_pages(ctx, partitions, targets_of, now, size[, budget]) -> cmds,
-- jobs, owner: the first-page read of every target of every partition of a
-- chunk, of `size` members; with a budget, a target with an op reads a head
-- of min(size, budget / targets) members (job.read: what was asked).
local function first_pages(ctx, partitions, targets_of, now, size, budget)
  local cmds, jobs, owner = {}, {}, {}
  for _, p in ipairs(partitions) do
    local pctx = at_partition(ctx, p)
    for _, t in ipairs(targets_of(pctx, pctx.tag, now)) do
      jobs[#jobs + 1] = { p = p, ctx = pctx, op = t.op, index = t.index, read = size }
      owner[#owner + 1] = p
    end
  end
  local head = budget and math.min(size, math.max(1, math.floor(budget / math.max(#jobs, 1)))) or size
  for i, job in ipairs(jobs) do
    if job.op then job.read = head end
    cmds[i] = drain.page_cmd(job.op, job.index, now, 0, job.read)
  end
  return cmds, jobs, owner
end

-- observe_due(targets_of) -> an observe(ctx, partitions) function: what the
-- host runs instead of select() while the scanner is paused. The same TIME
-- and first-page pipeline as due(), no claim and no action: the backlog
-- metrics go on showing what piles up. A failed read is one error.
function M.observe_due(targets_of)
  return function(ctx, partitions)
    local now = util.now(ctx)
    if not now then return {}, 0, 1 end
    local size = adaptive.size(ctx.config)
    local cmds, jobs = first_pages(ctx, partitions, targets_of, now, size)
    local res = #cmds > 0 and ctx.redis:pipeline(cmds) or {}
    local errors = 0
    for i, job in ipairs(jobs) do
      local r = res[i]
      if type(r) ~= "table" or r.err then
        errors = errors + 1
        util.failed(ctx, r and r.transport and "transport", "index read failed",
          { index = job.index, error = tostring(r and r.err) })
      else
        drain.note_backlog(ctx, drain.to_page(job.op, r, size, 0), 0, now)
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

-- due(targets_of) -> a select(ctx, partitions) function. One TIME and one
-- pipeline of first pages (of their heads past FIRST_PASS_ITEMS) for the
-- whole chunk; then every first page with an op is acted on, for all
-- partitions: one pipeline of pre-reads (if the op has one) and one round
-- trip of calls per 4 x batch_max due members (one for a few items per
-- partition), which also reads the next group of first pages still unread.
-- Returns wanted, processed, errors, where wanted holds only the partitions
-- scan() must go on with: { now, from = { [index] = at } } for a full page
-- whose drain continues (resume), a failed read (left for scan() to retry
-- and count), or a non-empty target without an op.
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
    -- pages to act on (a queue: nready counts what was ever put in); partitions
    -- whose first page is still to read
    local ready, nready, pending = {}, 0, {}
    -- first_page(job, r): r is job's first page (or its error)
    local function first_page(job, r)
      if r.err then return want(job, drain.START) end
      job.page = drain.to_page(job.op, r, size, 0)
      drain.note_backlog(ctx, job.page, 0, now)
      if #job.page.members == 0 then return end
      if not job.op then return want(job, drain.START) end
      nready = nready + 1
      ready[nready] = job
    end
    for i, job in ipairs(jobs) do
      local r = res[i]
      if not r.err and #r == 0 then -- nothing due here (claimed or not)
        drain.note_backlog(ctx, { members = r }, 0, now)
      elseif not won[job.p] then -- another instance has it this cycle
      elseif not r.err and job.read < size and #drain.to_page(job.op, r, size, 0).members >= job.read then
        pending[#pending + 1] = job -- a full head: its first page is read later
      else
        first_page(job, r)
      end
      res[i] = nil
    end
    jobs, cmds, owner = nil, nil, nil
    -- whole pages, at most 4 x batch_max members per round trip: the server
    -- time of one round trip stays bounded (command_timeout, the shared
    -- connection, shutdown) however deep the backlog; the next group's first
    -- pages ride along with the calls
    local cap = 4 * math.max(size, ctx.config.batch_max or size)
    local per_read = math.max(1, math.floor(cap / size))
    -- two groups in flight: group k is sent, then group k-1's replies are
    -- counted while the server runs group k, so neither side waits for the
    -- other (the first pages read ahead with group k-1 are group k+1's)
    local r_at, p_at, inflight = 1, 1, nil
    local function land(f)
      local got = drain.finish_pages(ctx, acc, f.started)
      for _, job in ipairs(f.group) do
        local at = drain.resume(job.ctx, job, drain.START)
        if at then want(job, at) end
      end
      for i, job in ipairs(f.reads) do first_page(job, got[i]) end
    end
    while (ready[r_at] or pending[p_at] or inflight) and not ctx:stopping() do
      local group, reads, ahead = {}, {}, {}
      if ready[r_at] then group, r_at = take(ready, r_at, cap) end
      while pending[p_at] and #reads < per_read do
        local job = pending[p_at]
        reads[#reads + 1], ahead[#ahead + 1] = job, drain.page_cmd(job.op, job.index, now, 0, size)
        pending[p_at], p_at = nil, p_at + 1
      end
      local sent = nil
      if #group > 0 or #reads > 0 then
        sent = { started = drain.start_pages(ctx, acc, group, now, ahead), group = group, reads = reads }
      end
      if inflight then land(inflight) end
      inflight = sent
      -- LuaJIT keeps the largest heap it ever had: what a group left is
      -- collected before the next one
      if ready[r_at] or pending[p_at] then collectgarbage() end
    end
    if inflight then land(inflight) end -- stopping: its replies are still counted
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
