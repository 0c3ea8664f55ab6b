-- wrk script: GET a connection's active credential, authenticated with the key in USE_KEY
-- (scope connections:use). Every answer carries the credential and is durably audited.
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("USE_KEY")
