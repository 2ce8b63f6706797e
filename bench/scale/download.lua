-- wrk script for bench/scale-bench.sh: bundle downloads of random seeded
-- versions (GET /api/v1/crates/bench-NNNNN/1.0.V/download), the load that
-- runs alongside the search measurement. PACKAGES and VERSIONS from the
-- environment.
local packages = tonumber(os.getenv("PACKAGES") or "100000")
local versions = tonumber(os.getenv("VERSIONS") or "3")
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
  local p = math.random(0, packages - 1)
  local v = math.random(0, versions - 1)
  return wrk.format("GET", string.format("/api/v1/crates/bench-%05d/1.0.%d/download", p, v))
end
