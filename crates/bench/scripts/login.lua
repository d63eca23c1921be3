-- POST /api/v1/auth/login as the benchmark operator, over and over: a burst
-- of password checks (Argon2id) beside other traffic. Used by
-- `citygrid-bench http`; USER and PASSWORD come from the environment.
wrk.method = "POST"
wrk.path = "/api/v1/auth/login"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"username":"%s","password":"%s"}', os.getenv("USER_NAME"), os.getenv("PASSWORD"))
