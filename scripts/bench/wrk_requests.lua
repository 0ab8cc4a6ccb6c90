-- wrk script: cycles through the requests listed in the file named by WRK_REQUESTS, one per
-- line, tab-separated: method, path, body ("" for none), then any number of "Name: value"
-- headers. wrk thread i of WRK_THREADS takes lines i, i + WRK_THREADS, … so the threads
-- share the list without overlap. A body holding {uuid} gets a UUID of its own in each
-- request (WRK_RUN_ID, 8 hex digits, then the thread and a count: unique within the run),
-- for APIs whose retry key makes a repeated body a replay. Written by benchlib.wrk_load.

local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
end

function init(args)
   local threads = tonumber(os.getenv("WRK_THREADS")) or 1
   requests = {}
   local line_number = 0
   for line in io.lines(os.getenv("WRK_REQUESTS")) do
      if line_number % threads == id then
         local fields = {}
         for field in (line .. "\t"):gmatch("([^\t]*)\t") do
            table.insert(fields, field)
         end
         local headers = {}
         for i = 4, #fields do
            local name, value = fields[i]:match("^([^:]+):%s*(.*)$")
            if name then headers[name] = value end
         end
         local body = fields[3] ~= "" and fields[3] or nil
         if body and body:find("{uuid}", 1, true) then
            table.insert(requests, { method = fields[1], path = fields[2], headers = headers, body = body })
         else
            table.insert(requests, wrk.format(fields[1], fields[2], headers, body))
         end
      end
      line_number = line_number + 1
   end
   if #requests == 0 then
      error("wrk_requests.lua: thread " .. id .. " has no requests")
   end
   position = 0
   run_id = os.getenv("WRK_RUN_ID") or "00000000"
   sent = 0
end

function request()
   position = position % #requests + 1
   local r = requests[position]
   if type(r) == "string" then return r end
   sent = sent + 1
   local uuid = string.format("%s-%04x-4000-8000-%012x", run_id, id, sent)
   return wrk.format(r.method, r.path, r.headers, (r.body:gsub("{uuid}", uuid)))
end
