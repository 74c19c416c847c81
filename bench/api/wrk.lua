-- Requests for wrk, replayed in order from a file that bench/api/run.py writes, one a line:
--   METHOD <tab> PATH [<tab> JSON BODY]
-- Every request carries the bearer token of BENCH_TOKEN. Run wrk with one thread (-t1), so that
-- the order holds (the transition scenario depends on it). At the end, prints one JSON line.

local requests = {}
-- wrk calls request() once before the run to check the script (script_verify_request, on the
-- first thread) and throws that request away: start one early so that line 1 is sent first.
local counter = -2

function init(args)
  local headers = {
    ["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or ""),
    ["Accept"] = "application/json",
    ["Content-Type"] = "application/json",
  }
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local method, path, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
    if method then
      if body == "" then body = nil end
      requests[#requests + 1] = wrk.format(method, path, headers, body)
    end
  end
end

function request()
  counter = counter + 1
  return requests[counter % #requests + 1]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, '
      .. '"write_errors": %d, "status_errors": %d, "timeouts": %d, "p50_us": %d, '
      .. '"p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
