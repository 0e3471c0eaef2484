-- The function library as the C loader builds it, at a chosen library level,
-- for the specs of scanhost's own library (spec/lib/functions): lua-lib/functions/*.lua
-- in file-name order after "#!lua name=<name>", with the level line of
-- 00-common.lua set to the level (README "Library level").
local M = {}

M.DIR = "lua-lib/functions"
M.LEVEL_LINE = 'local FF_LIBRARY_LEVEL = "34"'

local function files()
  local p = assert(io.popen("ls " .. M.DIR .. "/*.lua | sort"))
  local out = {}
  for path in p:lines() do out[#out + 1] = path end
  p:close()
  return out
end

-- The concatenated sources, unchanged.
function M.body()
  local parts = {}
  for _, path in ipairs(files()) do
    local f = assert(io.open(path))
    parts[#parts + 1] = f:read("*a")
    f:close()
    if parts[#parts]:sub(-1) ~= "\n" then parts[#parts + 1] = "\n" end
  end
  return table.concat(parts)
end

-- source(level[, name]) -> library text at that level (the line is replaced
-- as the loader will: the same line with the level's value).
function M.source(level, name)
  local body = M.body()
  local line = ('local FF_LIBRARY_LEVEL = "%s"'):format(level)
  local first = body:find(M.LEVEL_LINE, 1, true)
  assert(first, "no level line in " .. M.DIR)
  body = body:sub(1, first - 1) .. line .. body:sub(first + #M.LEVEL_LINE)
  return "#!lua name=" .. (name or "scanhost") .. "\n" .. body
end

-- load(h, level) -> FUNCTION LOAD REPLACE of the library at that level under
-- the name "scanhost": reply | nil, err.
function M.load(h, level)
  return h:call("FUNCTION", "LOAD", "REPLACE", M.source(level))
end

return M
