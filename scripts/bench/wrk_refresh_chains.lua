-- wrk script: refresh-token chains for POST /auth/v1/token?grant_type=refresh_token. The file
-- named by WRK_TOKENS holds one starting refresh token per line; wrk thread i of WRK_THREADS
-- takes lines i, i + WRK_THREADS, … (one per connection of the thread and one more: wrk calls
-- thread 0's request() once to check the script and never sends that request). Each request
-- spends a token from the thread's queue and each answer's new refresh_token joins it, so every
-- token is used once, as a real client does. A refused refresh ends its chain; when a thread has
-- no token left, it sends one that cannot verify, which wrk counts as a non-2xx answer.
-- WRK_HEADERS: the request headers, "Name: value" lines separated by tabs. Written by
-- benchlib.wrk_refresh_load.

local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
end

function init(args)
   local threads = tonumber(os.getenv("WRK_THREADS")) or 1
   queue, first, last = {}, 1, 0
   local line_number = 0
   for line in io.lines(os.getenv("WRK_TOKENS")) do
      if line_number % threads == id and line ~= "" then
         last = last + 1
         queue[last] = line
      end
      line_number = line_number + 1
   end
   if last == 0 then
      error("wrk_refresh_chains.lua: thread " .. id .. " has no token")
   end
   headers = {}
   for field in ((os.getenv("WRK_HEADERS") or "") .. "\t"):gmatch("([^\t]*)\t") do
      local name, value = field:match("^([^:]+):%s*(.*)$")
      if name then headers[name] = value end
   end
   path = os.getenv("WRK_PATH")
end

function request()
   local token = "spent"
   if first <= last then
      token = queue[first]
      queue[first] = nil
      first = first + 1
   end
   return wrk.format("POST", path, headers, '{"refresh_token":"' .. token .. '"}')
end

function response(status, response_headers, body)
   if status == 200 then
      local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
      if token then
         last = last + 1
         queue[last] = token
      end
   end
end
