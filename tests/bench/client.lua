-- tests/bench/client.lua LUA_LIB [ITEMS]: the Lua side of a due-item drain
-- (ff.drain.handle_pages: skip checks, the v34 id check, KEYS/ARGV building,
-- the batch or pipelined commands, reply accounting), as the host runs it
-- (interpreter, JIT off), against a fake server that answers at once. Prints
-- one line per library and scanner: "<library> <scanner> <µs per item>".
-- Run by bench.lua's client scenario, for this tree's lua-lib and the
-- reference's (BENCH_REF), alternately.
local dir, N = arg[1] or "lua-lib", tonumber(arg[2] or "") or 100000
package.path = dir .. "/?.lua;" .. package.path
jit.off()
local drain = require "ff.drain"
local reply = require "ff.reply"
local ops = require "ff.exec_ops"

local PAGE = 500
local function eid(i) return string.format("{fp:1}:00000000-0000-4000-8000-%012x", i) end

local function fake_ctx(lib)
  local ctx = { config = drain.defaults({ batch = PAGE, batch_max = PAGE }), library = lib, partition = 1,
    tag = "{fp:1}", library_version = "34" }
  ctx.failures = { should_skip = function() return false end, record_success = function() end,
    record_failure = function() end }
  ctx.log = setmetatable({}, { __index = function() return function() end end })
  function ctx.elapsed() return 0 end
  function ctx.stopping() return false end
  -- a batch FCALL gets one reply per item (its ARGV[1]), a per-item FCALL one
  -- a batch FCALL gets one reply per item (its ARGV[1]), a per-item FCALL
  -- one; send() answers at once, collect() hands the answer over
  local function answer(cmds)
    local out = {}
    for i, c in ipairs(cmds) do
      if c[2]:find("_batch$") then
        local r = {}
        for j = 1, tonumber(c[4 + c[3]]) do r[j] = { 1, "OK", "done" } end
        out[i] = r
      else
        out[i] = { 1, "OK", "done" }
      end
    end
    return out
  end
  local sent, last = {}, 0
  ctx.redis = {
    pipeline = function(_, cmds) return answer(cmds) end,
    send = function(_, cmds) last = last + 1; sent[last] = answer(cmds); return last end,
    collect = function(_, h) local r = sent[h]; sent[h] = nil; return r, 0 end,
  }
  return ctx
end

for _, lib in ipairs({ "scanhost", "flowfabric" }) do
  for _, name in ipairs({ "lease_expiry", "delayed_promoter" }) do
    local op = name == "lease_expiry" and ops.mark_lease_expired or ops.promote_delayed("default", 5000)
    local ctx, pages = fake_ctx(lib), {}
    for p = 1, N / PAGE do
      local m, sc = {}, {}
      for i = 1, PAGE do m[i], sc[i] = eid((p - 1) * PAGE + i), "1000" end
      pages[p] = { members = m, scores = sc, size = PAGE + 1 } -- not full: no ZMSCORE
    end
    collectgarbage()
    local acc, t0 = reply.new_acc(), os.clock()
    for p = 1, #pages do
      drain.handle_pages(ctx, acc, { { ctx = ctx, op = op, index = "ff:idx:{fp:1}:x", page = pages[p] } }, 5000)
    end
    local dt = os.clock() - t0
    assert(acc.processed == N, ("%s %s: processed %d of %d"):format(lib, name, acc.processed, N))
    print(("%s %s %.3f"):format(lib, name, dt / N * 1e6))
  end
end
