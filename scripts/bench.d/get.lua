-- GET wrk's URL, with `Authorization: Bearer <args[1]>` when a token is given and
-- `Accept-Encoding: <args[2]>` when that is given too.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local req
function init(args)
   local headers = {}
   if args[1] and #args[1] > 0 then headers["Authorization"] = "Bearer " .. args[1] end
   if args[2] then headers["Accept-Encoding"] = args[2] end
   req = wrk.format("GET", nil, headers, nil)
end

function request() return req end
