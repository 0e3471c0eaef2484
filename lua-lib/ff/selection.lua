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

-- first_pages(ctx, partitions, targets_of, now, size) -> cmds, jobs, owner:
-- the first-page read of every target of every partition of a chunk.
local function first_pages(ctx, partitions, targets_of, now, size)
  local cmds, jobs, owner = {}, {}, {}
  for _, p in ipairs(partitions) do
    local pctx = at_partition(ctx, p)
    for _, t in ipairs(targets_of(pctx, pctx.tag, now)) do
      cmds[#cmds + 1] = drain.page_cmd(t.op, t.index, now, 0, size)
      jobs[#jobs + 1] = { p = p, ctx = pctx, op = t.op, index = t.index }
      owner[#owner + 1] = p
    end
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

-- due(targets_of) -> a select(ctx, partitions) function. One TIME and
-- one pipeline of first pages for the whole chunk; then every first page with
-- an op is acted on at once, for all partitions: one pipeline of pre-reads
-- (if the op has one) and one round trip of calls (per 4 x batch_max due
-- members; one for a few items per partition). Returns wanted, processed,
-- errors, where wanted holds only the partitions scan() must go on with:
-- { now, from = { [index] = at } } for a full page whose drain continues
-- (resume), a failed read (left for scan() to retry and count), or a
-- non-empty target without an op.
function M.due(targets_of)
  return function(ctx, partitions)
    -- a failed TIME is one error and selects nothing: the cycle goes on
    -- (or, for a lost connection, the host interrupts it)
    local now = util.now(ctx)
    if not now then return {}, 0, 1 end
    local size = adaptive.size(ctx.config)
    local cmds, jobs, owner = first_pages(ctx, partitions, targets_of, now, size)
    local res, won, claim_errors = claim.pipeline(ctx, cmds, owner,
      function(_, r) return r.err ~= nil or #r > 0 end)
    local wanted, acc, act = {}, reply.new_acc(), {}
    acc.errors = claim_errors
    local function want(job, at)
      wanted[job.p] = wanted[job.p] or { now = now, from = {} }
      wanted[job.p].from[job.index] = at
    end
    for i, job in ipairs(jobs) do
      local r = res[i]
      if not r.err and #r == 0 then -- nothing due here (claimed or not)
        drain.note_backlog(ctx, { members = r }, 0, now)
      elseif not won[job.p] then -- another instance has it this cycle
      elseif r.err then
        want(job, drain.START)
      elseif #r > 0 then
        job.page = drain.to_page(job.op, r, size, 0)
        drain.note_backlog(ctx, job.page, 0, now)
        if job.op then act[#act + 1] = job else want(job, drain.START) end
      end
    end
    -- whole pages, at most 4 x batch_max members per round trip: the server
    -- time of one round trip stays bounded (command_timeout, the shared
    -- connection, shutdown) however deep the backlog
    local cap, i = 4 * math.max(size, ctx.config.batch_max or size), 1
    while i <= #act and not ctx:stopping() do
      local group, n = {}, 0
      repeat
        group[#group + 1] = act[i]
        n, i = n + #act[i].page.members, i + 1
      until i > #act or n + #act[i].page.members > cap
      drain.handle_pages(ctx, acc, group, now)
      for _, job in ipairs(group) do
        local at = drain.resume(job.ctx, job, drain.START)
        if at then want(job, at) end
      end
    end
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

return M
