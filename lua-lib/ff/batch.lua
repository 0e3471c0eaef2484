-- ff.batch: the per-item function calls of one page in ONE round trip (issue 5).
--
-- An "op" describes the per-item call of a scanner:
--   op = { fn = "ff_mark_lease_expired_if_due",
--          pre = function(ctx, item) -> {cmd, ...} end,        -- optional pre-read
--          call = function(ctx, item, pre_reply) -> keys, args end }
-- run() pipelines the pre-reads (one round trip), then sends the calls as one
-- round trip: a single FCALL <fn>_batch when scanhost's own library is loaded
-- (30-batch.lua: same item function, per-item replies), otherwise one pipeline
-- of FCALL <fn>. Either way every item gets exactly the reply (or error) that
-- its own FCALL would have produced, so accounting and the failure tracker do
-- not depend on the transport. run_many() does the same for the pages of many
-- partitions at once (select_due: a whole chunk in two round trips).
local M = {}

-- append(dst, src, n) -> dst with src's elements after dst[n] (n: #dst when
-- the caller does not keep the count: `#` on a long array is not free), and
-- the new count.
local function append(dst, src, n)
  n = n or #dst
  for i = 1, #src do dst[n + i] = src[i] end
  return dst, n + #src
end

-- fcall_cmd(name, keys, args) -> the FCALL command as a pipeline entry.
function M.fcall_cmd(name, keys, args)
  local cmd, n = append({ "FCALL", name, #keys }, keys, 3)
  return (append(cmd, args, n))
end

-- err_of(r) -> the error text of a pipeline result, or nil; and whether it
-- was a transport failure (timeout, lost connection: nothing about the item).
function M.err_of(r)
  if type(r) == "table" and r.err ~= nil then return tostring(r.err), r.transport == true end
  return nil, false
end

-- prepare(ctx, jobs): one pipeline for the pre-reads of every job (none when
-- no op has a pre-read); sets job.calls = { item, keys, args } or
-- { item, err }. A failed pre-read fails that item alone, exactly like the
-- one-at-a-time path did. Each job's op builds its keys with job.ctx.
local function prepare(ctx, jobs)
  local cmds, base = {}, {}
  for j, job in ipairs(jobs) do
    base[j] = #cmds
    if job.op.pre then
      for _, item in ipairs(job.items) do cmds[#cmds + 1] = job.op.pre(job.ctx, item) end
    end
  end
  local pre = #cmds > 0 and ctx.redis:pipeline(cmds) or {}
  for j, job in ipairs(jobs) do
    job.calls = {}
    for i, item in ipairs(job.items) do
      local r = nil
      if job.op.pre then r = pre[base[j] + i] end
      local perr, transport = M.err_of(r)
      if perr then
        job.calls[i] = { item = item, err = "pre-read failed: " .. perr, transport = transport }
      else
        local keys, args = job.op.call(job.ctx, item, r)
        job.calls[i] = { item = item, keys = keys, args = args }
      end
    end
  end
end

-- use_batch(ctx): the batch variants exist only in scanhost's own library.
function M.use_batch(ctx)
  return ctx.library == "scanhost"
end

-- commands(ctx, op, ready) -> pipeline entries for the ready calls.
local function commands(ctx, op, ready)
  if M.use_batch(ctx) then
    local keys, args, nk, na = {}, { #ready }, 0, 1
    for _, c in ipairs(ready) do
      keys, nk = append(keys, c.keys, nk)
      args, na = append(args, c.args, na)
    end
    return { M.fcall_cmd(op.fn .. "_batch", keys, args) }
  end
  local cmds = {}
  for i, c in ipairs(ready) do cmds[i] = M.fcall_cmd(op.fn, c.keys, c.args) end
  return cmds
end

-- replies(ctx, ready, results, first) -> per-ready-call reply (or {err=});
-- the job's results start at results[first]. A batch call that failed as a
-- whole (transport, BUSY, shape) fails every item.
local function replies(ctx, ready, results, first)
  if not M.use_batch(ctx) then
    local out = {}
    for i = 1, #ready do out[i] = results[first + i - 1] end
    return out
  end
  local r = results[first]
  local whole, transport = M.err_of(r)
  if not whole and (type(r) ~= "table" or #r ~= #ready) then whole = "malformed batch reply" end
  if not whole then return r end
  local out = {}
  for i = 1, #ready do out[i] = { err = whole, transport = transport } end
  return out
end

-- run_many(ctx, jobs): the calls of several pages (jobs, e.g. one per
-- partition: { ctx = the partition's ctx, op, items, extra }) in at most two
-- round trips in all: the pre-reads of every job, then every job's calls
-- (one batch FCALL or its per-item FCALLs), each followed by its `extra`
-- commands (e.g. a ZMSCORE of the page) so they see the calls' effects.
-- Sets job.calls (each with .reply or .err, and .transport for a transport
-- failure) and job.extra_results. `ahead` (optional): more commands at the
-- end of the calls' pipeline; returns their results. send_many and
-- collect_many are its two halves: the calls are written by the first and
-- their replies taken by the second, so the caller can prepare its next
-- request meanwhile (ctx.redis:send / collect).
function M.send_many(ctx, jobs, ahead)
  prepare(ctx, jobs)
  local cmds, n = {}, 0
  for _, job in ipairs(jobs) do
    job.ready = {}
    for _, c in ipairs(job.calls) do
      if not c.err then job.ready[#job.ready + 1] = c end
    end
    job.first = n + 1
    if #job.ready > 0 then cmds, n = append(cmds, commands(ctx, job.op, job.ready), n) end
    job.extra_first = n + 1
    cmds, n = append(cmds, job.extra or {}, n)
  end
  local ahead_first = n + 1
  cmds, n = append(cmds, ahead or {}, n)
  return { jobs = jobs, ahead_first = ahead_first, nahead = #(ahead or {}),
    handle = n > 0 and ctx.redis:send(cmds) or nil }
end

function M.collect_many(ctx, sent)
  local results = sent.handle and ctx.redis:collect(sent.handle) or {}
  for _, job in ipairs(sent.jobs) do
    local per_item = #job.ready > 0 and replies(ctx, job.ready, results, job.first) or {}
    for i, c in ipairs(job.ready) do
      local r = per_item[i]
      c.err, c.transport = M.err_of(r)
      if not c.err then c.reply = r end
    end
    job.extra_results = {}
    for i = 1, #(job.extra or {}) do job.extra_results[i] = results[job.extra_first + i - 1] end
  end
  local got = {}
  for i = 1, sent.nahead do got[i] = results[sent.ahead_first + i - 1] end
  return got
end

function M.run_many(ctx, jobs, ahead)
  return M.collect_many(ctx, M.send_many(ctx, jobs, ahead))
end

-- run(ctx, op, items, extra) -> calls, extra_results: run_many on one page.
function M.run(ctx, op, items, extra)
  local job = { ctx = ctx, op = op, items = items, extra = extra }
  M.run_many(ctx, { job })
  return job.calls, job.extra_results
end

return M
