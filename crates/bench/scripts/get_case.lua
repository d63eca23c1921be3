-- GET /api/v1/cases/{id} for random ids in 1..CASES (environment variable).
-- Used by `citygrid-bench http`; the bearer token comes in with -H.
-- Requests are built once in init() and cycled (see create_case.lua).
local reqs = {}
local n = 0

init = function(args)
  math.randomseed(7)
  local max = tonumber(os.getenv("CASES") or "1000")
  for i = 1, 20000 do
    reqs[i] = wrk.format("GET", "/api/v1/cases/" .. math.random(1, max))
  end
end

request = function()
  n = n % #reqs + 1
  return reqs[n]
end
