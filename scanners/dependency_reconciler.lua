-- dependency_reconciler: for children parked in blocked:dependencies, resolves
-- unresolved edges whose upstream is already terminal with ff_resolve_dependency
-- (spec 20 §A.3). {fp:N} partitions; every 15 s; 50 children per lane per
-- partition, at most 20 edges examined per child per cycle.
-- scanhost: replies are read (only a {1, ...} reply that changed something is
-- "processed", quorum pending and already_fired included, as both wrote the
-- edge (DR1); rejections and already_resolved are skips: G1), FCALL failures and
-- read failures are errors (D1, D8), and edges resolved before a failure in the
-- same child still count (D2). Children that stay blocked are walked past with a
-- cursor, so 50 long-waiting children do not hide the rest. A never-claimed child
-- (empty current_attempt_index) gets attempt index 0, never a malformed key name.
-- A terminal upstream whose terminal_outcome is not one of the five outcomes is
-- bad data: an error for the child (reported), never a reason to skip it.
local keys = require "ff.keys"
local partition = require "ff.partition"
local reply = require "ff.reply"
local walker = require "ff.walker"
local resolve = require "ff.resolve" -- the call's shape at library version 5 or 34
local filter = require "ff.filter"

-- The terminal outcomes of spec 00 (anything else is not passed to the function,
-- which would read it as "impossible" and skip the child for good).
local OUTCOMES = { success = true, failed = true, cancelled = true, expired = true, skipped = true }

-- Terminal outcome of an upstream execution ("" = not terminal / not valid),
-- cached per partition scan; nil, err on a read error or an unknown outcome
-- (not cached).
local function upstream_outcome(ctx, cache, uid)
  if cache[uid] then return cache[uid] end
  local n = partition.parse_execution_id(uid)
  if not n then
    cache[uid] = ""
    return ""
  end
  local r, err = ctx.redis:call("HMGET", keys.core(partition.tag("execution", n), uid),
    "lifecycle_phase", "terminal_outcome")
  if not r then return nil, err end
  local outcome = ""
  if r[1] == "terminal" and r[2] and r[2] ~= "" and r[2] ~= "none" then
    if not OUTCOMES[r[2]] then return nil, "upstream " .. uid .. " has terminal_outcome " .. r[2] end
    outcome = r[2]
  end
  cache[uid] = outcome
  return outcome
end

-- Per-child values read at most once: now and the attempt index.
local function child_context(ctx, child, st)
  if st.now then return true end
  local now, err = ctx:now_ms()
  if not now then return nil, err end
  local ai, fid = resolve.child(ctx, child)
  if not ai then return nil, fid end
  st.now, st.ai, st.fid = now, ai, fid
  return true
end

local function resolve_keys(T, lane, child, edge, ai, uid)
  return {
    keys.core(T, child), keys.exec(T, child, "deps:meta"), keys.exec(T, child, "deps:unresolved"),
    keys.dep(T, child, edge), keys.lane(T, lane, "eligible"), keys.lane(T, lane, "terminal"),
    keys.lane(T, lane, "blocked:dependencies"), keys.attempt(T, child, ai),
    keys.stream_meta(T, child, ai), keys.exec(T, child, "payload"),
    keys.exec(T, uid, "result"), -- child's tag, as 0.1.1 (D6)
  }
end

-- Examines one edge; returns resolved (0/1) | nil, err.
local function resolve_edge(ctx, st, child, edge)
  local uid, err = ctx.redis:call("HGET", keys.dep(ctx.tag, child, edge), "upstream_execution_id")
  if uid == nil then return nil, err end
  if not uid or uid == "" then return 0 end
  local outcome, oerr = upstream_outcome(ctx, st.cache, uid)
  if not outcome then return nil, oerr end
  if outcome == "" then return 0 end
  local ok, cerr = child_context(ctx, child, st)
  if not ok then return nil, cerr end
  local r, ferr = ctx.redis:fcall("ff_resolve_dependency", resolve.call(ctx, child, st.fid,
    resolve_keys(ctx.tag, st.lane, child, edge, st.ai, uid), { edge, outcome, st.now }))
  local status, detail = reply.classify(r, ferr)
  if status == "error" then return nil, detail end
  -- already_fired: the group had fired, but the call still marked the edge,
  -- took it out of deps:unresolved and counted it in the group (DR1)
  if detail == "already_fired" then status = "processed" end
  if status == "skip" then
    reply.log_skip(ctx, r, "resolve_dependency refused", { child = child, edge = edge, code = detail })
    return 0
  end
  ctx.log:debug("resolve_dependency", { child = child, edge = edge, status = status, detail = detail })
  if status == "processed" and detail ~= "already_resolved" then return 1 end
  return 0
end

-- reconcile(C) -> resolved, err (resolved edges are counted even after an error).
local function reconcile(ctx, st, child)
  local edges, err = ctx.redis:call("SMEMBERS", keys.exec(ctx.tag, child, "deps:unresolved"))
  if not edges then return 0, err end
  table.sort(edges) -- deterministic order
  local resolved = 0
  st.now, st.ai = nil, nil
  for i = 1, math.min(#edges, ctx.config.edges) do
    local n, eerr = resolve_edge(ctx, st, child, edges[i])
    if not n then return resolved, eerr end
    resolved = resolved + n
  end
  return resolved
end

-- Is the child still parked in the set (so the walk cursor moves past it)?
local function still_blocked(ctx, set, child, resolved)
  if resolved == 0 then return true end
  local s = ctx.redis:call("ZSCORE", set, child)
  return s ~= false
end

-- visit(ctx, st, child, score, set) -> kept, processed, errors
local function visit(ctx, st, child, _, set)
  st.lane = set.lane
  local resolved, err = reconcile(ctx, st, child)
  if err then ctx.log:warn("dependency reconcile failed", { child = child, error = err }) end
  return still_blocked(ctx, set.key, child, resolved), resolved, err and 1 or 0
end

return walker.scanner {
  name = "dependency_reconciler",
  library_versions = { "5", "34" },
  interval = 15,
  defaults = { batch = 50, edges = 20 },
  bounds = { edges = { integer = true, min = 1, max = 10000 } },
  sets = walker.lanes("blocked:dependencies"),
  now = false, -- read per child, when an edge is resolved
  state = function() return { cache = {} } end, -- upstream outcomes, per partition scan
  prefilter = filter.walk, -- spec 30 §3.4: each blocked child, before SMEMBERS
  item = visit,
}
