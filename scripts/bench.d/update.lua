-- PUT /api/entries/{id}: partial updates (calories and notes) round-robin over the ids in args[2]
-- (comma-separated) of the user whose token is args[1].
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local token, ids, n = nil, {}, 0
function init(args)
   token = args[1]
   for id in string.gmatch(args[2], "[^,]+") do ids[#ids + 1] = id end
   n = math.random(#ids)
end

function request()
   n = n + 1
   local id = ids[(n % #ids) + 1]
   local body = '{"calories":' .. (n % 5000) .. ',"notes":"updated by the benchmark"}'
   return wrk.format("PUT", "/api/entries/" .. id,
      {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
