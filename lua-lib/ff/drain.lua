-- ff.drain: how a due-item scanner drains the due part of an index (spec 10
-- §1, §A): read a page of due items (ZRANGEBYSCORE -inf now), skip items in
-- backoff, call the server-side function for the rest and count the replies
-- (ff.reply).
--  * no head-of-line blocking (issue 3): when a full page of due items leaves
--    entries in the index (backoff, no-op replies, refusals), the next page is
--    read past them in the same cycle, up to `max_pages` such pages;
--  * a page's per-item calls go out in one round trip (ff.batch), pre-reads
--    in one more; the accounting is the same as one call at a time (issue 5);
--  * bounded drain: a full page is followed by another one in the same cycle
--    until the index has no due entry left, `max_pages` pages left entries
--    behind, the cycle has run `drain_budget` seconds (ctx:elapsed()), or the
--    partition's claim is lost (issue 14). The first page of every partition
--    is always handled, so a hot partition never starves the others;
--  * adaptive page size (ff.adaptive) within batch_min .. batch_max;
--  * the tracker cycle is never advanced here (the C runner does it once per
--    full cycle).
-- ff.selection.due drains a whole chunk with the same page handling
-- (M.start_pages / M.finish_pages, M.resume), two groups of pages in flight;
-- due_items (one page at a time) is what scan() still does for an index
-- select() left to it (a failed read) and for scanners without that select().
local batch = require "ff.batch"
local adaptive = require "ff.adaptive"
local claim = require "ff.claim"
local filter = require "ff.filter" -- v34's skip rule and scanner filter (spec 30 §3.3-3.4)
local reply = require "ff.reply"
local util = require "ff.util"

local M = {}

-- defaults(o) -> the options of a due-item scanner: 0.1.1's batch plus the
-- issue 3 and issue 5 knobs, overridden by o.
function M.defaults(o)
  local d = { batch = 50, max_pages = 10, batch_min = 10, batch_max = 500,
    batch_latency = 0.01, drain_budget = 1.0 }
  for k, v in pairs(o or {}) do d[k] = v end
  return d
end

-- BATCH_MAX: no page holds more items than this (one batch FCALL holds the
-- server for its whole run).
M.BATCH_MAX = 10000

-- bounds(o) -> the option bounds of a due-item scanner (the host refuses a
-- config outside them, naming scanners.NAME.OPTION), plus o's.
function M.bounds(o)
  local b = {
    batch = { integer = true, min = 1, max = M.BATCH_MAX },
    batch_min = { integer = true, min = 1, max = M.BATCH_MAX },
    batch_max = { integer = true, min = 1, max = M.BATCH_MAX },
    max_pages = { integer = true, min = 1, max = 1000 },
    batch_latency = { min = 0.0001, max = 60 },
    drain_budget = { min = 0, max = 86400 },
  }
  for k, v in pairs(o or {}) do b[k] = v end
  return b
end

-- ORDER: batch_min <= batch <= batch_max.
M.ORDER = { { "batch_min", "batch", "batch_max" } }

-- budget_spent(ctx): the cycle has used its drain budget, or the partition's
-- claim is no longer ours (extra pages only). The drain budget keeps a
-- daemon's cycle short so every partition is visited every cycle; the one
-- cycle of --once (ctx.once) drains everything instead.
function M.budget_spent(ctx)
  if not ctx.once and ctx:elapsed() >= (ctx.config.drain_budget or 0) then return true end
  return not claim.hold(ctx)
end

-- The page read: ZRANGEBYSCORE of the due part of an index, WITHSCORES
-- when the op keeps a memo (the memo is keyed by score) and for the first
-- page (offset 0), whose first score is the oldest due one: the backlog
-- age comes from the read the cycle makes anyway.
local function withscores(op, offset)
  return offset == 0 or (op and op.memo) and true or false
end

