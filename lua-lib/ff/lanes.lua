-- ff.lanes: the runnable lane sets by eligibility_state (RUNNABLE_SETS) and
-- their order (RUNNABLE_ORDER), read from the function library's own file
-- (functions/05-lanes.lua), so the scanners and the server-side functions
-- cannot disagree. The file is found and loaded by require's Lua-file
-- searcher, so a scanner's digest covers it (SIGUSR1 reloads on a change),
-- and run with C as its only global.
local name = "functions.05-lanes"
local load = package.loaders[2](name)
assert(type(load) == "function", "ff.lanes: " .. tostring(load))
local C = {}
setfenv(load, { C = C })(name)
return C
