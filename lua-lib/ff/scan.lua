-- ff.scan: the building blocks shared by the execution scanners (spec 10 §1, §A):
-- fetch "now" from TIME, read due items from an index, skip items in backoff,
-- call the server-side function and account its reply.
--
-- Differences from FlowFabric 0.1.1 (issue 3), wire contract unchanged:
--  * replies are read: {1, ...} counts as processed, {0, code, ...} and the
--    no-op replies ({1, "ALREADY_SATISFIED", ...}, {1, "OK", "already_..."})
--    as skipped (debug log), error replies as errors that feed the failure
--    tracker. A transport failure (timeout, lost connection: the binding's
--    "transport" marker) is an error of the cycle but says nothing about the
--    item: it never feeds the tracker (issue 9);
--  * no head-of-line blocking: when a full page of due items leaves entries in
--    the index (backoff, no-op replies, refusals), the next page is read past
--    them in the same cycle, up to `max_pages` such pages;
--  * the tracker cycle is never advanced here (the C runner does it once per
--    full cycle).
-- Issue 5 (throughput):
--  * a page's per-item calls go out in one round trip (ff.batch), pre-reads
--    in one more; the accounting is the same as one call at a time;
--  * bounded drain: a full page is followed by another one in the same cycle
--    until the index has no due entry left, `max_pages` pages left entries
--    behind, or the cycle has run `drain_budget` seconds (ctx:elapsed()). The
--    first page of every partition is always handled, so a hot partition never
--    starves the others;
--  * select_due(): one TIME and one pipeline of first pages for a whole chunk
--    of partitions, so an idle cycle costs 2 round trips; the first pages are
--    then acted on for all partitions at once (pre-reads in one round trip,
--    calls in one more), and only partitions whose drain goes on reach scan();
--  * adaptive page size (ff.adaptive) within batch_min .. batch_max.
-- Issue 14 (several instances): the select helpers claim the partitions they
-- find work in (ff.claim.pipeline) and act only on those they won; a drain
-- stops when its partition's claim is lost (budget_spent).
local batch = require "ff.batch"
local adaptive = require "ff.adaptive"
local claim = require "ff.claim"
local filter = require "ff.filter" -- v34's skip rule and scanner filter (spec 30 §3.3-3.4)

local M = {}

-- noop(reply): a success reply that says nothing needed doing:
-- {1, "ALREADY_SATISFIED", ...}, or {1, "OK", d} with d "already_...",
-- "not_yet_..." or "no_timeout_pending". (Replies that removed a dead index
-- entry, "..._cleaned", changed something and count as processed.)
local function noop(reply)
  if reply[2] == "ALREADY_SATISFIED" then return true end
  local d = reply[3]
  return reply[2] == "OK" and type(d) == "string"
    and (d:sub(1, 8) == "already_" or d:sub(1, 8) == "not_yet_" or d == "no_timeout_pending")
end

-- classify(reply, err, kind) -> "processed" | "skip" | "error" | "transport", detail
-- (reply, err, kind: what ctx.redis:call/fcall returned, or a pipeline
-- result as reply; kind "transport" marks a transport failure).
function M.classify(reply, err, kind)
  if reply == nil then return kind == "transport" and "transport" or "error", tostring(err) end
  if type(reply) ~= "table" then return "error", "unexpected reply: " .. tostring(reply) end
  if reply.err ~= nil then return reply.transport and "transport" or "error", tostring(reply.err) end
  if reply[1] == 1 then
    if noop(reply) then return "skip", reply[3] or reply[2] end
    return "processed", reply[3] or reply[2]
  end
  if reply[1] == 0 then return "skip", reply[2] end
  return "error", "unexpected reply shape"
end

-- new_acc() -> { processed = 0, errors = 0, skipped = 0 }
function M.new_acc()
  return { processed = 0, errors = 0, skipped = 0 }
end

-- account(ctx, acc, item, reply, err, kind): count one item's outcome, feed
-- the tracker and log (warn on error, debug on skip). A transport failure
-- (the host logs the lost connection once) counts as an error of the cycle,
-- is logged per item at debug only (a Redis restart must not flood the log
-- with one line per queued item) and never touches the tracker: the item
-- did nothing wrong.
function M.account(ctx, acc, item, reply, err, kind)
  local status, detail = M.classify(reply, err, kind)
  if status == "transport" then
    acc.errors = acc.errors + 1
    ctx.log:debug("item not done: transport failure", { item = item, error = detail })
    return status
  end
  if status == "error" then
    acc.errors = acc.errors + 1
    ctx.failures:record_failure(item)
    ctx.log:warn("item failed", { item = item, error = detail })
    return status
  end
  ctx.failures:record_success(item)
  if status == "processed" then
    acc.processed = acc.processed + 1
  else
    acc.skipped = acc.skipped + 1
    M.log_skip(ctx, reply, "item skipped", { item = item, code = tostring(detail) })
  end
  return status
