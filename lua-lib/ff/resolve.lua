-- ff.resolve: the library-version-dependent half of dependency_reconciler's
-- ff_resolve_dependency call (spec 20 §A.3 for version 5, spec 30 §6 for 34).
-- Version 5: exactly 0.1.1's call, 11 KEYS / 3 ARGV, the attempt index as
-- stored ("" or absent -> "0"). Version 34: 14 KEYS / 5 ARGV (KEYS[12] the
-- child's edge group, [13] its inbound edge-id set, [14] the partition's
-- pending_cancel_groups; ARGV[4] the flow id, [5] the child), the attempt
-- index read as a u32 (else 0). An 11-KEY call to a v34 library would run
-- every AnyOf/Quorum group as AllOf without a word (spec 30 §1.3, V2).
-- scanhost, wire contract kept (README "Where scanhost's own scanners differ"):
-- * a child without a flow_id (or with one that is not a UUID) is still
--   resolved, as 0.1.1 did and as FlowFabric intends: KEYS[12]/[13] get the
--   never-written ff:noop:<tag> placeholder and ARGV[4] is "" (the library's
--   AllOf path); v34 leaves such edges unresolved for ever (DR2);
-- * the edge id is used as stored (the member of deps:unresolved), never
--   re-spelled: v34 skips edge ids that are not UUIDs and re-spells the others
--   in canonical form, which misses a non-canonical entry (DR3).
local K = require "ff.keys"
local V = require "ff.v34"

local M = {}

-- child_read(ctx, child) -> the command reading what the call needs of the
-- child: its attempt index, and at 34 its flow id.
function M.child_read(ctx, child)
  local core = K.core(ctx.tag, child)
  if not V.is34(ctx) then return { "HGET", core, "current_attempt_index" } end
  return { "HMGET", core, "current_attempt_index", "flow_id" }
end

-- child_of(ctx, r) -> attempt index, flow id (F' or nil), from child_read's reply.
function M.child_of(ctx, r)
  if not V.is34(ctx) then
    if not r or r == "" then return "0" end
    return r
  end
  return tostring(V.u32(r[1])), r[2] and V.canonical(r[2]) or nil
end

-- call(ctx, child, fid, keys11, args3) -> the call's KEYS and ARGV for the
-- loaded library version (keys11 / args3: 0.1.1's, used as they are at 5).
function M.call(ctx, child, fid, keys11, args3)
  if not V.is34(ctx) then return keys11, args3 end
  local T, noop = ctx.tag, K.noop(ctx.tag)
  local k = { unpack(keys11) }
  k[12] = fid and V.edgegroup(T, fid, child) or noop
  k[13] = fid and K.flow_in(T, fid, child) or noop
  k[14] = V.pending_cancel_groups(T)
  return k, { args3[1], args3[2], args3[3], fid or "", child }
end

return M
