-- flow_projector: maintains the derived summary hash of every indexed flow
-- (spec 20 §A.4). {fp:N} partitions; every 15 s; SSCAN COUNT 100 over the index.
-- scanhost: instead of a random sample of 50 members the summary counts every
-- member, walking a large flow with SSCAN across cycles (at most `members` member
-- reads per flow per cycle, progress kept in this module) and writing the summary
-- once the walk is complete (F1). A flow whose members are all terminal leaves the
-- index whatever its size (F2). A flow with no valid member id writes nothing
-- (F7). Read errors are errors, never guesses (F6). The summary write and the
-- index removal are one script (issue 14).
local keys = require "ff.keys"
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

-- The summary write and the index removal, atomically (issue 14): a summary
-- is never overwritten by an older snapshot (another instance, or this one
-- after a long pause, computed it before the one in place), total_members is
-- read with the write, and an all-terminal flow leaves the index only if its
-- member set still has the size the walk counted (a member added meanwhile
-- keeps it indexed). A stored last_summary_update_at more than ARGV[3] ms
-- ahead is not trusted (a clock step): it is overwritten.
-- KEYS: summary, flow_index, members
-- ARGV: flow id, now_ms, horizon_ms, unindex (0/1), members walked, field, value, ...
-- Reply: 0 (a newer summary is in place), 1 (written), 2 (written, unindexed).
local WRITE = [[
local now = tonumber(ARGV[2])
local last = tonumber(redis.call('HGET', KEYS[1], 'last_summary_update_at') or '')
if last and last > now and last <= now + tonumber(ARGV[3]) then return 0 end
local total = redis.call('SCARD', KEYS[3])
redis.call('HSET', KEYS[1], 'total_members', total, unpack(ARGV, 6))
if ARGV[4] == '1' and total == tonumber(ARGV[5]) then
  redis.call('SREM', KEYS[2], ARGV[1])
  return 2
end
return 1]]

-- Removes the flow from the index only while its core is still gone (a flow
-- created meanwhile stays). KEYS: core, flow_index   ARGV: flow id
local DROP_IF_GONE = [[
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
return redis.call('SREM', KEYS[2], ARGV[1])]]

-- Writes the summary of a finished walk; returns written | nil, err.
local function write_summary(ctx, fid, w, now)
  local state, all_terminal = derive(w)
  local T = ctx.tag
  local argv = { "EVAL", WRITE, 3, keys.flow_summary(T, fid), keys.flow_index(T),
    keys.flow_members(T, fid), fid, now, 10 * 1000 * ctx.config.interval,
    all_terminal and 1 or 0, w.counted + w.invalid, "sampled_members", w.counted }
  for _, s in ipairs(STATES) do
    argv[#argv + 1] = "members_" .. s
    argv[#argv + 1] = c(w, s)
  end
  argv[#argv + 1] = "public_flow_state"; argv[#argv + 1] = state
  argv[#argv + 1] = "last_summary_update_at"; argv[#argv + 1] = now
  local r, err = ctx.redis:call(unpack(argv))
  if r == nil then return nil, err end
  if r == 0 then ctx.log:debug("a newer flow summary is in place", { flow_id = fid }) end
  return r > 0
end

-- Completes a finished walk; returns "updated" | "skipped" | nil, err.
local function finish(ctx, fid, w, now)
  if w.counted == 0 then
    ctx.log:warn("flow has no valid member id", { flow_id = fid, invalid = w.invalid })
    return "skipped"
  end
  local written, werr = write_summary(ctx, fid, w, now)
  if written == nil then return nil, werr end
  return written and "updated" or "skipped"
end

-- project(F) -> "updated" | "skipped" | "in_progress" | nil, err
local function project(ctx, fid, now)
  local T = ctx.tag
  local exists, err = ctx.redis:call("EXISTS", keys.flow_core(T, fid))
  if exists == nil then return nil, err end
  local mkey = keys.flow_members(T, fid)
  if exists == 0 then
    walks[mkey] = nil
    local r, derr = ctx.redis:call("EVAL", DROP_IF_GONE, 2, keys.flow_core(T, fid), keys.flow_index(T), fid)
    if r == nil then ctx.log:warn("SREM flow_index failed", { flow_id = fid, error = derr }) end
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

-- visit(ctx, st, F) -> updated | nil, err
local function visit(ctx, st, fid)
  local res, err = project(ctx, fid, st.now)
  if res == nil then return nil, err end
  return res == "updated"
end

return require("ff.walker").scanner {
  name = "flow_projector",
  family = "flow",
  interval = 15,
  defaults = { batch = 100, members = 1000 },
  bounds = { members = { integer = true, min = 1, max = 1000000 } },
  sets = function(_, tag) return { keys.flow_index(tag) } end,
  each = visit,
  failed = "flow projection failed",
  field = "flow_id",
}
