-- ff.sscan: bounded set iteration with SSCAN (never an unbounded SMEMBERS), for
-- the set walkers (ff.walker) and the flow projector's member walks. A reply is
-- an array {cursor, {members...}} (spec 20 §A.4; non-string members are
-- dropped); any other shape ends the walk as an error, never as a silently
-- complete walk.
local M = {}

-- page(ctx, key, cursor, count) -> next_cursor, members | nil, err
function M.page(ctx, key, cursor, count)
  local r, err = ctx.redis:call("SSCAN", key, cursor, "COUNT", count)
  if not r then return nil, err end
  if type(r) ~= "table" or type(r[1]) ~= "string" or type(r[2]) ~= "table" then
    return nil, "malformed SSCAN reply"
  end
  local members = {}
  for _, m in ipairs(r[2]) do
    if type(m) == "string" then members[#members + 1] = m end
  end
  return r[1], members
end

-- each(ctx, key, count, fn) -> true | nil, err
-- Calls fn(members) for every page until the cursor returns to "0"; fn may
-- return false to stop early. Stops when the host is shutting down.
function M.each(ctx, key, count, fn)
  local cursor = "0"
  repeat
    local members
    cursor, members = M.page(ctx, key, cursor, count)
    if not cursor then return nil, members end
    if fn(members) == false then return true end
  until cursor == "0" or ctx:stopping()
  return true
end

return M
