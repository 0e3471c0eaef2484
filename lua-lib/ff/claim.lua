-- ff.claim: per-partition, per-cycle claims, so that several scanhost
-- instances share the partitions of one deployment (issue 14).
--
-- Before an instance acts on a partition it claims it for the cycle:
--   SET scanhost:claim:<tag>:<scanner> <instance id> NX PX <0.9 x interval> GET
-- The key carries the partition's tag, so it lives in the partition's own
-- cluster slot. Only won partitions are acted on. A dead instance's claims
-- expire before the others' next cycle, which then take its partitions over:
-- no membership protocol. GET names the holder of a lost claim (the host logs
-- takeovers) and recognises our own claim still alive from a previous cycle,
-- which counts as won.
--
-- Cost: a partition is claimed only when it has work, so an idle cycle sends
-- no claim at all. The select helpers of ff.selection pass their discovery
-- pipeline through pipeline(): partitions that had work in the previous cycle
-- are claimed inside that same pipeline; partitions that newly show work are
-- claimed in one more pipeline for the chunk.
--
-- With claims on, the host wraps every script's select() and scan() (wrap(),
-- called from C at load time):
--  * after select(), wanted partitions that were not claimed through
--    pipeline() are claimed in one pipeline and lost ones are dropped. A
--    script without select() gets one that wants the whole chunk, so each of
--    its partitions is claimed that way. A custom select() that acts on items
--    itself must claim first, with pipeline().
--  * before scan(), hold() checks that the partition's claim is still fresh,
--    and renews it (only if it is still ours, atomically) when the cycle has
--    run long; a partition lost meanwhile is skipped. The due-item drains of
--    ff.drain check hold() before every further page too.
local M = {}

local FRESH = 0.8       -- share of the claim's lifetime after which hold() renews it
-- share after which a drain renews it ahead, in the pipeline of its next
-- group (aging, renew_cmd, renewed): the renewal lands long before FRESH,
-- so hold() finds the claim fresh instead of stopping the drain for a round
-- trip of its own while groups are in flight
local RENEW_AHEAD = 0.5
local MIN_INTERVAL = 0.1 -- the host's floor for intervals (RUNNER_MIN_INTERVAL)

-- Module state (each scanner has its own Lua state): partitions that had work
-- in the last discovery, and for the current chunk the partitions whose claim
-- was sent (tried) and those won, with ctx:elapsed() when the claim was sent
-- (-inf: our own claim from before, of unknown age).
local hot, tried, taken = {}, {}, {}

-- Renews (or takes) a claim only if it is ours or free: 1, or the holder.
local RENEW = [[
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return v]]

M.PREFIX = "scanhost:claim:"

-- key(ctx, p) -> the claim key of partition p for this scanner:
-- scanhost:claim:<tag>:<scanner> (the host builds it: it also releases claims).
function M.key(ctx, p)
  return ctx:claim_key(p)
end

