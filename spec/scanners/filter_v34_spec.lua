-- The v34 item rules of the unchanged execution scanners (spec 30 §3.3, §4,
-- fixtures §11 C.6) and the scanner filter (§3.4) on each scanner that applies
-- it, through the test host against a real redis-server with scanhost's library
-- at level 34 (and the skip rule's absence at level 5).
local S = require "spec.helpers.env"
local F = require "ff.fixtures"
local V = require "ff.fixtures_v34"
local K = require "ff.keys"
local H = require "spec.helpers.v34"

local srv, h

S.suite(function(e) srv, h = e.srv, e.r end, S.SECTION_C)

local function once(name, host) return S.cycle(host or h, name) end

local hosts = {}
after_each(function()
  for _, fh in ipairs(hosts) do fh:close() end
  hosts = {}
end)

local function filtered(f)
  local fh = H.host(srv, { filter = f })
  hosts[#hosts + 1] = fh
  return fh
end

describe("unparsable index members at level 34 (spec 30 §3.3)", function()
  for _, name in ipairs({ "lease_expiry", "attempt_timeout", "execution_deadline",
    "suspension_timeout" }) do
    it(name .. ": skipped, left in place, no call: (0, 0)", function()
      local index = K.idx("{fp:24}", name)
      assert(h:call("ZADD", index, 1000, "junk"))
      local before = S.dump(h)
      assert.same({ 0, 0 }, once(name))
      assert.same(before, S.dump(h))
    end)
  end

  it("delayed_promoter: skipped, left in place: (0, 0)", function()
    local index = K.lane("{fp:24}", "default", "delayed")
    assert(h:call("ZADD", index, 1000, "junk"))
    local before = S.dump(h)
    assert.same({ 0, 0 }, once("delayed_promoter"))
    assert.same(before, S.dump(h))
  end)

  it("a good member beside a bad one is still handled", function()
    local c = F.lease_expiry.acting(h, { eid = V.ctx().ids.E1 })
    assert(h:call("ZADD", K.lease_expiry(c.tag), 1000, "junk"))
    assert.same({ 1, 0 }, once("lease_expiry"))
    assert.equal("lease_expired_reclaimable", S.hgetall(h, c.keys.core).ownership_state)
  end)
end)

describe("C.6's other edge cases at level 34: scanhost cleans what v34 keeps for ever", function()
  it("pending_wp_expiry: an entry whose waitpoint is gone is removed (v34: kept, skipped)", function()
    local c = V.edge_cases.pending_wp_missing(h)
    local p, e = h:once("pending_wp_expiry")
    assert.same({ 0, 0 }, { p, e })
    assert.same({}, S.zset(h, c.keys.index))
  end)

  it("budget_reset: a due entry that is not a budget id is removed (v34: an error every cycle)", function()
    local c = V.edge_cases.budget_reset_bad_id(h)
    assert.same({ 0, 0 }, once("budget_reset"))
    assert.same({}, S.zset(h, c.keys.index))
  end)

  it("flow_projector: a flow_index member that is not a flow id is removed (v34: an error every cycle)", function()
    local c = V.edge_cases.flow_index_junk(h)
    assert.same({ 0, 0 }, once("flow_projector"))
    assert.same({}, S.smembers(h, c.keys.index))
  end)
end)

describe("the scanner filter (spec 30 §3.4, C.6)", function()
  it("lease_expiry: another namespace or none is skipped, no call: (0, 0)", function()
    local fh = filtered({ namespace = "ns1" })
    V.edge_cases.filtered_lease(h)
    V.edge_cases.filtered_lease(h, { i = 2, namespace = false })
    local before = S.dump(h)
    assert.same({ 0, 0 }, once("lease_expiry", fh))
    assert.same(before, S.dump(h))
  end)

  it("lease_expiry: the wanted namespace is handled: (1, 0)", function()
    local fh = filtered({ namespace = "ns1" })
    local c = V.edge_cases.filtered_lease(h, { namespace = "ns1" })
    V.edge_cases.filtered_lease(h, { i = 2 }) -- ns2: skipped
    assert.same({ 1, 0 }, once("lease_expiry", fh))
    assert.equal("lease_expired_reclaimable", S.hgetall(h, c.keys.core).ownership_state)
  end)

  it("pending_wp_expiry: tests the waitpoint's execution: skipped for ns2, closed for ns1", function()
    local fh = filtered({ namespace = "ns1" })
    local c = F.pending_wp_expiry.acting(h, { eid = V.ctx().ids.E1 })
    assert(h:call("HSET", K.core(c.tag, c.eid), "namespace", "ns2"))
    local before = S.dump(h)
    assert.same({ 0, 0 }, once("pending_wp_expiry", fh))
    assert.same(before, S.dump(h))
    assert(h:call("HSET", K.core(c.tag, c.eid), "namespace", "ns1"))
    assert.same({ 1, 0 }, once("pending_wp_expiry", fh))
    assert.equal("closed", S.hgetall(h, K.waitpoint(c.tag, c.wid)).state)
  end)

  it("index_reconciler: a filtered execution is not checked: (0, 0)", function()
    local fh = filtered({ namespace = "ns1" })
    F.index_reconciler.inconsistent(h, { eid = V.ctx().ids.E1, fields = { namespace = "ns2" } })
    assert.same({ 0, 0 }, once("index_reconciler", fh))
    assert.same({ 1, 0 }, once("index_reconciler"))
  end)

  it("retention_trimmer: a filtered execution is not purged", function()
    local fh = filtered({ namespace = "ns1" })
    local E = V.ctx().ids.E1
    local T = "{fp:24}"
    assert(h:call("HSET", K.core(T, E), "execution_id", E, "namespace", "ns2", "lifecycle_phase",
      "terminal", "terminal_outcome", "success", "completed_at", "1000", "lane_id", "default"))
    assert(h:call("ZADD", K.lane(T, "default", "terminal"), 1000, E))
    local before = S.dump(h)
    assert.same({ 0, 0 }, once("retention_trimmer", fh))
    assert.same(before, S.dump(h))
    assert.same({ 1, 0 }, once("retention_trimmer"))
    assert.is_false(S.exists(h, K.core(T, E)))
  end)

  it("a filter with a bad tag key skips every candidate: (0, 0)", function()
    local fh = filtered({ tag = { key = "a..b", value = "x" } })
    local c = V.edge_cases.filtered_lease(h, { namespace = "ns1" })
    assert(h:call("HSET", V.exec(c, c.ids.E1, "tags"), "a..b", "x"))
    local before = S.dump(h)
    assert.same({ 0, 0 }, once("lease_expiry", fh))
    assert.same(before, S.dump(h))
  end)
end)

describe("the filter's configuration", function()
  it("a bad tag key is named in a start-up warning", function()
    local fh = H.host(srv, { capture_logs = true, filter = { tag = { key = "Team.owner", value = "ops" } } })
    hosts[#hosts + 1] = fh
    local text = table.concat(fh:logs(), "\n")
    assert.truthy(text:find("level=warn", 1, true), text)
    assert.truthy(text:find("filter.tag.key is not a valid tag key", 1, true), text)
    assert.truthy(text:find("tag_key=Team.owner", 1, true), text)
  end)

  it("unknown keys and wrong types are refused, naming the key", function()
    local function refused(f)
      local ok, err = pcall(require("scanhost_test").new, { redis = srv.url, scanners = "scanners",
        functions = "lua-lib/functions", filter = f })
      assert.is_false(ok)
      return tostring(err)
    end
    assert.truthy(refused({ namspace = "x" }):find("filter.namspace: unknown key", 1, true))
    assert.truthy(refused({ tag = { key = "a.b" } }):find("filter.tag.value", 1, true))
    assert.truthy(refused({ namespace = 5 }):find("filter.namespace", 1, true))
  end)
end)

describe("unparsable index members at level 5", function()
  it("are called as 0.1.1 does (no v34 skip rule)", function()
    local srv5, h5 = S.open({ library_level = 5 })
    finally(function() S.release(srv5, h5) end)
    assert(h5:call("ZADD", K.lease_expiry("{fp:24}"), 1000, "junk"))
    local calls = function()
      local info = assert(h5:call("INFO", "commandstats"))
      return tonumber(info:match("cmdstat_fcall:calls=(%d+)") or 0)
    end
    local n = calls()
    h5:once("lease_expiry")
    assert.is_true(calls() > n)
  end)
end)
