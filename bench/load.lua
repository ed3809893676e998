-- wrk script for qdeploy's benchmark (bench/run.ts starts wrk with it).
-- * Connects to BENCH_CONNECT (127.0.0.1) while the URL's name stays the TLS SNI and Host
--   header: Caddy's `tls internal` only answers a handshake that names the site, and
--   *.localhost need not resolve on the load machine.
-- * BENCH_DELAY_MS between a connection's requests keeps the load steady instead of
--   saturating the (emulated) VM.
-- * Counts every response that is not 2xx (wrk's own errors.status counts only >= 400).
-- * done() writes BENCH_OUT: totals, errors and the latency histogram (µs -> count),
--   so bench/run.ts can merge segments into exact percentiles.
local connect_to = os.getenv("BENCH_CONNECT") or "127.0.0.1"
local out_file = os.getenv("BENCH_OUT")
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")

wrk.resolve = function(host, service)
  wrk.addrs = wrk.lookup(connect_to, service)
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
  responses = 0
end

if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

function response(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad, seen = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
    seen = seen + (t:get("responses") or 0)
  end
  local hist = {}
  for i = 1, #latency do
    local v, c = latency(i)
    hist[#hist + 1] = string.format("[%d,%d]", v, c)
  end
  local e = summary.errors
  local f = assert(io.open(out_file, "w"))
  f:write(string.format(
    '{"duration_us":%d,"requests":%d,"responses":%d,"non2xx":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"hist":[%s]}\n',
    summary.duration, summary.requests, seen, bad, e.connect, e.read, e.write, e.status, e.timeout, table.concat(hist, ",")))
  f:close()
end
