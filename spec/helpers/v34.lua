-- Helpers of the v34 scanner specs (spec/scanners/*): a second test host with a
-- scanner filter on the same redis-server, and FlowFabric 0.1.1's library
-- (scanhost's at level 5, named "flowfabric") swapped in under a running host.
local L = require "spec.helpers.library_source"

local M = {}

-- host(srv, o) -> a test host on srv (256 partitions, claims off so that it
-- never keeps another host's cycle from a partition), library loaded; o's
-- entries on top (filter = {...}, scanner_config, capture_logs, ...).
function M.host(srv, o)
  local cfg = { redis = srv.url, partitions = 256, claims = false, scanners = "scanners",
    functions = "lua-lib/functions" }
  for k, v in pairs(o or {}) do cfg[k] = v end
  local h = require("scanhost_test").new(cfg)
  assert(h:load_library())
  return h
end

-- use_flowfabric5(h): replaces scanhost's library with FlowFabric 0.1.1's
-- (version 5) and has h read it again; returns the function that puts
-- scanhost's back (for finally()).
function M.use_flowfabric5(h)
  assert(h:call("FUNCTION", "DELETE", "scanhost"))
  assert(h:call("FUNCTION", "LOAD", L.source("5", "flowfabric")))
  local lib, version = h:load_library()
  assert(lib == "flowfabric" and version == "5", tostring(lib) .. " " .. tostring(version))
  return function()
    assert(h:call("FUNCTION", "DELETE", "flowfabric"))
    assert(h:load_library() == "scanhost")
  end
end

return M
