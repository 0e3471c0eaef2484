-- flow_projector (spec 20 §A.4) over the §C recipes, through h:once.
local S = require "spec.helpers.env"
local FX = require "ff.fixtures_flow"
local keys = require "ff.keys"
local I, K = FX.ids, FX.keys

local DAY = 86400000
local env, srv, h

setup(function() env = S.start(S.SECTION_C); srv, h = env.srv, env.r end)
teardown(function() env:stop() end)
before_each(function() env:flush() end)

local function once(name) return S.cycle(h, name) end

local function eid(i) return string.format("{fp:24}:00000000-0000-4000-8000-%012d", i) end

describe("flow_projector", function()
  local function summary() return S.hgetall(h, K.flow("summary")) end

  local function expect_summary(now, counts, state, total, sampled)
    local s = summary()
    assert.is_true(tonumber(s.last_summary_update_at) >= now)
    s.last_summary_update_at = nil
    local want = { total_members = tostring(total), sampled_members = tostring(sampled or total),
      public_flow_state = state }
    for _, st in ipairs({ "completed", "failed", "cancelled", "expired", "skipped", "active",
      "suspended", "waiting", "delayed", "rate_limited", "waiting_children" }) do
      want["members_" .. st] = tostring(counts[st] or 0)
    end
    assert.same(want, s)
  end

  it("summarises a running flow and keeps it indexed (C.4)", function()
    local now = S.now(h)
    FX.flow(h, now)
    local core = S.hgetall(h, K.flow("core"))
    assert.same({ 1, 0 }, once("flow_projector"))
    expect_summary(now, { completed = 1, active = 1 }, "running", 2)
    assert.same({ I.F }, S.smembers(h, K.flow_index()))
    assert.same(core, S.hgetall(h, K.flow("core")))
  end)

  it("reads the server's TIME once for a cycle over many partitions, each summary stamped in it", function()
    local PT = require "ff.partition"
    local flows = {}
    for _, n in ipairs({ 3, 40, 77, 150, 255 }) do
      local tag, fid = PT.tag("flow", n), ("00000000-0000-4000-8000-%012d"):format(n)
      local member = ("%s:00000000-0000-4000-8000-%012d"):format(tag, n)
      h:call("SADD", keys.flow_index(tag), fid)
      h:call("HSET", keys.flow_core(tag, fid), "flow_id", fid, "public_flow_state", "open")
      h:call("SADD", keys.flow_members(tag, fid), member)
      h:call("HSET", keys.core(tag, member), "public_state", "active")
      flows[#flows + 1] = keys.flow_summary(tag, fid)
    end
    local t0 = S.now(h)
    h:call("CONFIG", "RESETSTAT")
    assert.same({ 5, 0 }, once("flow_projector"))
    local stats = h:call("INFO", "commandstats")
    local t1 = S.now(h)
    assert.equal("1", stats:match("cmdstat_time:calls=(%d+)"))
    for _, key in ipairs(flows) do
      local at = tonumber(S.hgetall(h, key).last_summary_update_at)
      assert.is_true(at >= t0 and at <= t1, key)
    end
  end)

  it("derives failed / completed / blocked / open", function()
    local cases = {
      { { [I.E1] = "completed", [I.E2] = "failed" }, "failed", false },
      { { [I.E1] = "completed", [I.E2] = "completed" }, "completed", false },
      { { [I.E1] = "completed", [I.E2] = "waiting_children" }, "blocked", true },
      { { [I.E1] = "waiting", [I.E2] = "waiting" }, "open", true },
    }
    for _, c in ipairs(cases) do
      env:flush()
      FX.flow(h, S.now(h), { states = c[1] })
      assert.same({ 1, 0 }, once("flow_projector"))
      assert.equal(c[2], summary().public_flow_state)
      assert.equal(c[3], #S.smembers(h, K.flow_index()) == 1)
    end
  end)

  it("drops a flow without core from the index and writes nothing", function()
    FX.flow(h, S.now(h), { no_core = true })
    assert.same({ 0, 0 }, once("flow_projector"))
    assert.same({}, S.smembers(h, K.flow_index()))
    assert.is_false(S.exists(h, K.flow("summary")))
  end)

  it("writes nothing for a flow without members and keeps it", function()
    FX.flow(h, S.now(h), { no_members = true })
    assert.same({ 0, 0 }, once("flow_projector"))
    assert.same({ I.F }, S.smembers(h, K.flow_index()))
    assert.is_false(S.exists(h, K.flow("summary")))
  end)

  it("fix F1/F2: counts every member of a large flow and unindexes it when all are terminal", function()
    local now = S.now(h)
    local states = {}
    for i = 1, 120 do states[eid(i)] = (i == 7) and "failed" or "completed" end
    FX.flow(h, now, { states = states })
    assert.same({ 1, 0 }, once("flow_projector"))
    expect_summary(now, { completed = 119, failed = 1 }, "failed", 120)
    assert.same({}, S.smembers(h, K.flow_index()))
  end)

  it("fix F1: walks a flow larger than the per-cycle bound across cycles", function()
    env:stop()
    env = S.start(S.SECTION_C, { scanner_config = { flow_projector = { members = 100 } } }); srv, h = env.srv, env.r
    local now = S.now(h)
    local states = {}
    for i = 1, 450 do states[eid(i)] = (i == 400) and "active" or "completed" end
    FX.flow(h, now, { states = states })
    local total = 0
    for _ = 1, 10 do
      total = total + h:once("flow_projector")
      if S.exists(h, K.flow("summary")) then break end
    end
    assert.equal(1, total)
    expect_summary(now, { completed = 449, active = 1 }, "running", 450)
  end)

  it("fix F7: a flow whose member ids are all invalid writes no summary", function()
    FX.flow(h, S.now(h), { states = { ["not-an-id"] = "completed" } })
    assert.same({ 0, 0 }, once("flow_projector"))
    assert.is_false(S.exists(h, K.flow("summary")))
  end)

  it("counts members whose core is gone as unknown (flow stays indexed)", function()
    local now = S.now(h)
    FX.flow(h, now, { states = { [I.E1] = "completed" } })
    h:call("SADD", K.flow("members"), I.E2)
    assert.same({ 1, 0 }, once("flow_projector"))
    expect_summary(now, { completed = 1 }, "open", 2)
    assert.same({ I.F }, S.smembers(h, K.flow_index()))
  end)
end)
