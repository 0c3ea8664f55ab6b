-- wrk script: POST /v1/tokens/verify, authenticated with ADMIN, verifying the tokens listed
-- (one per line) in the file named by TOKENS, round-robin per thread.
local admin = os.getenv("ADMIN")
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. admin
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i + 1
  local t = tokens[(i % #tokens) + 1]
  return wrk.format(nil, "/v1/tokens/verify", nil, '{"token":"' .. t .. '"}')
end
