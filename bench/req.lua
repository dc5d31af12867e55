-- bench/req.lua: the wrk script of every bench/*.sh HTTP point.  Each
-- request is METHOD PATH with the body of a file (or none), a bearer token
-- read from a file (or none) and, when PREFIX is not "-", its own
-- Idempotency-Key <prefix>-<thread>-<counter> (so each POST /v1/licences
-- issues a new licence).  Answers other than EXPECT are counted; done()
-- prints machine-readable "bench NAME VALUE" lines:
--   wrk ... -s bench/req.lua URL -- METHOD PATH BODY_FILE|- TOKEN_FILE|- \
--       CONTENT_TYPE|- EXPECT PREFIX|-
-- Files keep the token out of argv.

local threads = {}
local nthreads = 0

function setup(thread)
	thread:set("tid", nthreads)
	nthreads = nthreads + 1
	table.insert(threads, thread)
end

local function slurp(path, strip)
	local f = assert(io.open(path, "rb"))
	local s = f:read("*a")
	f:close()
	if strip then
		s = s:gsub("%s+$", "")
	end
	return s
end

function init(args)
	method = args[1]
	path = args[2]
	body = nil
	if args[3] ~= "-" then
		body = slurp(args[3], false)
	end
	headers = {}
	if args[4] ~= "-" then
		headers["Authorization"] = "Bearer " .. slurp(args[4], true)
	end
	if args[5] ~= "-" then
		headers["Content-Type"] = args[5]
	end
	expect = tonumber(args[6])
	prefix = args[7]
	counter = 0
	nonexpect = 0
	first_bad = 0
end

function request()
	counter = counter + 1
	if prefix ~= "-" then
		headers["Idempotency-Key"] = prefix .. "-" .. tid .. "-" .. counter
	end
	return wrk.format(method, path, headers, body)
end

function response(status, hdrs, resp_body)
	if status ~= expect then
		nonexpect = nonexpect + 1
		if first_bad == 0 then
			first_bad = status
		end
	end
end

function done(summary, latency, requests)
	local bad, first = 0, 0
	for _, t in ipairs(threads) do
		bad = bad + t:get("nonexpect")
		if first == 0 then
			first = t:get("first_bad")
		end
	end
	local e = summary.errors
	io.write(string.format("bench requests %d\n", summary.requests))
	io.write(string.format("bench duration_us %d\n", summary.duration))
	io.write(string.format("bench unexpected %d\n", bad))
	io.write(string.format("bench first_bad_status %d\n", first))
	io.write(string.format("bench socket_errors %d\n",
		e.connect + e.read + e.write + e.timeout))
	io.write(string.format("bench p50_us %d\n", latency:percentile(50)))
	io.write(string.format("bench p99_us %d\n", latency:percentile(99)))
	io.write(string.format("bench max_us %d\n", latency.max))
end
