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
-- A page of children costs the same round trips as one child (see visit).
local keys = require "ff.keys"
local partition = require "ff.partition"
local reply = require "ff.reply"
local walker = require "ff.walker"
local resolve = require "ff.resolve" -- the call's shape at library version 5 or 34
local filter = require "ff.filter"
local batch = require "ff.batch"

-- The terminal outcomes of spec 00 (anything else is not passed to the function,
-- which would read it as "impossible" and skip the child for good).
local OUTCOMES = { success = true, failed = true, cancelled = true, expired = true, skipped = true }

-- A page of parked children is handled at once, in rounds of one pipeline
-- each: their unresolved edge sets; the upstream of every edge examined;
-- the outcomes of the upstreams not in the cache; TIME and the children's
-- attempt index (and flow id) where an edge can be resolved; then the
-- FCALLs, the first resolvable edge of every child in one pipeline, the
-- second in the next... (a child whose call failed goes no further, as one
-- at a time); last, which children left the parked set. Per child, what
-- happens is what the one-at-a-time walk did: the edges in order, up to the
-- first failure, and edges resolved before a failure still count (D2).

local err_of = batch.err_of -- the error text of a pipeline result, or nil

-- edge_sets(ctx, kids): kid.edges = its first ctx.config.edges unresolved
-- edge ids in order, or kid.err.
local function edge_sets(ctx, kids)
  local cmds = {}
  for i, kid in ipairs(kids) do cmds[i] = { "SMEMBERS", keys.exec(ctx.tag, kid.id, "deps:unresolved") } end
  for i, r in ipairs(ctx.redis:pipeline(cmds)) do
    local kid = kids[i]
    kid.err = err_of(r)
    if not kid.err then
      table.sort(r) -- deterministic order
      kid.edges = {}
      for j = 1, math.min(#r, ctx.config.edges) do kid.edges[j] = r[j] end
    end
  end
end

-- upstreams(ctx, kids): kid.uids[j] = the upstream of kid.edges[j] (false:
-- none), up to the first failed read (kid.err: the edges after it are not
-- examined).
local function upstreams(ctx, kids)
  local cmds = {}
  for _, kid in ipairs(kids) do
    kid.first = #cmds + 1
    for _, edge in ipairs(kid.edges or {}) do
      cmds[#cmds + 1] = { "HGET", keys.dep(ctx.tag, kid.id, edge), "upstream_execution_id" }
    end
  end
  local res = #cmds > 0 and ctx.redis:pipeline(cmds) or {}
  for _, kid in ipairs(kids) do
    kid.uids = {}
    for j = 1, #(kid.edges or {}) do
      local r = res[kid.first + j - 1]
      kid.err = err_of(r)
      if kid.err then break end
      kid.uids[j] = (r and r ~= "") and r or false
    end
  end
end

-- outcome_of(r, uid) -> the terminal outcome in an HMGET reply ("" = not
-- terminal), or nil, err for an outcome that is none of the five.
local function outcome_of(r, uid)
  if r[1] == "terminal" and r[2] and r[2] ~= "" and r[2] ~= "none" then
    if not OUTCOMES[r[2]] then return nil, "upstream " .. uid .. " has terminal_outcome " .. r[2] end
    return r[2]
  end
  return ""
end

-- outcomes(ctx, cache, kids) -> failed: the terminal outcome of every
-- upstream named (cached per partition scan; "" = not terminal or not an
-- execution id), read in one pipeline on each upstream's own tag; failed[uid]
-- = why it is not known (a read error or an unknown outcome: not cached).
local function outcomes(ctx, cache, kids)
  local cmds, asked = {}, {}
  for _, kid in ipairs(kids) do
    for _, uid in ipairs(kid.uids or {}) do
      if uid and cache[uid] == nil and not asked[uid] then
        local n = partition.parse_execution_id(uid)
        if n then
          asked[uid] = #cmds + 1
          cmds[#cmds + 1] = { "HMGET", keys.core(partition.tag("execution", n), uid),
            "lifecycle_phase", "terminal_outcome" }
        else
          cache[uid] = ""
        end
      end
    end
  end
  local res = #cmds > 0 and ctx.redis:pipeline(cmds) or {}
  local failed = {}
  for uid, i in pairs(asked) do
    local err = err_of(res[i])
    local outcome
    if not err then outcome, err = outcome_of(res[i], uid) end
    if outcome then cache[uid] = outcome else failed[uid] = err end
  end
  return failed
end

-- actionable(kids, cache, failed): kid.todo = { {edge, uid, outcome}, ... },
-- the edges to resolve in order, up to the first upstream whose outcome is
-- not known (kid.err). They are resolved even when a later edge failed (D2).
local function actionable(kids, cache, failed)
  for _, kid in ipairs(kids) do
    kid.todo = {}
    for j, uid in ipairs(kid.uids) do
      if uid and failed[uid] then
        kid.err = failed[uid]
        break
      end
      local outcome = uid and cache[uid] or ""
      if outcome ~= "" then kid.todo[#kid.todo + 1] = { edge = kid.edges[j], uid = uid, outcome = outcome } end
    end
  end
end

-- contexts(ctx, with) -> now | nil: TIME, and the attempt index (and flow
-- id) of every child with an edge to resolve, in one pipeline (a failure
-- ends that child before any call: kid.err).
local function contexts(ctx, with)
  local cmds = { { "TIME" } }
  for i, kid in ipairs(with) do cmds[i + 1] = resolve.child_read(ctx, kid.id) end
  local res = ctx.redis:pipeline(cmds)
  local terr = err_of(res[1])
  local now = not terr and tonumber(res[1][1]) * 1000 + math.floor(tonumber(res[1][2]) / 1000)
  for i, kid in ipairs(with) do
    local err = terr or err_of(res[i + 1])
    if err then
      kid.err, kid.todo = err, {}
    else
      kid.ai, kid.fid = resolve.child_of(ctx, res[i + 1])
    end
  end
  return now
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

-- counted(ctx, kid, e, r) -> 1 (resolved) | 0 | nil, err: one call's reply.
local function counted(ctx, kid, e, r)
  local status, detail = reply.classify(r)
  if status == "error" or status == "transport" then return nil, detail end
  -- already_fired: the group had fired, but the call still marked the edge,
  -- took it out of deps:unresolved and counted it in the group (DR1)
  if detail == "already_fired" then status = "processed" end
  if status == "skip" then
    reply.log_skip(ctx, r, "resolve_dependency refused", { child = kid.id, edge = e.edge, code = detail })
    return 0
  end
  ctx.log:debug("resolve_dependency", { child = kid.id, edge = e.edge, status = status, detail = detail })
  if status == "processed" and detail ~= "already_resolved" then return 1 end
  return 0
end

-- calls(ctx, lane, kids, now): round k sends the k-th edge of every child
-- still going, one pipeline; kid.resolved counts, a failure ends the child.
local function calls(ctx, lane, kids, now)
  for k = 1, math.huge do
    local cmds, who = {}, {}
    for _, kid in ipairs(kids) do
      local e = not kid.halted and kid.todo[k]
      if e then
        local ks, args = resolve.call(ctx, kid.id, kid.fid,
          resolve_keys(ctx.tag, lane, kid.id, e.edge, kid.ai, e.uid), { e.edge, e.outcome, now })
        cmds[#cmds + 1] = batch.fcall_cmd("ff_resolve_dependency", ks, args)
        who[#cmds] = { kid = kid, e = e }
      end
    end
    if #cmds == 0 then return end
    for i, r in ipairs(ctx.redis:pipeline(cmds)) do
      local kid = who[i].kid
      local n, err = counted(ctx, kid, who[i].e, r)
      if n then kid.resolved = kid.resolved + n else kid.err, kid.halted = err, true end
    end
  end
end

-- verdicts(ctx, set, kids) -> kept per child: a child that resolved an edge
-- stays only if it is still parked (the walk cursor moves past it).
local function verdicts(ctx, set, kids)
  local cmds, at, out = {}, {}, {}
  for i, kid in ipairs(kids) do
    out[i] = true
    if kid.resolved > 0 then
      cmds[#cmds + 1] = { "ZSCORE", set, kid.id }
      at[#cmds] = i
    end
  end
  for j, r in ipairs(#cmds > 0 and ctx.redis:pipeline(cmds) or {}) do out[at[j]] = r ~= false end
  return out
end

-- visit(ctx, st, entries, set) -> kept per child, processed, errors
local function visit(ctx, st, entries, set)
  local kids = {}
  for i, e in ipairs(entries) do kids[i] = { id = e[1], resolved = 0 } end
  edge_sets(ctx, kids)
  upstreams(ctx, kids)
  actionable(kids, st.cache, outcomes(ctx, st.cache, kids))
  local with = {}
  for _, kid in ipairs(kids) do
    if #kid.todo > 0 then with[#with + 1] = kid end
  end
  if #with > 0 then
    local now = contexts(ctx, with)
    if now then calls(ctx, set.lane, with, now) end
  end
  local processed, errors = 0, 0
  for _, kid in ipairs(kids) do
    processed = processed + kid.resolved
    if kid.err then
      errors = errors + 1
      ctx.log:warn("dependency reconcile failed", { child = kid.id, error = tostring(kid.err) })
    end
  end
  return verdicts(ctx, set.key, kids), processed, errors
end

return walker.scanner {
  name = "dependency_reconciler",
  library_versions = { "5", "34" },
  interval = 15,
  defaults = { batch = 50, edges = 20 },
  bounds = { edges = { integer = true, min = 1, max = 10000 } },
  sets = walker.lanes("blocked:dependencies"),
  now = false, -- read per page, when an edge is resolved
  state = function() return { cache = {} } end, -- upstream outcomes, per partition scan
  prefilter = filter.walk, -- spec 30 §3.4: each blocked child, before SMEMBERS
  items = visit,
}
