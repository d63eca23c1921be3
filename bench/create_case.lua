-- POST /api/v1/cases with random points in central Wuhu and a mix of categories.
-- Used by `citygrid bench http`; the bearer token comes in with -H.
math.randomseed(42)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local cats = { "E0101", "E0102", "E0401", "E0402", "C0101", "E0701" }

request = function()
  local lon = 118.34 + math.random() * 0.08
  local lat = 31.30 + math.random() * 0.06
  local body = string.format(
    '{"category":"%s","description":"benchmark report","lon":%.6f,"lat":%.6f}',
    cats[math.random(#cats)], lon, lat)
  return wrk.format(nil, "/api/v1/cases", nil, body)
end
