-- probe.lua(name, limit): source of a scanner that detects a coroutine
-- resumed twice (a scan entered while another of the same scanner is still
-- suspended) or resumed after its command timeout (a call that returned
-- later than `limit` seconds), and logs "PROBE ..." errors when it sees one.
return function(name, limit, interval)
  return ([[
local ffi = require "ffi"
ffi.cdef "typedef struct { long s; long ns; } probe_ts_t; int clock_gettime(int, probe_ts_t *);"
local ts = ffi.new("probe_ts_t")
local function mono() ffi.C.clock_gettime(1, ts); return tonumber(ts.s) + tonumber(ts.ns) / 1e9 end
local inside = 0
return {
  name = "%s", family = "execution", interval = %s,
  scan = function(ctx, p)
    if inside ~= 0 then ctx.log:error("PROBE double entry", { inside = inside }) end
    inside = inside + 1
    local t0 = mono()
    local r, err = ctx.redis:call("INCR", "probe:%s:" .. p)
    local dt = mono() - t0
    inside = inside - 1
    if dt > %s then ctx.log:error("PROBE late resume", { dt = dt, err = tostring(err) }) end
    if r == nil then
      ctx.log:warn("PROBE call failed", { err = tostring(err), dt = dt })
      return 0, 1
    end
    return 1, 0
  end,
}
]]):format(name, interval or 0.1, name, limit)
end
