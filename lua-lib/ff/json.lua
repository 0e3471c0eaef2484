-- ff.json: a small strict JSON decoder for reading execution policy snapshots
-- (the retention trimmer needs stream_policy.retention_ttl_ms). Pure Lua, no I/O.
-- Numbers decode to M.Number objects keeping their literal text, so a caller can
-- tell the JSON integer 1000 from 1000.0 or 1e3 (0.1.1 honours only unsigned
-- integer literals, quirk R7); M.uint(v) does that check.
local M = {}

local Number = {}
Number.__index = Number
M.Number = Number

local function is_number(v) return getmetatable(v) == Number end

-- uint(v) -> integer value when v is a JSON non-negative integer literal, else nil.
function M.uint(v)
  if is_number(v) and v.text:match("^%d+$") then return tonumber(v.text) end
  return nil
end

local ESCAPES = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n",
  r = "\r", t = "\t" }

local decode_value

local function skip_ws(s, i)
  return (s:find("[^ \t\r\n]", i)) or (#s + 1)
end

local function decode_string(s, i)
  local out, j = {}, i + 1
  while true do
    local c = s:sub(j, j)
    if c == "" then error("unterminated string") end
    if c == '"' then return table.concat(out), j + 1 end
    if c == "\\" then
      local e = s:sub(j + 1, j + 1)
      if e == "u" then
        local hex = s:sub(j + 2, j + 5)
        if not hex:match("^%x%x%x%x$") then error("bad \\u escape") end
        out[#out + 1] = "?" -- code points are irrelevant to the fields we read
        j = j + 6
      elseif ESCAPES[e] then
        out[#out + 1] = ESCAPES[e]
        j = j + 2
      else
        error("bad escape")
      end
    else
      out[#out + 1] = c
      j = j + 1
    end
  end
end

local function decode_number(s, i)
  local text = s:match("^-?%d+%.?%d*[eE]?[+-]?%d*", i)
  if not text or not text:match("^-?%d+$") and not text:match("^-?%d+%.%d+$")
    and not text:match("^-?%d+%.?%d*[eE][+-]?%d+$") then
    error("bad number")
  end
  return setmetatable({ text = text }, Number), i + #text
end

local function decode_array(s, i)
  local arr = {}
  i = skip_ws(s, i + 1)
  if s:sub(i, i) == "]" then return arr, i + 1 end
  while true do
    arr[#arr + 1], i = decode_value(s, i)
    i = skip_ws(s, i)
    local c = s:sub(i, i)
    if c == "]" then return arr, i + 1 end
    if c ~= "," then error("expected , or ]") end
    i = i + 1
  end
end

local function decode_object(s, i)
  local obj = {}
  i = skip_ws(s, i + 1)
  if s:sub(i, i) == "}" then return obj, i + 1 end
  while true do
    i = skip_ws(s, i)
    if s:sub(i, i) ~= '"' then error("expected key") end
    local k
    k, i = decode_string(s, i)
    i = skip_ws(s, i)
    if s:sub(i, i) ~= ":" then error("expected :") end
    obj[k], i = decode_value(s, i + 1)
    i = skip_ws(s, i)
    local c = s:sub(i, i)
    if c == "}" then return obj, i + 1 end
    if c ~= "," then error("expected , or }") end
    i = i + 1
  end
end

local LITERALS = { ["true"] = true, ["false"] = false, ["null"] = M }

function decode_value(s, i)
  i = skip_ws(s, i)
  local c = s:sub(i, i)
  if c == "{" then return decode_object(s, i) end
  if c == "[" then return decode_array(s, i) end
  if c == '"' then return decode_string(s, i) end
  if c:match("[-%d]") then return decode_number(s, i) end
  for word, v in pairs(LITERALS) do
    if s:sub(i, i + #word - 1) == word then return v, i + #word end
  end
  error("unexpected character at " .. i)
end

-- M.null is the decoded value of JSON null (M itself, a unique sentinel).
M.null = M

-- decode(text) -> value | nil, err
function M.decode(text)
  if type(text) ~= "string" then return nil, "not a string" end
  local ok, v, i = pcall(decode_value, text, 1)
  if not ok then return nil, tostring(v) end
  if skip_ws(text, i) <= #text then return nil, "trailing data" end
  return v
end

return M
