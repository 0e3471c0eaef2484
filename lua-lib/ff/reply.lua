-- ff.reply: how a scanner reads and counts the reply of one item's call
-- (spec 10 §1; issue 3, wire contract unchanged):
--  * {1, ...} counts as processed; {0, code, ...} and the no-op replies
--    ({1, "ALREADY_SATISFIED", ...}, {1, "OK", "already_..."}) as skipped
--    (debug log; a refusal for malformed data is a warning naming the field);
--  * an error reply is an error that feeds the failure tracker;
--  * a transport failure (timeout, lost connection: the binding's
--    "transport" marker) is an error of the cycle but says nothing about the
--    item: it never feeds the tracker (issue 9).
local M = {}

-- noop(reply): a success reply that says nothing needed doing:
-- {1, "ALREADY_SATISFIED", ...}, or {1, "OK", d} with d "already_...",
-- "not_yet_..." or "no_timeout_pending". (Replies that removed a dead index
-- entry, "..._cleaned", changed something and count as processed.)
-- (The verdict per detail text is remembered: a drain classifies every item's
-- reply, and the functions answer with a handful of codes; at most NOOP_MAX
-- are kept.)
local NOOP_MAX, noop_codes, noop_count = 256, {}, 0

local function noop_code(d)
  local v = noop_codes[d]
  if v ~= nil then return v end
  v = d:sub(1, 8) == "already_" or d:sub(1, 8) == "not_yet_" or d == "no_timeout_pending"
  if noop_count < NOOP_MAX then noop_codes[d], noop_count = v, noop_count + 1 end
  return v
end

local function noop(reply)
  if reply[2] == "ALREADY_SATISFIED" then return true end
  local d = reply[3]
  return reply[2] == "OK" and type(d) == "string" and noop_code(d)
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

-- each(ctx, items, fn) -> processed, errors: fn(ctx, acc, item) for every
-- item, in order, until the host asks the scan to stop; one accumulator.
function M.each(ctx, items, fn)
  local acc = M.new_acc()
  for _, item in ipairs(items) do
    if ctx:stopping() then break end
    fn(ctx, acc, item)
  end
  return acc.processed, acc.errors
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

-- outcome(ctx, r, err, what, fields) -> status, detail: the reply of a call
-- a scanner makes for one member (outside a drain: no failure tracker),
-- classified, with a skip logged as "<what> refused" (log_skip, fields.code)
-- and a failure as the warning "<what> failed" (fields.error). The caller
-- logs a processed one, in its own words.
function M.outcome(ctx, r, err, what, fields)
  local status, detail = M.classify(r, err)
  if status == "skip" then
    fields.code = detail
    M.log_skip(ctx, r, what .. " refused", fields)
  elseif status ~= "processed" then
    fields.error = detail
    ctx.log:warn(what .. " failed", fields)
  end
  return status, detail
end

return M
