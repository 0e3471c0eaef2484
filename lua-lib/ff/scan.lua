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
--    them in the same cycle, up to `max_pages` pages;
--  * the tracker cycle is never advanced here (the C runner does it once per
--    full cycle).
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
function M.account(ctx, acc, item, reply, err)
  local kind, detail = M.classify(reply, err)
  if kind == "error" then
    acc.errors = acc.errors + 1
    ctx.failures:record_failure(item)
    ctx.log:warn("item failed", { item = item, error = detail })
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

-- remaining(ctx, index, members) -> how many of `members` are still in the
-- index (one ZMSCORE), or nil on error.
function M.remaining(ctx, index, members)
  local scores, err = ctx.redis:call("ZMSCORE", index, unpack(members))
  if type(scores) ~= "table" then
    ctx.log:warn("ZMSCORE failed", { index = index, error = tostring(err) })
    return nil
  end
  local n = 0
  for i = 1, #members do
    if scores[i] then n = n + 1 end
  end
  return n
end

-- page(ctx, acc, index, now, offset, batch, handle) -> members | nil
-- Reads one page of due items and handles every item not in backoff.
local function page(ctx, acc, index, now, offset, batch, handle)
  local members, err = ctx.redis:call("ZRANGEBYSCORE", index, "-inf", now,
    "LIMIT", offset, batch)
  if type(members) ~= "table" then
    acc.errors = acc.errors + 1
    ctx.log:warn("index read failed", { index = index, error = tostring(err) })
    return nil
  end
  for _, item in ipairs(members) do
    if not ctx.failures:should_skip(item) then
      M.account(ctx, acc, item, handle(item))
    end
  end
  return members
end

-- due_items(ctx, acc, opts): scan the due part of one index.
-- opts = { index, now, batch, max_pages, handle = function(item) -> reply, err }.
-- A page is read again past the entries the previous pages left behind, so
-- stale or backed-off entries at the low-score head never hide newer due
-- items; a page fully consumed ends the scan (same throughput as 0.1.1).
function M.due_items(ctx, acc, opts)
  local offset, max_pages = 0, opts.max_pages or 1
  for n = 1, max_pages do
    local members = page(ctx, acc, opts.index, opts.now, offset, opts.batch, opts.handle)
    if not members or #members < opts.batch or n == max_pages or ctx:stopping() then return end
    local left = M.remaining(ctx, opts.index, members)
    if not left then
      acc.errors = acc.errors + 1
      return
    end
    if left == 0 then return end
    offset = offset + left
  end
end

-- run_due(ctx, opts) -> processed, errors: TIME, then due_items on one index.
-- opts as due_items without `now`; batch / max_pages default from ctx.config.
function M.run_due(ctx, opts)
  local acc = M.new_acc()
  local now = M.now(ctx)
  if not now then return 0, 1 end
  M.due_items(ctx, acc, {
    index = opts.index, now = now, handle = opts.handle,
    batch = opts.batch or ctx.config.batch, max_pages = opts.max_pages or ctx.config.max_pages,
  })
  return acc.processed, acc.errors
end

-- hmget(ctx, key, fields) -> map field -> value|nil, or nil, err.
function M.hmget(ctx, key, fields)
  local vals, err = ctx.redis:call("HMGET", key, unpack(fields))
  if type(vals) ~= "table" then return nil, err or "bad HMGET reply" end
  local map = {}
  for i, f in ipairs(fields) do
    if type(vals[i]) == "string" then map[f] = vals[i] end
  end
  return map
end

return M
