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
-- not depend on the transport.
local M = {}

local function append(dst, src)
  for i = 1, #src do dst[#dst + 1] = src[i] end
  return dst
end

-- fcall_cmd(name, keys, args) -> the FCALL command as a pipeline entry.
function M.fcall_cmd(name, keys, args)
  return append(append({ "FCALL", name, #keys }, keys), args)
end

-- err_of(r) -> the error text of a pipeline result, or nil.
function M.err_of(r)
  if type(r) == "table" and r.err ~= nil then return tostring(r.err) end
  return nil
end

-- prepare(ctx, op, items) -> calls: { item, keys, args } or { item, err }.
-- One pipeline for every item's pre-read; a failed pre-read fails that item
-- alone, exactly like the one-at-a-time path did.
function M.prepare(ctx, op, items)
  local pre = {}
  if op.pre then
    local cmds = {}
    for i, item in ipairs(items) do cmds[i] = op.pre(ctx, item) end
    pre = ctx.redis:pipeline(cmds)
  end
  local calls = {}
  for i, item in ipairs(items) do
    local perr = M.err_of(pre[i])
    if perr then
      calls[i] = { item = item, err = "pre-read failed: " .. perr }
    else
      local keys, args = op.call(ctx, item, pre[i])
      calls[i] = { item = item, keys = keys, args = args }
    end
  end
  return calls
end

-- use_batch(ctx): the batch variants exist only in scanhost's own library.
function M.use_batch(ctx)
  return ctx.library == "scanhost"
end

-- commands(ctx, op, ready) -> pipeline entries for the ready calls.
local function commands(ctx, op, ready)
  if M.use_batch(ctx) then
    local keys, args = {}, { #ready }
    for _, c in ipairs(ready) do
      append(keys, c.keys)
      append(args, c.args)
    end
    return { M.fcall_cmd(op.fn .. "_batch", keys, args) }
  end
  local cmds = {}
  for i, c in ipairs(ready) do cmds[i] = M.fcall_cmd(op.fn, c.keys, c.args) end
  return cmds
end

-- replies(ctx, ready, results) -> per-ready-call reply (or {err=}). A batch
-- call that failed as a whole (transport, BUSY, shape) fails every item.
local function replies(ctx, ready, results)
  if not M.use_batch(ctx) then return results end
  local r = results[1]
  local whole = M.err_of(r)
  if not whole and (type(r) ~= "table" or #r ~= #ready) then whole = "malformed batch reply" end
  if not whole then return r end
  local out = {}
  for i = 1, #ready do out[i] = { err = whole } end
  return out
end

-- run(ctx, op, items, extra) -> calls, extra_results
-- Each call gets .reply or .err. `extra` commands (e.g. a ZMSCORE of the page)
-- ride in the same round trip, after the calls, so they see their effects.
function M.run(ctx, op, items, extra)
  local calls = M.prepare(ctx, op, items)
  local ready = {}
  for _, c in ipairs(calls) do
    if not c.err then ready[#ready + 1] = c end
  end
  local cmds = #ready > 0 and commands(ctx, op, ready) or {}
  local ncalls = #cmds
  append(cmds, extra or {})
  if #cmds == 0 then return calls, {} end
  local results = ctx.redis:pipeline(cmds)
  local per_item = replies(ctx, ready, results)
  for i, c in ipairs(ready) do
    local r = per_item[i]
    c.err = M.err_of(r)
    if not c.err then c.reply = r end
  end
  local extra_results = {}
  for i = ncalls + 1, #cmds do extra_results[#extra_results + 1] = results[i] end
  return calls, extra_results
end

return M
