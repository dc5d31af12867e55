-- bench/issue.lua: wrk script of bench/issue.sh.  Every request is
-- POST /v1/licences with the issuer's bearer token, the request body of a
-- file and its own Idempotency-Key (<prefix>-<thread>-<counter>, the prefix
-- random per run), so each one issues a new licence.  Answers other than
-- 201 are counted (a replay would be 200); done() prints machine-readable
-- lines for issue.sh:
--   wrk ... -s bench/issue.lua URL -- BODY_FILE TOKEN_FILE PREFIX
-- The token is read from a file so that it never appears in argv.

local threads = {}
local nthreads = 0

function setup(thread)
	thread:set("tid", nthreads)
	nthreads = nthreads + 1
	table.insert(threads, thread)
end

local function slurp(path)
	local f = assert(io.open(path, "rb"))
	local s = f:read("*a")
	f:close()
	return (s:gsub("%s+$", ""))
end

function init(args)
	body = slurp(args[1])
	token = slurp(args[2])
	prefix = args[3] or "k"
	counter = 0
	non201 = 0
	first_bad = 0
	path = "/v1/licences"
	auth = "Bearer " .. token
end

function request()
	counter = counter + 1
	return wrk.format("POST", path, {
		["Authorization"] = auth,
		["Content-Type"] = "application/json",
		["Idempotency-Key"] = prefix .. "-" .. tid .. "-" .. counter,
	}, body)
end

function response(status, headers, resp_body)
	if status ~= 201 then
		non201 = non201 + 1
		if first_bad == 0 then
			first_bad = status
		end
	end
end

function done(summary, latency, requests)
	local bad, first = 0, 0
	for _, t in ipairs(threads) do
		bad = bad + t:get("non201")
		if first == 0 then
			first = t:get("first_bad")
		end
	end
	local e = summary.errors
	io.write(string.format("bench requests %d\n", summary.requests))
	io.write(string.format("bench duration_us %d\n", summary.duration))
	io.write(string.format("bench non201 %d\n", bad))
	io.write(string.format("bench first_bad_status %d\n", first))
	io.write(string.format("bench socket_errors %d\n",
		e.connect + e.read + e.write + e.timeout))
	io.write(string.format("bench p50_us %d\n", latency:percentile(50)))
	io.write(string.format("bench p99_us %d\n", latency:percentile(99)))
	io.write(string.format("bench max_us %d\n", latency.max))
end
