-- wrk script for bench/scale-bench.sh: each request searches for one of the
-- seeded skills at random (GET /api/v1/crates?q=bench-NNNNN&per_page=10),
-- PACKAGES taken from the environment. A 404 or 5xx counts as non-2xx in
-- wrk's output, which the script refuses to report as a measurement.
local packages = tonumber(os.getenv("PACKAGES") or "100000")
local token = os.getenv("TOKEN")

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(seed or os.time())
  if token and token ~= "" then
    wrk.headers["Authorization"] = token
  end
end

function request()
  local q = string.format("bench-%05d", math.random(0, packages - 1))
  return wrk.format("GET", "/api/v1/crates?q=" .. q .. "&per_page=10")
end
