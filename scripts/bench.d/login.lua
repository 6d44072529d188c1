-- POST /api/auth/login with the right password for args[1] / args[2]: every answer must be a 200.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local req
function init(args)
   local body = '{"email":"' .. args[1] .. '","password":"' .. args[2] .. '"}'
   req = wrk.format("POST", "/api/auth/login", {["Content-Type"] = "application/json"}, body)
end

function request() return req end
