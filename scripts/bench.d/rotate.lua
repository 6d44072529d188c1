-- GET args[2] as a different user on every request: the tokens of args[1] (a file, one per line),
-- each wrk thread starting at its own place in the list. Nothing a user asked for a moment ago is
-- asked again until every other user has asked: what many people polling their own data looks like.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local threads = 0
function setup(thread)
   thread:set("index", threads)
   threads = threads + 1
end

local tokens, path, n
function init(args)
   tokens = {}
   for line in io.lines(args[1]) do
      if #line > 0 then tokens[#tokens + 1] = line end
   end
   path = args[2]
   n = (index or 0) * math.floor(#tokens / 2)
end

function request()
   n = n + 1
   local token = tokens[(n % #tokens) + 1]
   return wrk.format("GET", path, {["Authorization"] = "Bearer " .. token}, nil)
end
