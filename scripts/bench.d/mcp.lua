-- POST /api/mcp, one stateless `tools/call` of `get_entries` (the page `GET /api/entries` answers,
-- through the Model Context Protocol): `Authorization: Bearer <args[1]>` (a personal token).
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local req
function init(args)
   local body = '{"jsonrpc":"2.0","id":1,"method":"tools/call",' ..
      '"params":{"name":"get_entries","arguments":{"limit":30}}}'
   req = wrk.format("POST", nil, {
      ["Authorization"] = "Bearer " .. args[1],
      ["Content-Type"] = "application/json",
      ["Accept"] = "application/json, text/event-stream",
      ["MCP-Protocol-Version"] = "2025-06-18",
   }, body)
end

function request() return req end