function M.page_cmd(op, index, now, offset, size)
  local cmd = { "ZRANGEBYSCORE", index, "-inf", now }
  if withscores(op, offset) then cmd[#cmd + 1] = "WITHSCORES" end
  cmd[#cmd + 1] = "LIMIT"
  cmd[#cmd + 1] = offset
  cmd[#cmd + 1] = size
  return cmd
end

-- to_page(op, reply, size, offset) -> { members, scores, size }
function M.to_page(op, reply, size, offset)
  if not withscores(op, offset) then return { members = reply, size = size } end
  local members, scores = {}, {}
  for i = 1, #reply, 2 do
    members[#members + 1] = reply[i]
    scores[#scores + 1] = reply[i + 1]
  end
  return { members = members, scores = scores, size = size }
end

-- note_backlog(ctx, page, offset, now): reports the due items a page read
-- saw, and for a first page its oldest due score, to the host (the
-- scanhost_backlog_* metrics). Costs no command: it is the page itself.
function M.note_backlog(ctx, page, offset, now)
  if not ctx.note_backlog then return end -- a spec's fake ctx
  local oldest = offset == 0 and page.scores and tonumber(page.scores[1]) or nil
  ctx:note_backlog(#page.members, oldest, now)
end

-- read_page(ctx, acc, t, now, offset) -> page { members, scores, size } | nil
local function read_page(ctx, acc, t, now, offset)
  local size = adaptive.size(ctx.config)
  local members, err, kind = ctx.redis:call(unpack(M.page_cmd(t.op, t.index, now, offset, size)))
  if type(members) ~= "table" then
    acc.errors = acc.errors + 1
    util.failed(ctx, kind, "index read failed", { index = t.index, error = tostring(err) })
    return nil
  end
  local page = M.to_page(t.op, members, size, offset)
  M.note_backlog(ctx, page, offset, now)
  return page
end

-- The memo of an op with `memo(reply)` (lease_expiry: a lease already marked
-- expired): items whose call changes nothing until their index score
-- changes. Such an item is not called again while its score stays the same;
-- it counts as skipped. Bounded in memory and in trust: an entry lives for
-- at most two rotations (a rotation per index every MEMO_ROTATE_MS of
-- server time), so every item is called again at least every
-- 2 x MEMO_ROTATE_MS (a record restored or recreated with the same score,
-- e.g. after a failover, is not skipped for longer), and at most MEMO_MAX
-- entries are kept in all.
M.MEMO_MAX = 100000
M.MEMO_ROTATE_MS = 60000
local memos, memo_count = {}, 0

local function memo_of(index, now)
  local m = memos[index]
  if not m then
    m = { cur = {}, prev = {}, ncur = 0, nprev = 0, rotate_at = now + M.MEMO_ROTATE_MS }
    memos[index] = m
  elseif now >= m.rotate_at then
    memo_count = memo_count - m.nprev
    m.prev, m.nprev, m.cur, m.ncur = m.cur, m.ncur, {}, 0
    m.rotate_at = now + M.MEMO_ROTATE_MS
  end
  return m
end

-- memo_hit(m, item, score): the item was memorised with this very score
-- (in this rotation or the one before: a hit does not renew the entry).
local function memo_hit(m, item, score)
  local s = m.cur[item]
  if s == nil then s = m.prev[item] end
  return s ~= nil and s == score
end

local function memo_set(m, item, score)
  if score == nil then
    if m.cur[item] ~= nil then m.ncur, memo_count = m.ncur - 1, memo_count - 1 end
    m.cur[item] = nil
    return
  end
  if m.cur[item] == nil then
    if memo_count >= M.MEMO_MAX then return end
    m.ncur, memo_count = m.ncur + 1, memo_count + 1
  end
  m.cur[item] = score
end

-- memo_size() -> entries kept (for specs).
function M.memo_size()
  return memo_count
end

-- count_left(ctx, acc, index, scores) -> how many page members are still in
-- the index after the calls (from the ZMSCORE sent with them), or nil.
local function count_left(ctx, acc, index, scores)
  if type(scores) ~= "table" or scores.err then
    acc.errors = acc.errors + 1
    util.failed(ctx, scores and scores.transport and "transport", "ZMSCORE failed",
      { index = index, error = tostring(scores and scores.err) })
    return nil
  end
  local n = 0
  for i = 1, #scores do
    if scores[i] then n = n + 1 end
  end
  return n
end

-- handle_pages(ctx, acc, jobs): act on pages of due items, one page per job
-- (job = { ctx = its partition's ctx, op, index, page }), all in one round
-- trip of calls plus one of pre-reads if the op has one (ff.batch.run_many).
-- Items in backoff are not called. Sets job.full and job.left: the entries of
-- a full page still in the index after the calls (0 for a page that was not
-- full: no further page is needed), or nil on error. `ahead` (optional):
-- commands sent at the end of the calls' round trip (alone when there is no
-- call), whose results are returned (ff.selection reads its next first pages so).
-- start_pages and finish_pages are its two halves: the first sends the calls
-- and returns at once, the second takes their replies and counts them, so
-- ff.selection prepares and sends the next group while the server runs this
-- one.
function M.start_pages(ctx, acc, jobs, now, ahead)
  local run = {}
  for _, job in ipairs(jobs) do
    local members, scores = job.page.members, job.page.scores
    job.full = #members >= job.page.size
    job.left = job.full and #members or 0
    job.items, job.scores = {}, {}
    job.memo = job.op.memo and memo_of(job.index, now)
    for i, item in ipairs(members) do
      if ctx.failures:should_skip(item) or (job.memo and memo_hit(job.memo, item, scores[i])) then
        acc.skipped = acc.skipped + 1 -- in backoff, or known to need nothing
      else
        job.items[#job.items + 1] = item
        if job.memo then job.scores[item] = scores and scores[i] end -- the memo's key
      end
    end
    if #job.items > 0 then
      job.extra = job.full and { { "ZMSCORE", job.index, unpack(members) } } or nil
      run[#run + 1] = job
    end
  end
  if #run > 0 then filter.candidates(ctx, run) end
  return { run = run, t0 = ctx:elapsed(), sent = batch.send_many(ctx, run, ahead) }
end

function M.finish_pages(ctx, acc, started)
  local got = batch.collect_many(ctx, started.sent)
  local run = started.run
  if #run == 0 then return got end
  local full, overloaded = false, false
  for _, job in ipairs(run) do
    for _, c in ipairs(job.calls) do
      overloaded = overloaded or adaptive.overloaded(c.err)
      reply.account(job.ctx, acc, c.item, c.reply, c.err, c.transport and "transport")
      if job.memo and not c.transport then
        memo_set(job.memo, c.item, c.reply and job.op.memo(c.reply) and job.scores[c.item] or nil)
      end
    end
    full = full or job.full
    if job.full then job.left = count_left(job.ctx, acc, job.index, job.extra_results[1]) end
  end
  -- one observation per round trip, timed per page: the pages of many
  -- partitions sharing a round trip do not count as one slow page
  adaptive.observe(ctx.config, { full = full, latency = (ctx:elapsed() - started.t0) / #run,
    overloaded = overloaded })
  return got
end

function M.handle_pages(ctx, acc, jobs, now, ahead)
  return M.finish_pages(ctx, acc, M.start_pages(ctx, acc, jobs, now, ahead))
end

-- resume(ctx, job, at) -> where the drain of job's index goes on after its
-- page ({ offset, stale }: entries to read past, pages that left entries
-- behind), or nil when it ends: the page was not full or failed, `max_pages`
-- pages left entries behind, shutdown, or the cycle's drain budget is spent.
function M.resume(ctx, job, at)
  if not job.full or not job.left then return nil end
  local stale = at.stale + (job.left > 0 and 1 or 0)
  if stale >= (ctx.config.max_pages or 1) or ctx:stopping() or M.budget_spent(ctx) then return nil end
  return { offset = at.offset + job.left, stale = stale }
end

M.START = { offset = 0, stale = 0 }

-- due_items(ctx, acc, t, now, at): drain the due part of the index t.index
-- with t.op, from `at` (see resume; default: the first page). Entries a page
-- leaves behind (backoff, no-op replies, refusals, lease entries kept by
-- design) are read past with an offset, so they never hide newer due items.
function M.due_items(ctx, acc, t, now, at)
  at = at or M.START
  repeat
    local page = read_page(ctx, acc, t, now, at.offset)
    if not page then return end
    local job = { ctx = ctx, op = t.op, index = t.index, page = page }
    M.handle_pages(ctx, acc, { job }, now)
    at = M.resume(ctx, job, at)
  until not at
end

-- A due-item scanner names its targets: targets_of(ctx, tag, now) ->
-- { { index = key, op = ff.batch op }, ... }, the due indexes of the partition
-- `tag` and the op that acts on their items (no op: ff.selection.due only selects).

-- scan_due(targets_of) -> a scan(ctx, partition, data) function draining every
-- target. After ff.selection.due, data = { now, from = { [index] = at } }: only
-- those indexes, each from where select() stopped, with select()'s now.
function M.scan_due(targets_of)
  return function(ctx, _, data)
    local acc = reply.new_acc()
    local now = data and data.now or util.now(ctx)
    if not now then return 0, 1 end
    for _, t in ipairs(targets_of(ctx, ctx.tag, now)) do
      local at = data and data.from[t.index]
      if at or not data then M.due_items(ctx, acc, t, now, at) end
    end
    return acc.processed, acc.errors, acc.skipped
  end
end

return M
