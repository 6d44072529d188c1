-- GET wrk's URL, with `Authorization: Bearer <args[1]>` when a token is given.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local req
function init(args)
   local headers = {}
   if args[1] then headers["Authorization"] = "Bearer " .. args[1] end
   req = wrk.format("GET", nil, headers, nil)
end

function request() return req end
