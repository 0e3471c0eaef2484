-- ff.scan: the building blocks shared by the execution scanners (spec 10 §1, §A):
-- fetch "now" from TIME, read due items from an index, skip items in backoff,
-- call the server-side function and account its reply.
--
-- Differences from FlowFabric 0.1.1 (issue 3), wire contract unchanged:
--  * replies are read: {1, ...} counts as processed, {0, code, ...} is a skip
--    (debug log, neither processed nor error), error replies and transport
--    failures count as errors and feed the failure tracker;
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

local M = {}

-- classify(reply, err) -> "processed" | "skip" | "error", detail
function M.classify(reply, err)
  if reply == nil then return "error", tostring(err) end
  if type(reply) ~= "table" then return "error", "unexpected reply: " .. tostring(reply) end
  if reply[1] == 1 then return "processed", reply[3] or reply[2] end
  if reply[1] == 0 then return "skip", reply[2] end
  return "error", "unexpected reply shape"
end

-- new_acc() -> { processed = 0, errors = 0 }
function M.new_acc()
  return { processed = 0, errors = 0 }
end

-- account(ctx, acc, item, reply, err): count one item's outcome, feed the
-- tracker and log (warn on error, debug on skip).
-- Transport failures (the host logs the lost connection once) are logged per
-- item at debug only: a Redis restart must not flood the log with one warning
-- per queued item. They still count as errors and feed the tracker.
local function transport_error(reply, detail)
  if reply ~= nil and not (type(reply) == "table" and reply.err) then return false end
  return detail:find("not connected to redis", 1, true) or detail:find("connection lost", 1, true)
    or detail:find("timeout: no reply", 1, true) or detail:find("shutting down", 1, true)
end

function M.account(ctx, acc, item, reply, err)
  local kind, detail = M.classify(reply, err)
  if kind == "error" then
    acc.errors = acc.errors + 1
    ctx.failures:record_failure(item)
    local level = transport_error(reply, detail) and "debug" or "warn"
    ctx.log[level](ctx.log, "item failed", { item = item, error = detail })
    return kind
  end
  ctx.failures:record_success(item)
  if kind == "processed" then
    acc.processed = acc.processed + 1
  else
    M.log_skip(ctx, reply, "item skipped", { item = item, code = tostring(detail) })
  end
  return kind
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

-- now(ctx) -> now_ms | nil (after logging the failure).
function M.now(ctx)
  local now, err = ctx:now_ms()
  if not now then
    ctx.log:warn("TIME failed", { error = tostring(err) })
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

-- budget_spent(ctx): the cycle has used its drain budget, or the partition's
-- claim is no longer ours (extra pages only).
function M.budget_spent(ctx)
  return ctx:elapsed() >= (ctx.config.drain_budget or 0) or not claim.hold(ctx)
end

-- read_page(ctx, acc, index, now, offset) -> page { members, size } | nil
local function read_page(ctx, acc, index, now, offset)
  local size = adaptive.size(ctx.config)
  local members, err = ctx.redis:call("ZRANGEBYSCORE", index, "-inf", now,
    "LIMIT", offset, size)
  if type(members) ~= "table" then
    acc.errors = acc.errors + 1
    ctx.log:warn("index read failed", { index = index, error = tostring(err) })
    return nil
  end
  return { members = members, size = size }
end

-- count_left(ctx, acc, index, scores) -> how many page members are still in
-- the index after the calls (from the ZMSCORE sent with them), or nil.
local function count_left(ctx, acc, index, scores)
  if type(scores) ~= "table" or scores.err then
    acc.errors = acc.errors + 1
    ctx.log:warn("ZMSCORE failed", { index = index, error = tostring(scores and scores.err) })
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
local function handle_pages(ctx, acc, jobs)
  local run = {}
  for _, job in ipairs(jobs) do
    local members = job.page.members
    job.full = #members >= job.page.size
    job.left = job.full and #members or 0
    job.items = {}
    for _, item in ipairs(members) do
      if not ctx.failures:should_skip(item) then job.items[#job.items + 1] = item end
    end
    if #job.items > 0 then
      job.extra = job.full and { { "ZMSCORE", job.index, unpack(members) } } or nil
      run[#run + 1] = job
    end
  end
  if #run == 0 then return end
  local t0 = ctx:elapsed()
  batch.run_many(ctx, run)
  local full, overloaded = false, false
  for _, job in ipairs(run) do
    for _, c in ipairs(job.calls) do
      overloaded = overloaded or adaptive.overloaded(c.err)
      M.account(job.ctx, acc, c.item, c.reply, c.err)
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
    local page = read_page(ctx, acc, t.index, now, at.offset)
    if not page then return end
    local job = { ctx = ctx, op = t.op, index = t.index, page = page }
    handle_pages(ctx, acc, { job })
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
    return acc.processed, acc.errors
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
    local now, err = ctx:now_ms()
    if not now then error("TIME failed: " .. tostring(err)) end
    local size = adaptive.size(ctx.config)
    local cmds, jobs, owner = {}, {}, {}
    for _, p in ipairs(partitions) do
      local pctx = at_partition(ctx, p)
      for _, t in ipairs(targets_of(pctx, pctx.tag, now)) do
        cmds[#cmds + 1] = { "ZRANGEBYSCORE", t.index, "-inf", now, "LIMIT", 0, size }
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
        job.page = { members = r, size = size }
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
      handle_pages(ctx, acc, group)
      for _, job in ipairs(group) do
        local at = resume(job.ctx, job, START)
        if at then want(job, at) end
      end
    end
    return wanted, acc.processed, acc.errors
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
