-- wrk script: POST /api/track (the tollgateai dialect) with a unique idempotencyKey per request.
--   wrk -t2 -c64 -d15s -s track.lua http://127.0.0.1:PORT -- RUN_ID
-- The API key comes from the environment (TOLLGATE_LOAD_KEY), never from the command line.
-- Each thread numbers its own requests: key = RUN_ID-<thread>-<n>. Customers, runs, agents and
-- models cycle so the ledger grows the way a real workspace does (1,000 customers).

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

local models = {
  '"provider":"anthropic","model":"claude-sonnet-4-5"',
  '"provider":"openai","model":"gpt-4o"',
  '"provider":"openai","model":"gpt-4o-mini"',
  '"provider":"gemini","model":"gemini-2.5-flash"',
}

function init(args)
  run = args[1] or "load"
  n = 0
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. (os.getenv("TOLLGATE_LOAD_KEY") or ""),
  }
end

function request()
  n = n + 1
  local body = string.format(
    '{"customerId":"cust-%d","agentId":"agent-%d","runId":"run-%d",%s,' ..
    '"tokensIn":%d,"tokensOut":%d,"cachedTokens":%d,"revenueUnitCents":2,' ..
    '"idempotencyKey":"%s-%d-%d"}',
    n % 1000, n % 7, n % 5000, models[n % 4 + 1],
    1000 + n % 977, 200 + n % 311, (n % 3) * 256,
    run, tid, n)
  return wrk.format("POST", "/api/track", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "wrk-result requests=%d duration_us=%d status_errors=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout))
  io.write(string.format(
    "wrk-latency-us p50=%d p90=%d p99=%d p999=%d max=%d mean=%d\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, math.floor(latency.mean)))
end
