-- Shared by every scenario: after the run, print one machine-readable line for scripts/bench.
-- wrk counts a response with status >= 400 as a "status" error; the API never answers 1xx/3xx on
-- these routes, so that count is the non-2xx count. Socket errors and timeouts are reported apart.
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,' ..
      '"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
      summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
