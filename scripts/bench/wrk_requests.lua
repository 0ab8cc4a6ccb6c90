-- wrk script of the benchmarks. WRK_REQUESTS names a file; wrk thread i of WRK_THREADS takes
-- its lines i, i + WRK_THREADS, … so the threads share the file without overlap.
--
-- Requests (benchlib.wrk_load): a line is one request, tab-separated: method, path, body (""
-- for none), then any number of "Name: value" headers; each thread cycles through its lines.
-- A body holding {uuid} gets a UUID of its own in each request (WRK_RUN_ID, 8 hex digits, then
-- the thread and a count: unique within the run), for APIs whose retry key makes a repeated
-- body a replay.
--
-- Refresh chains (benchlib.wrk_refresh_load, WRK_CHAIN_PATH set): a line is a starting refresh
-- token. Each request POSTs {"refresh_token": …} to WRK_CHAIN_PATH with the headers of
-- WRK_HEADERS ("Name: value" fields separated by tabs), spending a token from the thread's
-- queue; each answer's new refresh_token joins the queue, so every token is used once, as a
-- real client does. A thread needs a token per connection and thread 0 one more: wrk calls its
-- request() once to check the script and never sends that request. A refused refresh ends
-- its chain; a thread with no token left sends one that cannot verify (a non-2xx answer).

local chain_path = os.getenv("WRK_CHAIN_PATH")
local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
end

-- This thread's lines of WRK_REQUESTS.
local function own_lines()
   local threads = tonumber(os.getenv("WRK_THREADS")) or 1
   local lines, line_number = {}, 0
   for line in io.lines(os.getenv("WRK_REQUESTS")) do
      if line_number % threads == id and line ~= "" then
         table.insert(lines, line)
      end
      line_number = line_number + 1
   end
   if #lines == 0 then
      error("wrk_requests.lua: thread " .. id .. " has no lines")
   end
   return lines
end

-- The tab-separated fields of `text`.
local function fields_of(text)
   local fields = {}
   for field in (text .. "\t"):gmatch("([^\t]*)\t") do
      table.insert(fields, field)
   end
   return fields
end

-- A header table from the "Name: value" fields from index `first` on.
local function headers_of(fields, first)
   local headers = {}
   for i = first, #fields do
      local name, value = fields[i]:match("^([^:]+):%s*(.*)$")
      if name then headers[name] = value end
   end
   return headers
end

function init(args)
   local lines = own_lines()
   if chain_path then
      queue, first, last = lines, 1, #lines
      chain_headers = headers_of(fields_of(os.getenv("WRK_HEADERS") or ""), 1)
      return
   end
   requests = {}
   for _, line in ipairs(lines) do
      local fields = fields_of(line)
      local headers = headers_of(fields, 4)
      local body = fields[3] ~= "" and fields[3] or nil
      if body and body:find("{uuid}", 1, true) then
         table.insert(requests, { method = fields[1], path = fields[2], headers = headers, body = body })
      else
         table.insert(requests, wrk.format(fields[1], fields[2], headers, body))
      end
   end
   position = 0
   run_id = os.getenv("WRK_RUN_ID") or "00000000"
   sent = 0
end

function request()
   if chain_path then
      local token = "spent"
      if first <= last then
         token = queue[first]
         queue[first] = nil
         first = first + 1
      end
      return wrk.format("POST", chain_path, chain_headers, '{"refresh_token":"' .. token .. '"}')
   end
   position = position % #requests + 1
   local r = requests[position]
   if type(r) == "string" then return r end
   sent = sent + 1
   local uuid = string.format("%s-%04x-4000-8000-%012x", run_id, id, sent)
   return wrk.format(r.method, r.path, r.headers, (r.body:gsub("{uuid}", uuid)))
end

-- Defined only for chains: wrk reads every answer's body when a script has response().
if chain_path then
   function response(status, headers, body)
      if status == 200 then
         local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
         if token then
            last = last + 1
            queue[last] = token
         end
      end
   end
end
