-- wrk script for bench/gateway_overhead.sh: POST one chat completion request.
-- The body can be replaced with the GANTRY_BENCH_BODY environment variable.
wrk.method = "POST"
wrk.body = os.getenv("GANTRY_BENCH_BODY")
  or '{"model":"mock-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":16}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer x"
