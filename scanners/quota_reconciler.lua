-- quota_reconciler: trims expired entries of each quota policy's request window
-- and recomputes the concurrency counter from live admission guards (spec 20 §A.7).
-- Quota partitions {q:K}; every 30 s.
-- scanhost: policies and admitted members are walked with SSCAN, never an
-- unbounded SMEMBERS (QR1); a failed EXISTS is an error that removes nothing and
-- leaves the counter alone, since the live count is then unknown (QR2).
local keys = require "ff.keys"
local scan_sel = require "ff.scan" -- select(): skip partitions with nothing to walk
local budget = require "ff.budget" -- integer parsing
local sscan = require "ff.sscan"

local function positive(v)
  local n = budget.int(v or "")
  if n and n > 0 then return n end
  return nil
end

-- Drops window entries older than the window; returns removed | nil, err.
local function trim_window(ctx, qid, secs, now)
  local cutoff = math.max(0, now - secs * 1000)
  return ctx.redis:call("ZREMRANGEBYSCORE", keys.quota_window(ctx.tag, qid), "-inf", cutoff)
end

-- One page of admitted members: live count, or nil, err when a guard check failed.
local function check_page(ctx, qid, members)
  local T = ctx.tag
  local cmds = {}
  for i, eid in ipairs(members) do cmds[i] = { "EXISTS", keys.quota_admitted(T, qid, eid) } end
  local res = ctx.redis:pipeline(cmds)
  local live, stale = 0, {}
  for i, r in ipairs(res) do
    if type(r) ~= "number" then return nil, (type(r) == "table" and r.err) or "bad EXISTS reply" end
    if r == 1 then live = live + 1 else stale[#stale + 1] = members[i] end
  end
  if #stale > 0 then ctx.redis:call("SREM", keys.quota_admitted_set(T, qid), unpack(stale)) end
  return live
end

-- Counts live guards over the whole admitted set (pruning expired members).
-- SSCAN may return a member twice, so each member is counted once.
local function count_live(ctx, qid, count)
  local live, perr, seen = 0, nil, {}
  local ok, err = sscan.each(ctx, keys.quota_admitted_set(ctx.tag, qid), count, function(page)
    local members = {}
    for _, m in ipairs(page) do
      if not seen[m] then seen[m] = true; members[#members + 1] = m end
    end
    if #members == 0 then return end
    local n, e = check_page(ctx, qid, members)
    if not n then perr = e; return false end
    live = live + n
  end)
  if not ok then return nil, err end
  if perr then return nil, perr end
  return live
end

-- Rewrites the counter when it differs from the live count; returns changed | nil, err.
local function fix_counter(ctx, qid, live)
  local ckey = keys.quota_concurrency(ctx.tag, qid)
  local stored, err = ctx.redis:call("GET", ckey)
  if stored == nil then return nil, err end
  if (budget.int(stored or "") or 0) == live then return false end
  local r, serr = ctx.redis:call("SET", ckey, live)
  if r == nil then return nil, serr end
  ctx.log:info("quota concurrency corrected", { quota_policy_id = qid, from = stored, to = live })
  return true
end

-- reconcile(Q) -> did_work, err (err set when some step failed; work done so far is kept)
local function reconcile(ctx, qid, now)
  local def, err = ctx.redis:call("HMGET", keys.quota(ctx.tag, qid),
    "requests_per_window_seconds", "active_concurrency_cap")
  if not def then return false, err end
  local did = false
  local secs = positive(def[1])
  if secs then
    local removed = trim_window(ctx, qid, secs, now)
    did = type(removed) == "number" and removed > 0
  end
  if not positive(def[2]) then return did end
  local live, lerr = count_live(ctx, qid, ctx.config.batch)
  if not live then return did, lerr end
  local changed, cerr = fix_counter(ctx, qid, live)
  if changed == nil then return did, cerr end
  return did or changed
end

local function scan(ctx)
  local now, terr = ctx:now_ms()
  if not now then
    ctx.log:warn("TIME failed", { error = terr })
    return 0, 1
  end
  local processed, errors = 0, 0
  local ok, serr = sscan.each(ctx, keys.quota_policies(ctx.tag), ctx.config.batch, function(ids)
    for _, qid in ipairs(ids) do
      local did, err = reconcile(ctx, qid, now)
      if did then processed = processed + 1 end
      if err then
        errors = errors + 1
        ctx.log:warn("quota reconcile failed", { quota_policy_id = qid, error = err })
      end
    end
  end)
  if not ok then
    errors = errors + 1
    ctx.log:warn("SSCAN quota_policies failed", { error = serr })
  end
  return processed, errors
end

return {
  name = "quota_reconciler",
  family = "quota",
  interval = 30,
  defaults = { batch = 100 },
  bounds = { batch = { integer = true, min = 1, max = 10000 } },
  select = scan_sel.select_nonempty(function(_, tag) return { keys.quota_policies(tag) } end),
  scan = scan,
}
