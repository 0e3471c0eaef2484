-- Issue 14: the budget, quota and flow reconcilers against concurrent writes.
-- Each scanner's scan() runs on a real ctx whose Redis requests are counted; a
-- concurrent writer (another instance, or the engine) acts once, right before
-- the scanner's k-th request, for every k. Whatever k, the final state must be
-- one that some serial order of the two could leave: no update is lost. With
-- the 0.1.1-style client-side read, check and write, some k loses one.
local S = require "spec.helpers.env"
local FX = require "ff.fixtures_flow"
local I, K = FX.ids, FX.keys

local env, srv, h

setup(function() env = S.start(S.SECTION_C); srv, h = env.srv, env.r end)
teardown(function() env:stop() end)

-- racing(ctx, o, at) -> a ctx for partition o.tag whose redis runs o.write
-- (with the real ctx.redis) once, just before request number `at`; and a
-- function returning how many requests were made.
local function racing(ctx, o, at)
  local n = 0
  local function before()
    n = n + 1
    if n == at then o.write(ctx.redis) end
  end
  local redis = {}
  for _, m in ipairs({ "call", "fcall", "pipeline" }) do
    redis[m] = function(_, ...)
      before()
      return ctx.redis[m](ctx.redis, ...)
    end
  end
  local rctx = setmetatable({ tag = o.tag, partition = o.partition, redis = redis,
    config = o.config }, { __index = ctx })
  return rctx, function() return n end
end

-- race(o) -> for every k (1 .. the scanner's request count), seeds, runs one
-- scan() of o.scanner with o.write before request k, and hands the final
-- state to o.check(k).
local function race(o)
  local scan = dofile("scanners/" .. o.scanner .. ".lua").scan
  local function run(at)
    env:flush()
    o.seed(h)
    return h:run(function(ctx)
      local rctx, count = racing(ctx, o, at)
      scan(rctx, o.partition)
      return count()
    end)
  end
  local total = run(math.huge)
  assert.is_true(total >= 1)
  for k = 1, total do
    run(k)
    o.check(k)
  end
end

describe("budget, quota and flow reconcilers under concurrent writes", function()
  it("quota_reconciler: an admission made during the reconcile is never lost", function()
    local E9 = "{fp:24}:99999999-9999-4999-8999-999999999999"
    race({
      scanner = "quota_reconciler", tag = I.qtag, partition = 18, config = { batch = 100 },
      seed = function(r) FX.quota_reconcile(r, S.now(r)) end, -- E2 live, E1 expired, counter 7
      write = function(r) -- the engine admits E9: guard, admitted set, counter + 1
        assert(r:call("SET", K.quota("admitted:" .. E9), "1", "PX", 60000))
        assert(r:call("SADD", K.quota("admitted_set"), E9))
        assert(r:call("INCR", K.quota("concurrency")))
      end,
      check = function(k)
        local live = 0
        for _, m in ipairs(S.smembers(h, K.quota("admitted_set"))) do
          live = live + h:call("EXISTS", K.quota("admitted:" .. m))
        end
        assert.equal(2, live, "k=" .. k)
        -- the reconcile, then the admission: 1 + 1; the admission first: 2
        assert.equal("2", h:call("GET", K.quota("concurrency")), "counter lost the admission at k=" .. k)
      end,
    })
  end)

  it("budget_reconciler: a marker cleared by another instance is not set again from a stale read", function()
    race({
      scanner = "budget_reconciler", tag = I.btag, partition = 31, config = { batch = 100 },
      seed = function(r) FX.budget_reconcile(r, S.now(r), { usage = 150 }) end, -- breached, no marker
      write = function(r) -- usage back under the limit, and another instance's reconcile
        assert(r:call("HSET", K.budget("usage"), "tokens", "50"))
        assert(r:call("HDEL", K.budget("usage"), "breached_at"))
      end,
      check = function(k)
        assert.same({ tokens = "50" }, S.hgetall(h, K.budget("usage")), "stale marker at k=" .. k)
      end,
    })
  end)

  local E3 = "{fp:24}:dddddddd-dddd-4ddd-8ddd-dddddddddddd"
  local function all_terminal(r) FX.flow(r, S.now(r), { states = { [I.E1] = "completed", [I.E2] = "failed" } }) end
  local function flow_race(o)
    o.scanner, o.tag, o.partition = "flow_projector", I.tag, 24
    o.config = { batch = 100, members = 1000, interval = 15 }
    race(o)
  end

  it("flow_projector: a member added during the projection keeps the flow indexed", function()
    flow_race({
      seed = all_terminal,
      write = function(r) -- the engine adds a running member (and re-indexes the flow)
        assert(r:call("HSET", K.core(E3), "public_state", "active"))
        assert(r:call("SADD", K.flow("members"), E3))
        assert(r:call("SADD", K.flow_index(), I.F))
      end,
      check = function(k)
        assert.same({ I.F }, S.smembers(h, K.flow_index()), "flow lost from the index at k=" .. k)
      end,
    })
  end)

  it("flow_projector: a newer summary is never overwritten by an older snapshot", function()
    local newer
    flow_race({
      seed = all_terminal,
      write = function(r) -- another instance, with a later TIME, writes its summary
        newer = tostring(S.now(r) + 5000)
        assert(r:call("HSET", K.flow("summary"), "public_flow_state", "running",
          "last_summary_update_at", newer))
      end,
      check = function(k)
        local s = S.hgetall(h, K.flow("summary"))
        assert.equal(newer, s.last_summary_update_at, "newer summary overwritten at k=" .. k)
        assert.equal("running", s.public_flow_state, "k=" .. k)
      end,
    })
  end)

  it("flow_projector: a flow created while its stale entry is dropped stays indexed", function()
    flow_race({
      seed = function(r) FX.flow(r, S.now(r), { no_core = true }) end,
      write = function(r) -- ff_create_flow: core, then the index
        assert(r:call("HSET", K.flow("core"), "flow_id", I.F, "public_flow_state", "open"))
        assert(r:call("SADD", K.flow_index(), I.F))
      end,
      check = function(k)
        assert.same({ I.F }, S.smembers(h, K.flow_index()), "new flow dropped at k=" .. k)
      end,
    })
  end)
end)
