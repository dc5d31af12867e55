-- bench/redeem.lua: bench/req.lua, but each request's body is the next
-- line of BODY_FILE (a pool of bodies, e.g. {"code": "..."} of as many
-- codes), each wrk thread starting at its own place in the pool.
--   WRK_SCRIPT=bench/redeem.lua http_point ... (bench/lib.sh)
dofile("bench/req.lua")

local req_init = init
local bodies = {}

function init(args)
	req_init(args)
	for line in io.lines(args[3]) do
		if #line > 0 then
			table.insert(bodies, line)
		end
	end
	assert(#bodies > 0, "no request bodies in " .. args[3])
end

function request()
	counter = counter + 1
	return wrk.format(method, path, headers,
		bodies[(counter + tid * 17) % #bodies + 1])
end
