-- ff.budget: the one hard-limit breach rule shared by the unblock scanner and the
-- budget reconciler (scanhost fixes quirks U6/BR3: 0.1.1 used >= in one place and
-- > in the other). A budget is breached when, for some `hard:<dim>` limit that is a
-- positive integer, usage(<dim>) >= limit. Soft limits are not enforced here.
--
-- The rule is kept as Lua source (M.RULE): this module loads it for the client,
-- and the budget reconciler's server-side script embeds the very same text
-- (script_prelude()), so its atomic check applies exactly this rule.
local M = {}

M.RULE = [==[
local rule = {}

-- Integer text (optional sign) -> number, else nil.
function rule.int(v)
  if type(v) ~= "string" or not v:match("^[+-]?%d+$") then return nil end
  return tonumber(v)
end

-- Flat HGETALL reply {f1, v1, ...} -> map.
function rule.to_map(flat)
  local map = {}
  for i = 1, #flat, 2 do map[flat[i]] = flat[i + 1] end
  return map
end

-- hard_limits(limits_map) -> array of {dim, limit}, sorted by dimension so the
-- verdict does not depend on hash order. Non-integer or <= 0 limits mean "no limit".
function rule.hard_limits(limits)
  local out = {}
  for field, value in pairs(limits) do
    local dim = field:match("^hard:(.+)$")
    local limit = dim and rule.int(value)
    if limit and limit > 0 then out[#out + 1] = { dim, limit } end
  end
  table.sort(out, function(a, b) return a[1] < b[1] end)
  return out
end

-- breached_dimension(limits_map, usage_map) -> dimension name | nil.
-- Missing or non-integer usage counts as 0.
function rule.breached_dimension(limits, usage)
  for _, l in ipairs(rule.hard_limits(limits)) do
    local used = rule.int(usage[l[1]]) or 0
    if used >= l[2] then return l[1] end
  end
  return nil
end

-- reset_interval(def_map) -> ms (0 = never resets) | nil for a non-integer value.
-- Absent and "" are "unset" (0), as in ff_reset_budget.
function rule.reset_interval(def)
  local v = def.reset_interval_ms
  if v == nil or v == "" then return 0 end
  return rule.int(v)
end

return rule
]==]

for name, fn in pairs(assert(loadstring(M.RULE, "=ff.budget.RULE"))()) do M[name] = fn end

-- script_prelude() -> Lua text defining the local table `rule` (M.RULE), to put
-- in front of a server-side script.
function M.script_prelude()
  return "local rule = (function()\n" .. M.RULE .. "end)()\n"
end

return M
