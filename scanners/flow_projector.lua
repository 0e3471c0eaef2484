-- flow_projector: maintains the derived summary hash of every indexed flow
-- (spec 20 §A.4). {fp:N} partitions; every 15 s; SSCAN COUNT 100 over the index.
-- scanhost: instead of a random sample of 50 members the summary counts every
-- member, walking a large flow with SSCAN across cycles (at most `members` member
-- reads per flow per cycle, progress kept in this module) and writing the summary
-- once the walk is complete (F1). A flow whose members are all terminal leaves the
-- index whatever its size (F2). A flow with no valid member id writes nothing
-- (F7). Read errors are errors, never guesses (F6).
local keys = require "ff.keys"
local scan_sel = require "ff.scan" -- select(): skip partitions with nothing to walk
local partition = require "ff.partition"
local sscan = require "ff.sscan"

local walks = {} -- members key -> walk in progress, kept across cycles

local STATES = { "completed", "failed", "cancelled", "expired", "skipped", "active",
  "suspended", "waiting", "delayed", "rate_limited", "waiting_children" }
local TERMINAL = { completed = true, failed = true, cancelled = true, expired = true, skipped = true }

local function new_walk()
  return { cursor = "0", seen = {}, counts = {}, counted = 0, invalid = 0 }
end

-- Reads public_state of one page of new members and tallies them; true | nil, err.
local function tally_page(ctx, w, page)
  local ids, cmds = {}, {}
  for _, eid in ipairs(page) do
    if not w.seen[eid] then
      w.seen[eid] = true
      local n = partition.parse_execution_id(eid)
      if n then
        ids[#ids + 1] = eid
        cmds[#cmds + 1] = { "HGET", keys.core(partition.tag("execution", n), eid), "public_state" }
      else
        w.invalid = w.invalid + 1
      end
    end
  end
  if #cmds == 0 then return true end
  local res = ctx.redis:pipeline(cmds)
  for i = 1, #ids do
    local r = res[i]
    if type(r) == "table" then return nil, r.err end
    local state = (r and r ~= "") and r or "unknown" -- member core gone (F3)
    w.counts[state] = (w.counts[state] or 0) + 1
    w.counted = w.counted + 1
  end
  return true
end

-- Advances the walk by at most `limit` members; returns complete | nil, err.
local function advance(ctx, w, members_key, limit)
  local read = 0
  repeat
    local cursor, page = sscan.page(ctx, members_key, w.cursor, 100)
    if not cursor then return nil, page end
    local ok, err = tally_page(ctx, w, page)
    if not ok then return nil, err end
    w.cursor, read = cursor, read + #page
  until w.cursor == "0" or read >= limit
  return w.cursor == "0"
end

local function c(w, s) return w.counts[s] or 0 end

local function derive(w)
  local terminal = 0
  for s in pairs(TERMINAL) do terminal = terminal + c(w, s) end
  local all_terminal = w.counted > 0 and terminal == w.counted
  if all_terminal then
    if c(w, "failed") + c(w, "cancelled") + c(w, "expired") > 0 then return "failed", true end
    return "completed", true
  end
  if c(w, "active") > 0 then return "running", false end
  if c(w, "suspended") + c(w, "delayed") + c(w, "rate_limited") + c(w, "waiting_children") > 0 then
    return "blocked", false
  end
  return "open", false
end

local function write_summary(ctx, fid, w, total, now)
  local state, all_terminal = derive(w)
  local argv = { "HSET", keys.flow_summary(ctx.tag, fid),
    "total_members", total, "sampled_members", w.counted }
  for _, s in ipairs(STATES) do
    argv[#argv + 1] = "members_" .. s
    argv[#argv + 1] = c(w, s)
  end
  argv[#argv + 1] = "public_flow_state"; argv[#argv + 1] = state
  argv[#argv + 1] = "last_summary_update_at"; argv[#argv + 1] = now
  local r, err = ctx.redis:call(unpack(argv))
  if r == nil then return nil, err end
  return all_terminal
end

-- Removes a flow from the index; a failure is logged (the next cycle retries).
local function unindex(ctx, fid)
  local r, err = ctx.redis:call("SREM", keys.flow_index(ctx.tag), fid)
  if r == nil then ctx.log:warn("SREM flow_index failed", { flow_id = fid, error = err }) end
end

-- Completes a finished walk; returns "updated" | "skipped" | nil, err.
local function finish(ctx, fid, w, now)
  local total, err = ctx.redis:call("SCARD", keys.flow_members(ctx.tag, fid))
  if total == nil then return nil, err end
  if w.counted == 0 then
    ctx.log:warn("flow has no valid member id", { flow_id = fid, invalid = w.invalid })
    return "skipped"
  end
  local all_terminal, werr = write_summary(ctx, fid, w, total, now)
  if all_terminal == nil then return nil, werr end
  if all_terminal and w.counted + w.invalid == total then unindex(ctx, fid) end
  return "updated"
end

-- project(F) -> "updated" | "skipped" | "in_progress" | nil, err
local function project(ctx, fid, now)
  local T = ctx.tag
  local exists, err = ctx.redis:call("EXISTS", keys.flow_core(T, fid))
  if exists == nil then return nil, err end
  local mkey = keys.flow_members(T, fid)
  if exists == 0 then
    walks[mkey] = nil
    unindex(ctx, fid)
    return "skipped"
  end
  local w = walks[mkey] or new_walk()
  local complete, aerr = advance(ctx, w, mkey, ctx.config.members)
  if complete == nil then
    walks[mkey] = nil -- start over next cycle: a partial tally is never written
    return nil, aerr
  end
  if not complete then
    walks[mkey] = w
    return "in_progress"
  end
  walks[mkey] = nil
  if next(w.seen) == nil then return "skipped" end -- no members: nothing to summarise
  return finish(ctx, fid, w, now)
end

local function scan(ctx)
  local now, terr = ctx:now_ms()
  if not now then
    ctx.log:warn("TIME failed", { error = terr })
    return 0, 1
  end
  local processed, errors = 0, 0
  local ok, serr = sscan.each(ctx, keys.flow_index(ctx.tag), ctx.config.batch, function(fids)
    for _, fid in ipairs(fids) do
      local res, err = project(ctx, fid, now)
      if res == "updated" then processed = processed + 1 end
      if res == nil then
        errors = errors + 1
        ctx.log:warn("flow projection failed", { flow_id = fid, error = err })
      end
    end
  end)
  if not ok then
    errors = errors + 1
    ctx.log:warn("SSCAN flow_index failed", { error = serr })
  end
  return processed, errors
end

return {
  name = "flow_projector",
  family = "flow",
  interval = 15,
  defaults = { batch = 100, members = 1000 },
  bounds = { batch = { integer = true, min = 1, max = 10000 }, members = { integer = true, min = 1, max = 1000000 } },
  select = scan_sel.select_nonempty(function(_, tag) return { keys.flow_index(tag) } end),
  scan = scan,
}