end

-- bad_data(reply): a function's refusal because the stored record is malformed
-- ({0, "invalid_state" | "invalid_input", field}), as opposed to a normal no-op.
function M.bad_data(reply)
  return reply[1] == 0 and (reply[2] == "invalid_state" or reply[2] == "invalid_input")
end

-- log_skip(ctx, reply, msg, fields): a skip is logged at debug, except a
-- refusal for malformed data: that record stays put until someone repairs it,
-- so it is a warning naming the field.
function M.log_skip(ctx, reply, msg, fields)
  if M.bad_data(reply) then
    fields.field = tostring(reply[3])
    ctx.log:warn(msg .. ": malformed data", fields)
  else
    ctx.log:debug(msg, fields)
  end
end

-- warn_or_debug(ctx, kind, msg, fields): a failure is a warning, unless it
-- is a transport failure (logged once by the host, per step at debug).
function M.failed(ctx, kind, msg, fields)
  if kind == "transport" then ctx.log:debug(msg, fields) else ctx.log:warn(msg, fields) end
end

-- now(ctx) -> now_ms | nil (after logging the failure).
function M.now(ctx)
  local now, err, kind = ctx:now_ms()
  if not now then
    M.failed(ctx, kind, "TIME failed", { error = tostring(err) })
    return nil
  end
  return now
end

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
-- claim is no longer ours (extra pages only).
function M.budget_spent(ctx)
  return ctx:elapsed() >= (ctx.config.drain_budget or 0) or not claim.hold(ctx)
end

