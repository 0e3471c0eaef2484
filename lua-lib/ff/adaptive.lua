-- ff.adaptive: the batch size of a scanner, adapted between pages (issue 5).
-- Module-level state: each scanner has its own Lua state, so this is per
-- scanner; it starts again from the configured `batch` after a reload.
--
-- Rules, within [batch_min, batch_max]:
--  * a full page whose calls took at most `batch_latency` seconds doubles the
--    size (a backlog drains with fewer, bigger round trips);
--  * a timeout or BUSY reply, or calls slower than twice `batch_latency`,
--    halve it (one batch FCALL holds the server for its whole duration, and a
--    slow or busy server needs smaller requests);
--  * anything else keeps it.
local M = { current = nil }

-- The configured batch always lies within the bounds, so `batch = 5` alone
-- means what it says even with the default batch_min.
local function bounds(cfg)
  local lo = math.min(cfg.batch_min or cfg.batch, cfg.batch)
  local hi = math.max(cfg.batch_max or cfg.batch, cfg.batch)
  return lo, hi
end

local function clamp(v, lo, hi)
  return math.max(lo, math.min(hi, math.floor(v)))
end

-- size(cfg) -> the batch size to read the next page with.
function M.size(cfg)
  local lo, hi = bounds(cfg)
  return clamp(M.current or cfg.batch, lo, hi)
end

-- overloaded(err) -> true for the errors that mean "send less": the host's
-- command timeout and Redis' BUSY (a script or function running too long).
function M.overloaded(err)
  if type(err) ~= "string" then return false end
  return err:find("^timeout") ~= nil or err:find("^BUSY") ~= nil
end

-- observe(cfg, o): o = { full = bool, latency = seconds, overloaded = bool }.
function M.observe(cfg, o)
  local lo, hi = bounds(cfg)
  local s = M.size(cfg)
  local target = cfg.batch_latency or 0.01
  if o.overloaded or o.latency > 2 * target then
    s = s / 2
  elseif o.full and o.latency <= target then
    s = s * 2
  end
  M.current = clamp(s, lo, hi)
end

-- reset(): forget the adapted size (tests).
function M.reset()
  M.current = nil
end

return M
