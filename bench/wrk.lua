-- One wrk scenario, described by environment variables set by bench/run.py:
--   WRK_METHOD   GET, POST, PATCH ...
--   WRK_PATH     request path; "{id}" in it is replaced per request by an id in
--                [WRK_ID_MIN, WRK_ID_MAX] when both are set
--   WRK_BODY     request body (optional)
--   WRK_HEADERS  "Name: value" lines separated by newlines (optional)
-- Every response outside 2xx is counted; done() prints one line "BENCH_JSON {...}".

local method = os.getenv("WRK_METHOD") or "GET"
local path = os.getenv("WRK_PATH") or "/"
local body = os.getenv("WRK_BODY")
local header_lines = os.getenv("WRK_HEADERS") or ""
local id_min = tonumber(os.getenv("WRK_ID_MIN") or "")
local id_max = tonumber(os.getenv("WRK_ID_MAX") or "")

wrk.method = method
wrk.path = path
if body ~= nil and body ~= "" then
   wrk.body = body
end
for line in header_lines:gmatch("[^\n]+") do
   local name, value = line:match("^([^:]+):%s*(.*)$")
   if name then
      wrk.headers[name] = value
   end
end

if id_min and id_max and path:find("{id}", 1, true) then
   -- Pre-built requests, one per id (up to 4096), picked at random: cheap for the generator.
   local requests = {}
   local span = id_max - id_min + 1
   local count = math.min(span, 4096)
   function init(args)
      math.randomseed(12345)
      for i = 1, count do
         local id = id_min + i - 1
         if count < span then
            id = id_min + math.random(0, span - 1)
         end
         requests[i] = wrk.format(nil, (path:gsub("{id}", tostring(id))))
      end
   end
   function request()
      return requests[math.random(1, count)]
   end
end

-- Per-thread counters, read back in done() through the thread objects.
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

non2xx = 0
first_bad_status = 0
first_bad_body = ""

function response(status, headers, response_body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      if first_bad_status == 0 then
         first_bad_status = status
         first_bad_body = string.sub(response_body or "", 1, 300)
      end
   end
end

local function json_string(text)
   text = text:gsub("\\", "\\\\"):gsub('"', '\\"'):gsub("[%c]", " ")
   return '"' .. text .. '"'
end

function done(summary, latency, requests)
   local bad, bad_status, bad_body = 0, 0, ""
   for _, thread in ipairs(threads) do
      bad = bad + (thread:get("non2xx") or 0)
      local status = thread:get("first_bad_status") or 0
      if bad_status == 0 and status ~= 0 then
         bad_status = status
         bad_body = thread:get("first_bad_body") or ""
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
         .. '"max_us": %d, "mean_us": %.1f, "non2xx": %d, "connect": %d, "read": %d, "write": %d, '
         .. '"timeout": %d, "status_gt399": %d, "first_bad_status": %d, "first_bad_body": %s}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean, bad, e.connect, e.read, e.write,
      e.timeout, e.status, bad_status, json_string(bad_body)
   ))
end
