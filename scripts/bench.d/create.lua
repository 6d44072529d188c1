-- POST /api/entries as the frontend's form sends it (numbers as strings, sleepHours), each request
-- on a day no other request used: thread t of T takes days t, t+T, t+2T, … after 2000-01-01, so
-- every create is a 201 (args[1]: token of a user with no entries; args[2]: wrk's thread count).
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local threads = 0
function setup(thread)
   thread:set("index", threads)
   threads = threads + 1
end

local token, n, stride
function init(args)
   token = args[1]
   stride = tonumber(args[2])
   n = 0
end

function request()
   local day = os.date("!%Y-%m-%d", 946684800 + (n * stride + index) * 86400)
   n = n + 1
   local body = '{"date":"' .. day .. '","calories":"2150","sleepHours":"7.5","workouts":true,' ..
      '"mood":"good","heartRate":"64","steps":"9000","waterIntake":"2.5","symptoms":["headache"],' ..
      '"foodIntake":[{"meal":"lunch","food":"Salad","calories":"350"}],"notes":"bench"}'
   return wrk.format("POST", "/api/entries",
      {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
