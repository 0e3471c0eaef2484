-- ff.keys against the key schema and worked examples of spec 00-model §1.7 / §2.
local K = require "ff.keys"
local P = require "ff.partition"

describe("ff.keys", function()
  local fid = "550e8400-e29b-41d4-a716-446655440000"
  local eid = "{fp:24}:7c9e6679-7425-40de-944b-e07fc1f90ae7"

  it("builds the worked-example keys of §1.6 / §1.7", function()
    local ft = P.tag("flow", P.flow_partition(fid, 256))
    assert.equal("ff:flow:{fp:24}:550e8400-e29b-41d4-a716-446655440000:core", K.flow_core(ft, fid))
    assert.equal("ff:exec:{fp:24}:{fp:24}:7c9e6679-7425-40de-944b-e07fc1f90ae7:core", K.core(ft, eid))
    assert.equal("ff:idx:{fp:24}:lane:default:eligible", K.lane(ft, "default", "eligible"))
    local bt = P.tag("budget", P.budget_partition(fid, 32))
    assert.equal("ff:budget:{b:24}:550e8400-e29b-41d4-a716-446655440000", K.budget(bt, fid))
    local qid = "11111111-1111-1111-1111-111111111111"
    local qt = P.tag("quota", P.quota_partition(qid, 32))
    assert.equal("ff:quota:{q:6}:11111111-1111-1111-1111-111111111111", K.quota(qt, qid))
  end)

  it("builds the §2.1 partition indexes", function()
    local t = "{fp:5}"
    assert.equal("ff:idx:{fp:5}:lease_expiry", K.lease_expiry(t))
    assert.equal("ff:idx:{fp:5}:attempt_timeout", K.attempt_timeout(t))
    assert.equal("ff:idx:{fp:5}:execution_deadline", K.execution_deadline(t))
    assert.equal("ff:idx:{fp:5}:suspension_timeout", K.suspension_timeout(t))
    assert.equal("ff:idx:{fp:5}:pending_waitpoint_expiry", K.pending_waitpoint_expiry(t))
    assert.equal("ff:idx:{fp:5}:all_executions", K.all_executions(t))
    assert.equal("ff:idx:{fp:5}:flow_index", K.flow_index(t))
    assert.equal("ff:idx:{fp:5}:worker:wi1:leases", K.worker_leases(t, "wi1"))
    assert.equal("ff:idx:{fp:5}:lane:blue:blocked:budget", K.lane(t, "blue", "blocked:budget"))
    assert.equal("ff:sec:{fp:5}:waitpoint_hmac", K.waitpoint_hmac(t))
    assert.equal("ff:noop:{fp:5}", K.noop(t))
  end)

  it("builds the §2.2 / §2.3 execution, attempt, stream and waitpoint keys", function()
    local t, e, w = "{fp:5}", "{fp:5}:00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-0000000000aa"
    assert.equal("ff:exec:{fp:5}:" .. e .. ":lease:current", K.lease_current(t, e))
    assert.equal("ff:exec:{fp:5}:" .. e .. ":lease:history", K.lease_history(t, e))
    assert.equal("ff:exec:{fp:5}:" .. e .. ":suspension:current", K.suspension_current(t, e))
    assert.equal("ff:exec:{fp:5}:" .. e .. ":policy", K.policy(t, e))
    assert.equal("ff:exec:{fp:5}:" .. e .. ":dep:x1", K.dep(t, e, "x1"))
    assert.equal("ff:attempt:{fp:5}:" .. e .. ":0", K.attempt(t, e, 0))
    assert.equal("ff:attempt:{fp:5}:" .. e .. ":2:usage", K.attempt(t, e, "2", "usage"))
    assert.equal("ff:stream:{fp:5}:" .. e .. ":0", K.stream(t, e, 0))
    assert.equal("ff:stream:{fp:5}:" .. e .. ":0:meta", K.stream_meta(t, e, 0))
    assert.equal("ff:wp:{fp:5}:" .. w, K.waitpoint(t, w))
    assert.equal("ff:wp:{fp:5}:" .. w .. ":condition", K.waitpoint_condition(t, w))
    assert.equal("ff:wp:{fp:5}:" .. w .. ":signals", K.waitpoint_signals(t, w))
    assert.equal("ff:signal:{fp:5}:s1:payload", K.signal_payload(t, "s1"))
  end)

  it("builds the §2.4-§2.7 flow, budget, quota and global keys", function()
    local ft, bt, qt = "{fp:3}", "{b:2}", "{q:1}"
    assert.equal("ff:flow:{fp:3}:f:members", K.flow_members(ft, "f"))
    assert.equal("ff:flow:{fp:3}:f:summary", K.flow_summary(ft, "f"))
    assert.equal("ff:flow:{fp:3}:f:edge:x", K.flow_edge(ft, "f", "x"))
    assert.equal("ff:flow:{fp:3}:f:out:e1", K.flow_out(ft, "f", "e1"))
    assert.equal("ff:flow:{fp:3}:f:in:e1", K.flow_in(ft, "f", "e1"))
    assert.equal("ff:budget:{b:2}:b1:limits", K.budget_limits(bt, "b1"))
    assert.equal("ff:budget:{b:2}:b1:usage", K.budget_usage(bt, "b1"))
    assert.equal("ff:idx:{b:2}:budget_resets", K.budget_resets(bt))
    assert.equal("ff:idx:{b:2}:budget_policies", K.budget_policies(bt))
    assert.equal("ff:quota:{q:1}:p:window:requests_per_window", K.quota_window(qt, "p"))
    assert.equal("ff:quota:{q:1}:p:concurrency", K.quota_concurrency(qt, "p"))
    assert.equal("ff:quota:{q:1}:p:admitted:e1", K.quota_admitted(qt, "p", "e1"))
    assert.equal("ff:quota:{q:1}:p:admitted_set", K.quota_admitted_set(qt, "p"))
    assert.equal("ff:idx:{q:1}:quota_policies", K.quota_policies(qt))
    assert.equal("ff:idx:workers", K.WORKERS)
    assert.equal("ff:worker:wi1:caps", K.worker_caps("wi1"))
    assert.equal("ff:config:partitions", K.CONFIG_PARTITIONS)
  end)
end)
