-- ff.zwalk: walk a sorted set in score order across cycles with a persistent
-- offset cursor, so entries that stay in the set (not yet due, still blocked,
-- rejected) never starve the ones behind them (fixes head-of-line quirks U1, R1).
--
-- The cursor counts the entries that were *kept* before it: entries the visitor
-- removes shift the rest left, so the offset only advances past kept ones. When
-- the end of the range is reached the walk wraps to offset 0 and continues up to
-- the position it started from, so one call never visits an entry twice (barring
-- concurrent writers). The cursor table belongs to the caller (a scanner-module
-- table): after a reload it starts again from 0, which only delays coverage.
local M = {}

-- walk(ctx, w, visit) -> examined | nil, err
-- w = { key, min, max, page (ZRANGE page size), limit (entries per call),
--       cursors (table), cursor_key (defaults to key),
--       prefilter (optional: prefilter(ctx, items) -> set of the members of a
--       page to visit, or nil for all; the others stay, unvisited) }
-- visit(member, score) -> true when the entry stays in the set (cursor moves past
-- it), false when it was removed, "stop" to end the walk at this entry (the next
-- call resumes with it, e.g. once a per-cycle work budget is spent).
-- With w.visit_page instead, the entries to visit of a page are handed over at
-- once: visit_page(entries) -> verdicts, entries = { {member, score}, ... } in
-- score order, verdicts[i] as visit()'s for entries[i] (a visitor that stops
-- at entry i must not act on the ones after it).
function M.walk(ctx, w, visit)
  local visit_page = w.visit_page or function(entries)
    local verdicts = {}
    for i, e in ipairs(entries) do
      verdicts[i] = visit(e[1], e[2])
      if verdicts[i] == "stop" then break end
    end
    return verdicts
  end
  local ck = w.cursor_key or w.key
  local start = w.cursors[ck] or 0
  local offset, examined, after_wrap, wrapped = start, 0, 0, start == 0
  while examined < w.limit and not ctx:stopping() do
    local n = math.min(w.page, w.limit - examined)
    if wrapped and start > 0 then n = math.min(n, start - after_wrap) end
    if n <= 0 then break end
    local items, err = ctx.redis:call("ZRANGEBYSCORE", w.key, w.min, w.max, "WITHSCORES",
      "LIMIT", offset, n)
    if not items then
      w.cursors[ck] = offset
      return nil, err
    end
    local wanted = w.prefilter and w.prefilter(ctx, items)
    local entries, at = {}, {}
    for i = 1, #items, 2 do
      if not wanted or wanted[items[i]] then
        entries[#entries + 1] = { items[i], tonumber(items[i + 1]) }
        at[i] = #entries
      end
    end
    local verdicts = #entries > 0 and visit_page(entries) or {}
    for i = 1, #items, 2 do
      local kept = true
      if at[i] then kept = verdicts[at[i]] end
      if kept == "stop" then
        w.cursors[ck] = offset
        return examined
      end
      examined = examined + 1
      if wrapped then after_wrap = after_wrap + 1 end
      if kept then offset = offset + 1 end
    end
    if #items / 2 < n then
      -- end of the range: wrap once (a walk that started at 0 is complete)
      offset = 0
      if wrapped then break end
      wrapped = true
    end
  end
  w.cursors[ck] = offset
  return examined
end

return M