-- is_key(k): k is a claim key (scanhost's bookkeeping, not FlowFabric data).
function M.is_key(k)
  return k:sub(1, #M.PREFIX) == M.PREFIX
end

-- ttl_ms(ctx) -> a claim's lifetime: 0.9 x the scanner's interval.
function M.ttl_ms(ctx)
  return math.max(1, math.floor(900 * math.max(ctx.config.interval or 0, MIN_INTERVAL)))
end

local function claim_cmd(ctx, p)
  return { "SET", M.key(ctx, p), ctx.instance_id, "NX", "PX", M.ttl_ms(ctx), "GET" }
end

-- record(ctx, p, r, at) -> won: r is the reply of p's SET ... NX GET.
local function record(ctx, p, r, at)
  tried[p] = true
  if r == false or r == ctx.instance_id then
    taken[p] = r == false and at or -math.huge
    ctx:claim_note(p, true)
    return true
  end
  taken[p] = nil
  ctx:claim_note(p, false, r)
  return false
end

-- settle(ctx, parts, res, base, at, won) -> errors: the claims of parts are
-- res[base + 1 ...]; won partitions go into won. Failed claims (one error
-- for the lot) leave their partitions out of this cycle.
local function settle(ctx, parts, res, base, at, won)
  local failed, first
  for i, p in ipairs(parts) do
    local r = res[base + i]
    if type(r) == "string" or r == false then
      if record(ctx, p, r, at) then won[p] = true end
    else
      tried[p] = true
      failed, first = (failed or 0) + 1, first or (type(r) == "table" and r.err) or r
    end
  end
  if not failed then return 0 end
  ctx.log:warn("claims failed; those partitions are left out of this cycle",
    { partitions = failed, error = tostring(first) })
  return 1
end

-- claim_many(ctx, parts, won) -> errors: one pipeline of claims.
local function claim_many(ctx, parts, won)
  if #parts == 0 then return 0 end
  local cmds = {}
  for i, p in ipairs(parts) do cmds[i] = claim_cmd(ctx, p) end
  local at = ctx:elapsed()
  return settle(ctx, parts, ctx.redis:pipeline(cmds), 0, at, won)
end

local ALL = setmetatable({}, { __index = function() return true end })

-- pipeline(ctx, cmds, owner, busy) -> results, won, errors
-- Sends a select()'s discovery pipeline and claims what it finds busy.
-- cmds[i] is about partition owner[i]; busy(i, reply) tells whether that
-- reply shows work (or a failure that scan() must see). results[i] is the
-- reply of cmds[i]; won[p] is true for the partitions this instance may act
-- on (all of them with claims off); errors counts failed claim pipelines.
function M.pipeline(ctx, cmds, owner, busy)
  if not ctx.claims then return #cmds > 0 and ctx.redis:pipeline(cmds) or {}, ALL, 0 end
  local n, all, eager, seen = #cmds, {}, {}, {}
  for i = 1, n do all[i] = cmds[i] end
  for i = 1, n do
    local p = owner[i]
    if hot[p] and not seen[p] then
      seen[p] = true
      eager[#eager + 1] = p
      all[#all + 1] = claim_cmd(ctx, p)
    end
  end
  local at = ctx:elapsed()
  local res = #all > 0 and ctx.redis:pipeline(all) or {}
  local won = {}
  local errors = settle(ctx, eager, res, n, at, won)
  local lazy, busy_now = {}, {}
  for i = 1, n do
    local p = owner[i]
    if not busy_now[p] and busy(i, res[i]) then
      busy_now[p] = true
      if not tried[p] then lazy[#lazy + 1] = p end
    end
  end
  errors = errors + claim_many(ctx, lazy, won)
  for i = 1, n do hot[owner[i]] = busy_now[owner[i]] end
  return res, won, errors
end

-- enforce(ctx, partitions, wanted) -> errors: the wanted partitions of the
-- chunk that were not claimed through pipeline() are claimed now, in one
-- pipeline; partitions not won leave `wanted`.
function M.enforce(ctx, partitions, wanted)
  local todo, won = {}, {}
  for _, p in ipairs(partitions) do
    if wanted[p] ~= nil then
      if not tried[p] then
        todo[#todo + 1] = p
      elseif taken[p] == nil then
        wanted[p] = nil
      end
    end
  end
  local errors = claim_many(ctx, todo, won)
  for _, p in ipairs(todo) do
    if not won[p] then wanted[p] = nil end
  end
  return errors
end

-- aging(ctx, p): partition p's claim is ours and past RENEW_AHEAD of its
-- lifetime (false with claims off).
function M.aging(ctx, p)
  local at = ctx.claims and taken[p]
  return at ~= nil and at ~= false and ctx:elapsed() - at >= RENEW_AHEAD * M.ttl_ms(ctx) / 1000
end

-- renew_cmd(ctx, p) -> the command that renews p's claim while it is ours (or free).
function M.renew_cmd(ctx, p)
  return { "EVAL", RENEW, 1, M.key(ctx, p), ctx.instance_id, M.ttl_ms(ctx) }
end

-- renewed(ctx, p, t0, r) -> true when the renewal reply r (sent at t0 =
-- ctx:elapsed()) says p's claim is ours, false when another instance holds
-- it (the partition is lost), nil for an error: nothing is learnt.
function M.renewed(ctx, p, t0, r)
  tried[p] = true
  if r == 1 then
    taken[p] = math.max(taken[p] or t0, t0)
    ctx:claim_note(p, true)
    return true
  end
  if type(r) ~= "string" then return nil end
  taken[p] = nil
  ctx:claim_note(p, false, r)
  return false
end

-- hold(ctx) -> true | false, err: ctx.partition's claim is ours and fresh
-- (renewed if it was getting old). Always true with claims off.
function M.hold(ctx)
  if not ctx.claims then return true end
  local p = ctx.partition
  local at = taken[p]
  if at and ctx:elapsed() - at < FRESH * M.ttl_ms(ctx) / 1000 then return true end
  local t0 = ctx:elapsed()
  local r, err = ctx.redis:call(unpack(M.renew_cmd(ctx, p)))
  local ours = M.renewed(ctx, p, t0, r)
  if ours ~= nil then return ours end
  taken[p] = nil
  ctx.log:warn("claim renewal failed; partition skipped", { error = tostring(err) })
  return false, err
end

-- wrap(select, scan) -> select', scan': the host's wrappers (see the top).
function M.wrap(select, scan)
  local function claimed_select(ctx, partitions)
    tried, taken = {}, {}
    local wanted, processed, errors, skipped
    if select then
      wanted, processed, errors, skipped = select(ctx, partitions)
      if type(wanted) ~= "table" then return wanted, processed, errors, skipped end
    else
      wanted = {}
      for _, p in ipairs(partitions) do wanted[p] = true end
    end
    local claim_errors = M.enforce(ctx, partitions, wanted)
    -- a count of the wrong type is left as it is: the host reports it
    if errors == nil or type(errors) == "number" then errors = (errors or 0) + claim_errors end
    return wanted, processed, errors, skipped
  end
  local function claimed_scan(ctx, p, data)
    local held, err = M.hold(ctx)
    if not held then return 0, err and 1 or 0 end
    return scan(ctx, p, data)
  end
  return claimed_select, claimed_scan
end

return M
