-- The daemon's HTTP endpoints from the integration specs: requests with
-- curl, and the Prometheus exposition parsed (and checked) line by line.
local P = require "tests.integration.helpers.proc"

local M = {}

-- http(port, method, path, token) -> status, body
function M.request(port, method, path, token)
  local auth = token and ("-H 'Authorization: Bearer %s'"):format(token) or ""
  local p = io.popen(("curl -s -m 5 -X %s %s -w '\\n%%{http_code}' http://127.0.0.1:%d%s")
    :format(method, auth, port, path))
  local out = p:read("*a")
  p:close()
  local body, code = out:match("^(.*)\n(%d+)$")
  return tonumber(code), body
end

-- parse(text) -> samples { [series] = value }, families { [name] = type }:
-- every line must be a HELP or TYPE comment, or a sample of a family whose
-- TYPE came before it, with well-formed labels and a number.
function M.parse(text)
  local samples, families = {}, {}
  for line in text:gmatch("[^\n]+") do
    local kind, name, rest = line:match("^# (%u+) ([%a_:][%w_:]*) (.+)$")
    if kind then
      assert(kind == "HELP" or kind == "TYPE", "bad comment: " .. line)
      if kind == "TYPE" then
        assert(rest == "counter" or rest == "gauge" or rest == "histogram", "bad type: " .. line)
        assert(not families[name], "TYPE twice: " .. name)
        families[name] = rest
      end
    else
      local series, value = line:match("^([%a_:][%w_:]*%b{}) (%S+)$")
      if not series then series, value = line:match("^([%a_:][%w_:]*) (%S+)$") end
      assert(series, "bad sample line: " .. line)
      local labels = series:match("%b{}")
      if labels then
        local inner = labels:sub(2, -2)
        local rebuilt = inner:gsub('[%a_][%w_]*="[^"\\]*"', ""):gsub(",", "")
        assert(rebuilt == "", "bad labels: " .. line)
      end
      local v = tonumber(value) or (value == "+Inf" and math.huge) or (value == "NaN" and 0 / 0)
      assert(v, "bad value: " .. line)
      local base = series:match("^[%w_:]+")
      local family = families[base] or families[(base:gsub("_bucket$", ""):gsub("_sum$", "")
        :gsub("_count$", ""))]
      assert(family, "sample before its TYPE: " .. line)
      samples[series] = v
    end
  end
  return samples, families
end

-- port_of(proc) -> the port the daemon logged ("http: listening on ...")
function M.port_of(proc)
  assert(proc:wait_log("http: listening on 127%.0%.0%.1:%d+", 10), "no http line: " .. proc:output())
  return tonumber(proc:output():match("http: listening on 127%.0%.0%.1:(%d+)"))
end

-- scrape(port) -> samples of GET /metrics (asserts a 200)
function M.scrape(port)
  local code, body = M.request(port, "GET", "/metrics")
  assert(code == 200, "GET /metrics: " .. tostring(code))
  return (M.parse(body))
end

-- wait_metric(port, series, pred, secs) -> true once pred(value) holds
function M.wait_metric(port, series, pred, secs)
  return P.wait_for(function() return pred(M.scrape(port)[series]) end, secs)
end

return M
