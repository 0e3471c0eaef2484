-- ff.keys: key builders for the FlowFabric 0.1.1 key schema (spec 00-model §2).
-- Every builder takes the partition tag text (e.g. "{fp:7}") first, then the raw
-- ids; execution ids are used verbatim (they carry their own tag, so execution
-- keys show the tag twice). Builders never parse or validate ids.
local M = {}

-- Keys are built by plain concatenation (no table per key: the drains
-- build several keys per item).

-- §2.1 per-partition indexes on {fp:N} --------------------------------------
-- idx(tag, name): ff:idx:<tag>:<name> (lease_expiry, attempt_timeout, ...).
function M.idx(tag, name) return "ff:idx:" .. tag .. ":" .. name end
function M.lease_expiry(tag) return M.idx(tag, "lease_expiry") end
function M.attempt_timeout(tag) return M.idx(tag, "attempt_timeout") end
function M.execution_deadline(tag) return M.idx(tag, "execution_deadline") end
function M.suspension_timeout(tag) return M.idx(tag, "suspension_timeout") end
function M.pending_waitpoint_expiry(tag) return M.idx(tag, "pending_waitpoint_expiry") end
function M.all_executions(tag) return M.idx(tag, "all_executions") end
function M.flow_index(tag) return M.idx(tag, "flow_index") end
-- lane(tag, lane, suffix): ff:idx:<tag>:lane:<lane>:<suffix>; suffix is one of
-- eligible, delayed, active, terminal, suspended, blocked:<reason>.
function M.lane(tag, lane, suffix) return "ff:idx:" .. tag .. ":lane:" .. lane .. ":" .. suffix end
function M.worker_leases(tag, wiid) return "ff:idx:" .. tag .. ":worker:" .. wiid .. ":leases" end
function M.waitpoint_hmac(tag) return "ff:sec:" .. tag .. ":waitpoint_hmac" end
-- Placeholder for unused KEYS slots: same slot, never read or written.
function M.noop(tag) return "ff:noop:" .. tag end

-- §2.2 per-execution keys ----------------------------------------------------
-- exec(tag, eid, suffix): ff:exec:<tag>:<eid>:<suffix> (core, payload, ...).
function M.exec(tag, eid, suffix) return "ff:exec:" .. tag .. ":" .. eid .. ":" .. suffix end
function M.core(tag, eid) return M.exec(tag, eid, "core") end
function M.lease_current(tag, eid) return M.exec(tag, eid, "lease:current") end
function M.lease_history(tag, eid) return M.exec(tag, eid, "lease:history") end
function M.suspension_current(tag, eid) return M.exec(tag, eid, "suspension:current") end
function M.claim_grant(tag, eid) return M.exec(tag, eid, "claim_grant") end
function M.policy(tag, eid) return M.exec(tag, eid, "policy") end
function M.dep(tag, eid, edge_id) return M.exec(tag, eid, "dep:" .. edge_id) end
-- attempt(tag, eid, idx[, suffix]): ff:attempt:<tag>:<eid>:<idx>[:usage|:policy]
function M.attempt(tag, eid, idx, suffix)
  local k = "ff:attempt:" .. tag .. ":" .. eid .. ":" .. idx
  if suffix then k = k .. ":" .. suffix end
  return k
end

-- lane_sets(tag, lanes, suffix...) -> the lane-scoped keys with these suffixes
-- for every lane (e.g. what a lane-scoped scanner's select() probes).
function M.lane_sets(tag, lanes, ...)
  local out = {}
  for _, lane in ipairs(lanes) do
    for i = 1, select("#", ...) do out[#out + 1] = M.lane(tag, lane, (select(i, ...))) end
  end
  return out
end
-- stream(tag, eid, idx): attempt output stream; stream_meta adds ":meta".
function M.stream(tag, eid, idx) return "ff:stream:" .. tag .. ":" .. eid .. ":" .. idx end
function M.stream_meta(tag, eid, idx) return M.stream(tag, eid, idx) .. ":meta" end

-- §2.3 waitpoints and signals -------------------------------------------------
function M.waitpoint(tag, wid) return "ff:wp:" .. tag .. ":" .. wid end
function M.waitpoint_condition(tag, wid) return M.waitpoint(tag, wid) .. ":condition" end
function M.waitpoint_signals(tag, wid) return M.waitpoint(tag, wid) .. ":signals" end
function M.signal(tag, sid) return "ff:signal:" .. tag .. ":" .. sid end
function M.signal_payload(tag, sid) return M.signal(tag, sid) .. ":payload" end

-- §2.4 flows ({fp:F}) -----------------------------------------------------------
-- flow(tag, fid, suffix): ff:flow:<tag>:<fid>:<suffix> (core, members, summary...).
function M.flow(tag, fid, suffix) return "ff:flow:" .. tag .. ":" .. fid .. ":" .. suffix end
function M.flow_core(tag, fid) return M.flow(tag, fid, "core") end
function M.flow_members(tag, fid) return M.flow(tag, fid, "members") end
function M.flow_summary(tag, fid) return M.flow(tag, fid, "summary") end
function M.flow_edge(tag, fid, edge_id) return M.flow(tag, fid, "edge:" .. edge_id) end
function M.flow_out(tag, fid, eid) return M.flow(tag, fid, "out:" .. eid) end
function M.flow_in(tag, fid, eid) return M.flow(tag, fid, "in:" .. eid) end

-- §2.5 budgets ({b:M}) ------------------------------------------------------------
function M.budget(tag, bid) return "ff:budget:" .. tag .. ":" .. bid end
function M.budget_limits(tag, bid) return M.budget(tag, bid) .. ":limits" end
function M.budget_usage(tag, bid) return M.budget(tag, bid) .. ":usage" end
function M.budget_executions(tag, bid) return M.budget(tag, bid) .. ":executions" end
function M.budget_resets(tag) return M.idx(tag, "budget_resets") end
function M.budget_policies(tag) return M.idx(tag, "budget_policies") end

-- §2.6 quotas ({q:K}) -------------------------------------------------------------
function M.quota(tag, qid) return "ff:quota:" .. tag .. ":" .. qid end
function M.quota_window(tag, qid, dim)
  return M.quota(tag, qid) .. ":window:" .. (dim or "requests_per_window")
end
function M.quota_concurrency(tag, qid) return M.quota(tag, qid) .. ":concurrency" end
function M.quota_admitted(tag, qid, eid) return M.quota(tag, qid) .. ":admitted:" .. eid end
function M.quota_admitted_set(tag, qid) return M.quota(tag, qid) .. ":admitted_set" end
function M.quota_policies(tag) return M.idx(tag, "quota_policies") end

-- §2.7 global keys (no tag) -------------------------------------------------------
M.WORKERS = "ff:idx:workers"
M.CONFIG_PARTITIONS = "ff:config:partitions"
M.COMPLETIONS_CHANNEL = "ff:dag:completions"
function M.worker_caps(wiid) return "ff:worker:" .. wiid .. ":caps" end

return M
