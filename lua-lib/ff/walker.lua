-- ff.walker: the skeleton of a set walker. A set walker names, per
-- partition, the sets it walks and what it does with their members; the
-- skeleton supplies the rest: select() (partitions whose sets are all empty
-- are left out, ff.selection.nonempty), the server's now (one TIME per
-- select() chunk, not per partition: see chunk_now; a failed TIME is one
-- error and the partition is not walked), the
-- walk itself, a failed walk read counted as one error and logged, and the
-- counts.
--
-- Two kinds of walk:
--  * an unordered set, walked whole every cycle with SSCAN COUNT `batch`
--    (never an unbounded SMEMBERS); a member SSCAN returns twice is visited
--    once per walk. Either page(ctx, st, members, set) -> processed, errors
--    handles a page at once (e.g. pipelined), or each(ctx, st, member, set) ->
--    true (processed) | false (nothing to do) | nil, err handles one member,
--    a failure counted as one error and logged as `failed` (with the member
--    as field `field`);
--  * item(ctx, st, member, score, set) -> kept, processed, errors: a sorted
--    set, walked in score order with a cursor kept across cycles (ff.zwalk),
--    so members that stay never hide the ones behind them; kept = true (the
--    member stays: the cursor moves past it), false (removed) or "stop" (end
--    the walk here; the next cycle resumes with it). At most `limit(ctx)`
--    members (default: batch) are examined per set per cycle, and the walk
--    of a set stops once `most(ctx)` members were processed (default: no
--    limit). `due = true` walks only the due part (score <= now).
--    Or items(ctx, st, entries, set) -> verdicts, processed, errors: the
--    members of a page at once (entries = { {member, score}, ... },
--    verdicts[i] as item()'s kept for entries[i]), e.g. pipelined; no `most`.
--
--   return require("ff.walker").scanner {
--     name = "quota_reconciler", family = "quota", interval = 30,
--     defaults = { batch = 100 },
--     sets = function(ctx, tag) return { keys.quota_policies(tag) } end,
--     each = function(ctx, st, qid) ... return did_work end,
--     failed = "quota reconcile failed", field = "quota_policy_id",
--   }
local keys = require "ff.keys"
local selection = require "ff.selection"
local sscan = require "ff.sscan"
local util = require "ff.util"
local zwalk = require "ff.zwalk"

local M = {}

-- BATCH: the bound of every walker's `batch` (SSCAN COUNT / members per cycle).
M.BATCH = { integer = true, min = 1, max = 10000 }

-- lanes(suffix...) -> a sets(ctx, tag) function: the lane sets with these
-- suffixes for every configured lane, as { key, lane, suffix }.
function M.lanes(...)
  local suffixes = { ... }
  return function(ctx, tag)
    local out = {}
    for _, lane in ipairs(ctx.lanes) do
      for _, suffix in ipairs(suffixes) do
        out[#out + 1] = { key = keys.lane(tag, lane, suffix), lane = lane, suffix = suffix }
      end
    end
    return out
  end
end

-- sets_of(o, ctx, tag) -> the sets as tables { key, ... } (a set may be named
-- by its key alone).
local function sets_of(o, ctx, tag)
  local out = {}
  for i, s in ipairs(o.sets(ctx, tag)) do
    out[i] = type(s) == "string" and { key = s } or s
  end
  return out
end

-- each_member(o) -> a page function calling o.each for every member.
local function each_member(o)
  return function(ctx, st, members, set)
    local processed, errors = 0, 0
    for _, m in ipairs(members) do
      local did, err = o.each(ctx, st, m, set)
      if did then processed = processed + 1 end
      if did == nil then
        errors = errors + 1
        ctx.log:warn(o.failed, { [o.field] = m, error = tostring(err) })
      end
    end
    return processed, errors
  end
end

-- walk_pages(o, ctx, st, set) -> processed, errors | nil, err
local function walk_pages(o, ctx, st, set)
  local processed, errors, seen = 0, 0, {}
  local ok, err = sscan.each(ctx, set.key, ctx.config.batch, function(members)
    local fresh = {}
    for _, m in ipairs(members) do
      if not seen[m] then
        seen[m] = true
        fresh[#fresh + 1] = m
      end
    end
    if #fresh == 0 then return end
    local p, e = o.page(ctx, st, fresh, set)
    processed, errors = processed + p, errors + e
  end)
  if not ok then return nil, err, processed, errors end
  return processed, errors
end

-- walk_items(o, cursors, ctx, st, set) -> processed, errors | nil, err
local function walk_items(o, cursors, ctx, st, set)
  local processed, errors = 0, 0
  local most = o.most and o.most(ctx)
  local _, err = zwalk.walk(ctx, {
    key = set.key, min = "-inf", max = o.due and st.now or "+inf",
    page = ctx.config.batch, limit = o.limit and o.limit(ctx) or ctx.config.batch, cursors = cursors,
    prefilter = o.prefilter,
    visit_page = o.items and function(entries)
      local verdicts, p, e = o.items(ctx, st, entries, set)
      processed, errors = processed + p, errors + e
      return verdicts
    end,
  }, function(member, score)
    if most and processed >= most then return "stop" end
    local kept, p, e = o.item(ctx, st, member, score, set)
    processed, errors = processed + (p or 0), errors + (e or 0)
    return kept
  end)
  if err then return nil, err, processed, errors end
  return processed, errors
end

-- The server's now for the partitions of one select() chunk: TIME is read by
-- the chunk's first partition scan, and later ones add the time elapsed since
-- on the host's monotonic clock, so an idle cycle of a set walker over 256
-- partitions sends one TIME instead of 256 (issue 14: the commands of a
-- steady daemon). The reading lives in the chunk's selection (one table
-- shared by its partitions, see chunked) and is taken again after REREAD
-- seconds; a scan with no chunk (called outside a cycle) reads TIME itself.
local REREAD = 1

-- chunk_now(ctx, chunk) -> now_ms | nil (failure logged, as util.now)
local function chunk_now(ctx, chunk)
  if type(chunk) ~= "table" or not chunk.walker_chunk then return util.now(ctx) end
  local t = ctx:elapsed()
  if chunk.ms and t >= chunk.at and t - chunk.at < REREAD then
    return chunk.ms + math.floor((t - chunk.at) * 1000)
  end
  chunk.ms = util.now(ctx)
  chunk.at = ctx:elapsed()
  return chunk.ms
end

-- chunked(select) -> select, but the partitions it selects with `true` share
-- one table: their chunk, which scan() is handed (chunk_now).
local function chunked(select)
  return function(ctx, partitions)
    local out, processed, errors, skipped = select(ctx, partitions)
    if type(out) ~= "table" then return out, processed, errors, skipped end -- the host reports it
    local chunk = { walker_chunk = true }
    for p, v in pairs(out) do
      if v == true then out[p] = chunk end
    end
    return out, processed, errors, skipped
  end
end

-- scan(o, cursors) -> the scan(ctx, partition, selected) function of the scanner.
local function scan(o, cursors)
  return function(ctx, _, selected)
    local st = o.state and o.state(ctx) or {}
    if o.now ~= false then
      st.now = chunk_now(ctx, selected)
      if not st.now then return 0, 1 end
    end
    local processed, errors = 0, 0
    for _, set in ipairs(sets_of(o, ctx, ctx.tag)) do
      local p, e, wp, we
      if o.page then
        p, e, wp, we = walk_pages(o, ctx, st, set)
      else
        p, e, wp, we = walk_items(o, cursors, ctx, st, set)
      end
      if p == nil then
        util.failed(ctx, nil, "reading a set failed", { set = set.key, error = tostring(e) })
        p, e = wp, we + 1
      end
      processed, errors = processed + p, errors + e
    end
    return processed, errors
  end
end

-- scanner(o) -> the scanner table. o: name, interval, sets(ctx, tag), and
-- page, each (with failed, field), item or items (see above); optional family ("execution"), defaults
-- ({ batch = 100 } if absent), bounds (batch: M.BATCH), order, now (false:
-- no TIME), state(ctx) -> a fresh table per partition scan (st; st.now is
-- the server's now, see chunk_now), due, limit, most, select (default: nonempty sets),
-- observe (what runs instead of select() while the scanner is paused),
-- prefilter (item walks: ff.zwalk's, e.g. ff.filter.walk), library_versions.
function M.scanner(o)
  local kinds = (o.page and 1 or 0) + (o.each and 1 or 0) + (o.item and 1 or 0) + (o.items and 1 or 0)
  assert(kinds == 1, "ff.walker.scanner: exactly one of page, each, item or items")
  assert(not (o.items and o.most), "ff.walker.scanner: items walks have no most")
  if o.each then
    assert(o.failed and o.field, "ff.walker.scanner: each needs failed and field")
    local w = {}
    for k, v in pairs(o) do w[k] = v end
    w.page, w.each = each_member(o), nil
    o = w
  end
  local bounds = { batch = M.BATCH }
  for k, v in pairs(o.bounds or {}) do bounds[k] = v end
  local cursors = {} -- set key -> offset, kept across cycles (item walks)
  return {
    name = o.name,
    family = o.family or "execution",
    library_versions = o.library_versions,
    interval = o.interval,
    defaults = o.defaults or { batch = 100 },
    bounds = bounds,
    order = o.order,
    select = chunked(o.select or selection.nonempty(function(ctx, tag)
      local out = {}
      for i, s in ipairs(sets_of(o, ctx, tag)) do out[i] = s.key end
      return out
    end)),
    observe = o.observe,
    scan = scan(o, cursors),
  }
end

return M