-- The page read: ZRANGEBYSCORE of the due part of an index, WITHSCORES
-- when the op keeps a memo (the memo is keyed by score).
local function page_cmd(op, index, now, offset, size)
  local cmd = { "ZRANGEBYSCORE", index, "-inf", now }
  if op and op.memo then cmd[#cmd + 1] = "WITHSCORES" end
  cmd[#cmd + 1] = "LIMIT"
  cmd[#cmd + 1] = offset
  cmd[#cmd + 1] = size
  return cmd
end

-- to_page(op, reply, size) -> { members, scores, size }
local function to_page(op, reply, size)
  if not (op and op.memo) then return { members = reply, size = size } end
  local members, scores = {}, {}
  for i = 1, #reply, 2 do
    members[#members + 1] = reply[i]
    scores[#scores + 1] = reply[i + 1]
  end
  return { members = members, scores = scores, size = size }
end

-- read_page(ctx, acc, t, now, offset) -> page { members, scores, size } | nil
local function read_page(ctx, acc, t, now, offset)
  local size = adaptive.size(ctx.config)
  local members, err, kind = ctx.redis:call(unpack(page_cmd(t.op, t.index, now, offset, size)))
  if type(members) ~= "table" then
    acc.errors = acc.errors + 1
    M.failed(ctx, kind, "index read failed", { index = t.index, error = tostring(err) })
    return nil
  end
  return to_page(t.op, members, size)
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
    M.failed(ctx, scores and scores.transport and "transport", "ZMSCORE failed",
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
-- full: no further page is needed), or nil on error.
local function handle_pages(ctx, acc, jobs, now)
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
        job.scores[item] = scores and scores[i]
      end
    end
    if #job.items > 0 then
      job.extra = job.full and { { "ZMSCORE", job.index, unpack(members) } } or nil
      run[#run + 1] = job
    end
  end
  if #run == 0 then return end
  filter.candidates(ctx, run)
  local t0 = ctx:elapsed()
  batch.run_many(ctx, run)
  local full, overloaded = false, false
  for _, job in ipairs(run) do
    for _, c in ipairs(job.calls) do
      overloaded = overloaded or adaptive.overloaded(c.err)
      M.account(job.ctx, acc, c.item, c.reply, c.err, c.transport and "transport")
      if job.memo and not c.transport then
        memo_set(job.memo, c.item, c.reply and job.op.memo(c.reply) and job.scores[c.item] or nil)
      end
    end
    full = full or job.full
    if job.full then job.left = count_left(job.ctx, acc, job.index, job.extra_results[1]) end
  end
  -- one observation per round trip, timed per page: the pages of many
  -- partitions sharing a round trip do not count as one slow page
  adaptive.observe(ctx.config, { full = full, latency = (ctx:elapsed() - t0) / #run,
    overloaded = overloaded })
end

-- resume(ctx, job, at) -> where the drain of job's index goes on after its
-- page ({ offset, stale }: entries to read past, pages that left entries
-- behind), or nil when it ends: the page was not full or failed, `max_pages`
-- pages left entries behind, shutdown, or the cycle's drain budget is spent.
local function resume(ctx, job, at)
  if not job.full or not job.left then return nil end
  local stale = at.stale + (job.left > 0 and 1 or 0)
  if stale >= (ctx.config.max_pages or 1) or ctx:stopping() or M.budget_spent(ctx) then return nil end
  return { offset = at.offset + job.left, stale = stale }
end

local START = { offset = 0, stale = 0 }

-- due_items(ctx, acc, t, now, at): drain the due part of the index t.index
-- with t.op, from `at` (see resume; default: the first page). Entries a page
-- leaves behind (backoff, no-op replies, refusals, lease entries kept by
-- design) are read past with an offset, so they never hide newer due items.
function M.due_items(ctx, acc, t, now, at)
  at = at or START
  repeat
    local page = read_page(ctx, acc, t, now, at.offset)
    if not page then return end
    local job = { ctx = ctx, op = t.op, index = t.index, page = page }
    handle_pages(ctx, acc, { job }, now)
    at = resume(ctx, job, at)
  until not at
end

-- A due-item scanner names its targets: targets_of(ctx, tag, now) ->
-- { { index = key, op = ff.batch op }, ... }, the due indexes of the partition
-- `tag` and the op that acts on their items (no op: select_due only selects).

-- scan_due(targets_of) -> a scan(ctx, partition, data) function draining every
-- target. After select_due, data = { now, from = { [index] = at } }: only
-- those indexes, each from where select() stopped, with select()'s now.
function M.scan_due(targets_of)
  return function(ctx, _, data)
    local acc = M.new_acc()
    local now = data and data.now or M.now(ctx)
    if not now then return 0, 1 end
    for _, t in ipairs(targets_of(ctx, ctx.tag, now)) do
      local at = data and data.from[t.index]
      if at or not data then M.due_items(ctx, acc, t, now, at) end
    end
    return acc.processed, acc.errors, acc.skipped
  end
end

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

-- select_due(targets_of) -> a select(ctx, partitions) function. One TIME and
-- one pipeline of first pages for the whole chunk; then every first page with
-- an op is acted on at once, for all partitions: one pipeline of pre-reads
-- (if the op has one) and one round trip of calls (per 4 x batch_max due
-- members; one for a few items per partition). Returns wanted, processed,
-- errors, where wanted holds only the partitions scan() must go on with:
-- { now, from = { [index] = at } } for a full page whose drain continues
-- (resume), a failed read (left for scan() to retry and count), or a
-- non-empty target without an op.
function M.select_due(targets_of)
  return function(ctx, partitions)
    -- a failed TIME is one error and selects nothing: the cycle goes on
    -- (or, for a lost connection, the host interrupts it)
    local now = M.now(ctx)
    if not now then return {}, 0, 1 end
    local size = adaptive.size(ctx.config)
    local cmds, jobs, owner = {}, {}, {}
    for _, p in ipairs(partitions) do
      local pctx = at_partition(ctx, p)
      for _, t in ipairs(targets_of(pctx, pctx.tag, now)) do
        cmds[#cmds + 1] = page_cmd(t.op, t.index, now, 0, size)
        jobs[#jobs + 1] = { p = p, ctx = pctx, op = t.op, index = t.index }
        owner[#owner + 1] = p
      end
    end
    local res, won, claim_errors = claim.pipeline(ctx, cmds, owner,
      function(_, r) return r.err ~= nil or #r > 0 end)
    local wanted, acc, act = {}, M.new_acc(), {}
    acc.errors = claim_errors
    local function want(job, at)
      wanted[job.p] = wanted[job.p] or { now = now, from = {} }
      wanted[job.p].from[job.index] = at
    end
    for i, job in ipairs(jobs) do
      local r = res[i]
      if not won[job.p] then -- another instance has it this cycle
      elseif r.err then
        want(job, START)
      elseif #r > 0 then
        job.page = to_page(job.op, r, size)
        if job.op then act[#act + 1] = job else want(job, START) end
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
      handle_pages(ctx, acc, group, now)
      for _, job in ipairs(group) do
        local at = resume(job.ctx, job, START)
        if at then want(job, at) end
      end
    end
    return wanted, acc.processed, acc.errors, acc.skipped
  end
end

-- select_nonempty(keys_of) -> a select(ctx, partitions) function for
-- scanners that walk whole sets: one pipeline of EXISTS; a partition whose
-- keys are all absent is left out; a failed EXISTS selects it (scan() will
-- report the error). Only partitions this instance claimed are selected.
local function nonempty(_, r) return type(r) ~= "number" or r > 0 end

function M.select_nonempty(keys_of)
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
