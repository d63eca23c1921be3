-- GET /api/v1/cases/{id} for random ids in 1..CASES (environment variable).
-- Used by `citygrid bench http`; the bearer token comes in with -H.
math.randomseed(7)
local max = tonumber(os.getenv("CASES") or "1000")

request = function()
  return wrk.format("GET", "/api/v1/cases/" .. math.random(1, max))
end
