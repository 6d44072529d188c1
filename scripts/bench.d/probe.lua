-- The "second client" during the login storm: a health probe pacing itself (each connection waits
-- args[1] ms between requests), so what it measures is the latency a monitor sees while logins
-- saturate the CPU, not how fast a second closed-loop generator can steal CPU from them.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local pause = 10
function init(args) pause = tonumber(args[1] or "10") end
function delay() return pause end
