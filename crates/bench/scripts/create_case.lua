-- POST /api/v1/cases with random points in central Wuhu and a mix of categories.
-- Used by `citygrid-bench http`; the bearer token comes in with -H.
-- Requests are built once in init() and cycled, so the load generator spends
-- its time sending rather than in Lua.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local cats = { "E0101", "E0102", "E0401", "E0402", "C0101", "E0701" }
local reqs = {}
local n = 0

init = function(args)
  math.randomseed(42)
  for i = 1, 20000 do
    local lon = 118.34 + math.random() * 0.08
    local lat = 31.30 + math.random() * 0.06
    local body = string.format(
      '{"category":"%s","description":"benchmark report","lon":%.6f,"lat":%.6f}',
      cats[math.random(#cats)], lon, lat)
    reqs[i] = wrk.format(nil, "/api/v1/cases", nil, body)
  end
end

request = function()
  n = n % #reqs + 1
  return reqs[n]
end
