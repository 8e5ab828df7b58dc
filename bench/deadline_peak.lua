-- A deadline day's executors, for wrk (bench/deadline_peak.py runs it; see there).
--
-- Each wrk thread holds one connection (wrk -tN -cN) and walks its executor clients (one at the peak; several
-- when fewer threads stand for the whole population) through their expected reports, one after another:
--
--   POST /api/v1/progress-reports            a draft (201, ETag, Location)
--   POST /api/v1/progress-reports/{id}/submit   If-Match: the draft's ETag (200; marked late after its due date)
--   GET  /api/v1/progress/inbox              what is due now
--
-- then the next client's next report. A client whose reports are all submitted goes on reading its inbox. Between
-- two requests of a thread: PEAK_THINK_MS milliseconds (±25 %), the think time; before its first, a random part of
-- one think time.
--
-- PEAK_CLIENTS names a file of one line per client: its bearer token, then each of its draft bodies (JSON), all
-- separated by tabs. Thread i (from 1) takes the lines i, i + N, i + 2N, ... (N: PEAK_THREADS).

-- Latencies are also counted per millisecond for the requests sent once PEAK_SETTLE_MS have passed since the thread
-- started: done() prints their p50/p99 ("settled:"), the peak without its first think times, when every client
-- files its first draft within the same two seconds.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } peak_timespec;
int clock_gettime(int clock_id, peak_timespec *tp);
]]
local now_buffer = ffi.new("peak_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, now_buffer) -- CLOCK_MONOTONIC
  return tonumber(now_buffer.tv_sec) * 1000 + tonumber(now_buffer.tv_nsec) / 1e6
end
local settle_ms = tonumber(os.getenv("PEAK_SETTLE_MS") or "0")
local started_at = nil
local sent_at = 0
settled_counts = {} -- latency in whole ms -> requests (a global: done() reads it from each thread)

local clients_file = os.getenv("PEAK_CLIENTS")
local threads_total = tonumber(os.getenv("PEAK_THREADS") or "1")
local think_ms = tonumber(os.getenv("PEAK_THINK_MS") or "2000")

local setup_count = 0
local all_threads = {}

function setup(thread)
  setup_count = setup_count + 1
  thread:set("index", setup_count)
  table.insert(all_threads, thread)
end

-- ---------------------------------------------------------------------------------------------- per thread

local clients = {}    -- {token=..., drafts={...}, next=1}
local turn = 1        -- whose turn it is
local step = "create" -- create -> submit -> inbox -> (next client) create
local report_path = nil
local report_etag = nil
local current = nil

-- Counters read by done() (globals of the thread's state).
created = 0
submitted = 0
inbox_reads = 0
refused_create = 0
refused_submit = 0
refused_inbox = 0

local function split(line, sep)
  local out = {}
  for part in string.gmatch(line, "([^" .. sep .. "]+)") do
    table.insert(out, part)
  end
  return out
end

function init(args)
  local n = 0
  for line in io.lines(clients_file) do
    n = n + 1
    if (n - index) % threads_total == 0 and n >= index then
      local fields = split(line, "\t")
      local token = table.remove(fields, 1)
      table.insert(clients, {token = token, drafts = fields, next = 1})
    end
  end
  math.randomseed(index * 7919 + os.time())
  started_at = now_ms()
end


local function headers(client, extra)
  local h = {["Authorization"] = "Bearer " .. client.token, ["Content-Type"] = "application/json"}
  for k, v in pairs(extra or {}) do
    h[k] = v
  end
  return h
end

function request()
  sent_at = now_ms()
  current = clients[turn]
  if step == "create" and current.next > #current.drafts then
    step = "inbox" -- nothing left to file: read the inbox
  end
  if step == "create" then
    return wrk.format("POST", "/api/v1/progress-reports", headers(current), current.drafts[current.next])
  elseif step == "submit" then
    return wrk.format("POST", report_path .. "/submit", headers(current, {["If-Match"] = report_etag}), "{}")
  end
  return wrk.format("GET", "/api/v1/progress/inbox", headers(current))
end

local function header(hs, name)
  return hs[name] or hs[string.lower(name)]
end

function response(status, hs, body)
  if sent_at - started_at >= settle_ms then
    local ms = math.floor(now_ms() - sent_at)
    settled_counts[ms] = (settled_counts[ms] or 0) + 1
  end
  if step == "create" then
    current.next = current.next + 1
    local location = header(hs, "Location")
    if status == 201 and location then
      created = created + 1
      report_path = string.match(location, "^https?://[^/]+(/.*)$") or location
      report_etag = header(hs, "ETag")
      step = "submit"
    else
      refused_create = refused_create + 1
      step = "inbox"
    end
  elseif step == "submit" then
    if status == 200 then
      submitted = submitted + 1
    else
      refused_submit = refused_submit + 1
    end
    step = "inbox"
  else
    if status == 200 then
      inbox_reads = inbox_reads + 1
    else
      refused_inbox = refused_inbox + 1
    end
    step = "create"
    turn = turn % #clients + 1
  end
end

local started = false

function delay()
  if think_ms <= 0 then
    return 0
  end
  if not started then
    -- The first request at a random point of one think time: the clients are in the middle of their day, not
    -- released together (the regular think time alone would send all their first requests within one half of it).
    started = true
    return math.floor(think_ms * math.random())
  end
  return math.floor(think_ms * (0.75 + 0.5 * math.random()))
end

function done(summary, latency, requests)
  local totals = {created = 0, submitted = 0, inbox_reads = 0, refused_create = 0, refused_submit = 0,
                  refused_inbox = 0}
  local counts, settled = {}, 0
  for _, thread in ipairs(all_threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + (tonumber(thread:get(name)) or 0)
    end
    for ms, count in pairs(thread:get("settled_counts") or {}) do
      counts[ms] = (counts[ms] or 0) + count
      settled = settled + count
    end
  end
  io.write(string.format("walk: created=%d submitted=%d inbox=%d refused_create=%d refused_submit=%d refused_inbox=%d\n",
    totals.created, totals.submitted, totals.inbox_reads, totals.refused_create, totals.refused_submit,
    totals.refused_inbox))
  local keys = {}
  for ms, _ in pairs(counts) do
    table.insert(keys, ms)
  end
  table.sort(keys)
  local function percentile(p)
    local seen = 0
    for _, ms in ipairs(keys) do
      seen = seen + counts[ms]
      if seen >= p * settled then
        return ms
      end
    end
    return -1
  end
  io.write(string.format("settled: after_ms=%d requests=%d p50_ms=%d p99_ms=%d\n", settle_ms, settled,
    percentile(0.5), percentile(0.99)))
end
