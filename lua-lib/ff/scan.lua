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
--    of partitions, so an idle cycle costs 2 round trips;
--  * adaptive page size (ff.adaptive) within batch_min .. batch_max.
local batch = require "ff.batch"
local adaptive = require "ff.adaptive"

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
    ctx.log:debug("item skipped", { item = item, code = tostring(detail) })
  end
  return kind
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

-- budget_spent(ctx): the cycle has used its drain budget (extra pages only).
function M.budget_spent(ctx)
  return ctx:elapsed() >= (ctx.config.drain_budget or 0)
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

-- handle_page(ctx, acc, opts, page) -> entries left in the index (0 when the
-- page was not full: no further page is needed), or nil on error.
local function handle_page(ctx, acc, opts, page)
  local members, full = page.members, #page.members >= page.size
  local items = {}
  for _, item in ipairs(members) do
    if not ctx.failures:should_skip(item) then items[#items + 1] = item end
  end
  if #items == 0 then return full and #members or 0 end
  local extra = full and { { "ZMSCORE", opts.index, unpack(members) } } or nil
  local t0 = ctx:elapsed()
  local calls, ex = batch.run(ctx, opts.op, items, extra)
  local overloaded = false
  for _, c in ipairs(calls) do
    overloaded = overloaded or adaptive.overloaded(c.err)
    M.account(ctx, acc, c.item, c.reply, c.err)
  end
  adaptive.observe(ctx.config, { full = full, latency = ctx:elapsed() - t0, overloaded = overloaded })
  if not full then return 0 end
  return count_left(ctx, acc, opts.index, ex[1])
end

-- due_items(ctx, acc, opts): drain the due part of one index.
-- opts = { index, now, op (see ff.batch), first = page from select (optional),
--          max_pages (default ctx.config.max_pages) }.
-- Entries a page leaves behind (backoff, no-op replies, refusals, lease
-- entries kept by design) are read past with an offset, so they never hide
-- newer due items; pages that leave entries behind are bounded by max_pages,
-- all extra pages by the drain budget.
function M.due_items(ctx, acc, opts)
  local max_pages = opts.max_pages or ctx.config.max_pages or 1
  local offset, stale, page = 0, 0, opts.first
  repeat
    page = page or read_page(ctx, acc, opts.index, opts.now, offset)
    if not page then return end
    local left = handle_page(ctx, acc, opts, page)
    if not left or #page.members < page.size then return end
    if left > 0 then stale = stale + 1 end
    offset, page = offset + left, nil
  until stale >= max_pages or ctx:stopping() or M.budget_spent(ctx)
end

-- run_due(ctx, opts) -> processed, errors: due_items on one index.
-- opts = { index, op, data = scan()'s third argument (from select_due) }.
function M.run_due(ctx, opts)
  local acc = M.new_acc()
  local now = opts.data and opts.data.now or M.now(ctx)
  if not now then return 0, 1 end
  M.due_items(ctx, acc, { index = opts.index, now = now, op = opts.op,
    first = M.first_page(opts.data, opts.index) })
  return acc.processed, acc.errors
end

-- first_page(data, index) -> the page select_due read for index, or nil.
function M.first_page(data, index)
  return data and data.pages and data.pages[index]
end

-- select_due(indexes_of) -> a select(ctx, partitions) function for scanners.
-- indexes_of(ctx, tag) -> the due indexes scan() reads on that partition.
-- One TIME and one pipeline of first pages: partitions with nothing due are
-- left out; the others get { now, pages = { [index] = page } } so scan()
-- reuses both. A failed read is left for scan() to retry and count.
function M.select_due(indexes_of)
  return function(ctx, partitions)
    local now, err = ctx:now_ms()
    if not now then error("TIME failed: " .. tostring(err)) end
    local size = adaptive.size(ctx.config)
    local cmds, owners = {}, {}
    for _, p in ipairs(partitions) do
      for _, index in ipairs(indexes_of(ctx, ctx:tag_for(p))) do
        cmds[#cmds + 1] = { "ZRANGEBYSCORE", index, "-inf", now, "LIMIT", 0, size }
        owners[#owners + 1] = { p, index }
      end
    end
    local res = #cmds > 0 and ctx.redis:pipeline(cmds) or {}
    local out = {}
    for i, r in ipairs(res) do
      local p, index = owners[i][1], owners[i][2]
      if r.err or #r > 0 then
        out[p] = out[p] or { now = now, pages = {} }
        if not r.err then out[p].pages[index] = { members = r, size = size } end
      end
    end
    return out
  end
end

-- select_nonempty(keys_of) -> a select(ctx, partitions) function for
-- scanners that walk whole sets: one pipeline of EXISTS; a partition whose
-- keys are all absent is left out; a failed EXISTS selects it (scan() will
-- report the error).
function M.select_nonempty(keys_of)
  return function(ctx, partitions)
    local cmds = {}
    for i, p in ipairs(partitions) do
      cmds[i] = { "EXISTS", unpack(keys_of(ctx, ctx:tag_for(p))) }
    end
    local res = ctx.redis:pipeline(cmds)
    local out = {}
    for i, p in ipairs(partitions) do
      local r = res[i]
      if type(r) ~= "number" or r > 0 then out[p] = true end
    end
    return out
  end
end

return M
