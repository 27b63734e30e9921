#!/usr/bin/env bash
# gantry's added latency: the same load sent directly to the mock upstream and through
# gantry (gantry -> mock), side by side, in one run. See docs/benchmarks.md.
#
#   bash bench/gateway_overhead.sh
#
# Builds nothing: expects $BUILD_DIR (default build)/gantry, gantry-mock-upstream and
# gantry-loadgen (or GANTRY_BIN, MOCK_BIN, LOADGEN_BIN), and `wrk` on PATH. Scenarios:
#   (a) non-streaming, open loop at 1000 req/s for 10 s (gantry-loadgen, 2 s warmup)
#   (b) streaming (16 tokens), open loop at 200 req/s for 10 s (gantry-loadgen, 2 s warmup)
#   (c) max throughput, non-streaming: wrk -t1 -c32 -d5s with bench/post.lua
# Prints a markdown table to stdout (progress and raw results go to stderr); writes no
# files outside a temporary directory and stops every process it started on exit.
# Nothing is pinned: the load client, gantry and the mock share the machine's cores.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
build="${BUILD_DIR:-build}"
gantry="${GANTRY_BIN:-$build/gantry}"
mock="${MOCK_BIN:-$build/gantry-mock-upstream}"
loadgen="${LOADGEN_BIN:-$build/gantry-loadgen}"

RATE_PLAIN="${RATE_PLAIN:-1000}"
RATE_STREAM="${RATE_STREAM:-200}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
CONNECTIONS="${CONNECTIONS:-64}"
WRK_DURATION="${WRK_DURATION:-5s}"

for bin in "$gantry" "$mock" "$loadgen"; do
  if [[ ! -x "$bin" ]]; then
    echo "missing $bin: build first (cmake --build $build -j2)" >&2
    exit 1
  fi
done
command -v wrk > /dev/null || { echo "wrk not found on PATH" >&2; exit 1; }
command -v curl > /dev/null || { echo "curl not found on PATH" >&2; exit 1; }

tmp="$(mktemp -d)"
pids=()
child=""  # the load client running now
cleanup() {
  local pid
  if [[ -n "$child" ]]; then kill "$child" 2> /dev/null || true; fi
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "== $*" >&2; }
# Runs a load client in the background and waits, so that a signal stops it at once.
run_child() {
  "$@" &
  child=$!
  wait "$child"
  child=""
}

# --- the mock upstream -------------------------------------------------------
"$mock" --port 0 --threads 1 --tokens 16 > "$tmp/mock.out" 2> "$tmp/mock.err" &
pids+=("$!")
mock_port=""
for _ in $(seq 100); do
  if [[ "$(head -n1 "$tmp/mock.out" 2> /dev/null)" =~ ^listening\ on\ .*:([0-9]+)$ ]]; then
    mock_port="${BASH_REMATCH[1]}"
    break
  fi
  sleep 0.05
done
[[ -n "$mock_port" ]] || { echo "mock did not start:" >&2; cat "$tmp/mock.err" >&2; exit 1; }

# --- gantry on a free port (retry if another process takes it first) ----------
cat > "$tmp/gantry.yaml" << EOF
server:
  io_threads: 2
providers:
  - name: mock
    type: openai
    base_url: http://127.0.0.1:$mock_port/v1
models:
  - name: mock-chat
    provider: mock
EOF
gantry_port=""
for _ in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 40000))
  ss -Htln "sport = :$port" | grep -q . && continue
  "$gantry" serve --port "$port" --data "$tmp/data" --config "$tmp/gantry.yaml" \
    --log-level warn 2> "$tmp/gantry.err" &
  pid=$!
  for _ in $(seq 100); do
    if curl -fs "http://127.0.0.1:$port/readyz" > /dev/null 2>&1; then
      gantry_port="$port"
      break
    fi
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.05
  done
  if [[ -n "$gantry_port" ]]; then
    pids+=("$pid")
    break
  fi
  kill "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
done
[[ -n "$gantry_port" ]] || { echo "gantry did not start:" >&2; cat "$tmp/gantry.err" >&2; exit 1; }

direct_url="http://127.0.0.1:$mock_port/v1/chat/completions"
gantry_url="http://127.0.0.1:$gantry_port/v1/chat/completions"
body_plain='{"model":"mock-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":16}'
body_stream='{"model":"mock-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":16,"stream":true}'
export GANTRY_BENCH_BODY="$body_plain"  # read by bench/post.lua

# Both paths must answer 200 before anything is measured.
for url in "$direct_url" "$gantry_url"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer x' \
    -H 'Content-Type: application/json' -d "$body_plain" "$url")
  [[ "$code" == 200 ]] || { echo "smoke request to $url got HTTP $code" >&2; exit 1; }
done

log "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(date -u +%Y-%m-%dT%H:%MZ)"
log "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
log "mock on :$mock_port, gantry on :$gantry_port (io_threads 2)"

# --- helpers -----------------------------------------------------------------
# jfield JSON OBJECT FIELD: a number from a flat sub-object of a loadgen JSON line
# (OBJECT "" = top level).
jfield() {
  local json="$1" object="$2" field="$3" scope
  if [[ -n "$object" ]]; then
    [[ "$json" =~ \"$object\":\{([^}]*)\} ]] || { echo "?"; return; }
    scope="${BASH_REMATCH[1]}"
  else
    scope="$json"
  fi
  local re="\"${field//./\\.}\":(-?[0-9.eE+-]+)"
  [[ "$scope" =~ $re ]] && echo "${BASH_REMATCH[1]}" || echo "?"
}

# fmt NUMBER: two decimals; diff_ms A B: A - B, two decimals.
fmt() { awk -v a="$1" 'BEGIN { printf "%.2f", a }'; }
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.2f", a - b }'; }

run_loadgen() {  # NAME URL RATE BODY [--stream]
  local name="$1" url="$2" rate="$3" body="$4"
  shift 4
  log "$name: gantry-loadgen --rate $rate --duration $DURATION --warmup $WARMUP $*"
  run_child "$loadgen" --url "$url" --rate "$rate" --duration "$DURATION" --warmup "$WARMUP" \
    --connections "$CONNECTIONS" --header "Authorization: Bearer x" --body-json "$body" "$@" \
    > "$tmp/$name.json"
  echo "   $(cat "$tmp/$name.json")" >&2
}

# wrk latency percentiles come as e.g. 812.00us, 1.23ms, 1.05s: convert to ms.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else print "?" }'
}

run_wrk() {  # NAME URL
  local name="$1" url="$2"
  log "$name: wrk -t1 -c32 -d$WRK_DURATION --latency -s bench/post.lua"
  run_child wrk -t1 -c32 -d"$WRK_DURATION" --latency -s bench/post.lua \
    "$url" > "$tmp/$name.wrk"
  sed 's/^/   /' "$tmp/$name.wrk" >&2
}
wrk_field() {  # NAME p50|p99|rps|errors
  local file="$tmp/$1.wrk"
  case "$2" in
    p50) to_ms "$(awk '$1 == "50%" { print $2 }' "$file")" ;;
    p99) to_ms "$(awk '$1 == "99%" { print $2 }' "$file")" ;;
    rps) awk '$1 == "Requests/sec:" { printf "%.0f", $2 }' "$file" ;;
    errors)
      awk '/Non-2xx or 3xx responses:/ { n += $NF }
           /Socket errors:/ { for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i }
           END { print n + 0 }' "$file"
      ;;
  esac
}

# CPU time (ms) that a process has used so far, from /proc/PID/stat (utime + stime).
hz="$(getconf CLK_TCK)"
cpu_ms() { awk -v hz="$hz" '{ print ($14 + $15) * 1000 / hz }' "/proc/$1/stat"; }
mock_requests() {
  local stats
  stats="$(curl -s "http://127.0.0.1:$mock_port/_mock/stats")"
  [[ "$stats" =~ \"requests\":([0-9]+) ]] && echo "${BASH_REMATCH[1]}" || echo 0
}
gantry_pid="${pids[1]}"
mock_pid="${pids[0]}"
cpu_notes=()
measure_cpu() {  # LABEL COMMAND...: runs COMMAND, notes gantry's and the mock's CPU per request
  local label="$1"
  shift
  local g0 m0 r0 g1 m1 r1
  g0="$(cpu_ms "$gantry_pid")" m0="$(cpu_ms "$mock_pid")" r0="$(mock_requests)"
  "$@"
  g1="$(cpu_ms "$gantry_pid")" m1="$(cpu_ms "$mock_pid")" r1="$(mock_requests)"
  cpu_notes+=("$(awk -v l="$label" -v g="$((${g1%.*} - ${g0%.*}))" -v m="$((${m1%.*} - ${m0%.*}))" \
    -v n="$((r1 - r0))" 'BEGIN { if (n < 1) n = 1
      printf "%-14s %7d requests, CPU per request: gantry %4.0f us, mock %4.0f us", l, n,
        g * 1000 / n, m * 1000 / n }')")
}

rows=()
add_row() {  # SCENARIO DP50 DP99 GP50 GP99 RPS ERRORS
  rows+=("| $1 | $(fmt "$2") / $(fmt "$3") | $(fmt "$4") / $(fmt "$5") | $(diff_ms "$4" "$2") / $(diff_ms "$5" "$3") | $6 | $7 |")
}
loadgen_row() {  # SCENARIO DIRECT GANTRY OBJECT
  local d g
  d="$(cat "$tmp/$2.json")"
  g="$(cat "$tmp/$3.json")"
  add_row "$1" "$(jfield "$d" "$4" p50)" "$(jfield "$d" "$4" p99)" \
    "$(jfield "$g" "$4" p50)" "$(jfield "$g" "$4" p99)" \
    "$(fmt "$(jfield "$d" "" achieved_rate)") / $(fmt "$(jfield "$g" "" achieved_rate)")" \
    "$(jfield "$d" "" errors) / $(jfield "$g" "" errors)"
}

# --- the runs ----------------------------------------------------------------
measure_cpu "(a) direct" run_loadgen plain_direct "$direct_url" "$RATE_PLAIN" "$body_plain"
measure_cpu "(a) gantry" run_loadgen plain_gantry "$gantry_url" "$RATE_PLAIN" "$body_plain"
measure_cpu "(b) direct" run_loadgen stream_direct "$direct_url" "$RATE_STREAM" "$body_stream" --stream
measure_cpu "(b) gantry" run_loadgen stream_gantry "$gantry_url" "$RATE_STREAM" "$body_stream" --stream
measure_cpu "(c) direct" run_wrk wrk_direct "$direct_url"
measure_cpu "(c) gantry" run_wrk wrk_gantry "$gantry_url"
log "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
mock_stats="$(curl -s "http://127.0.0.1:$mock_port/_mock/stats")"
log "mock stats: $mock_stats"

loadgen_row "(a) non-streaming, $RATE_PLAIN req/s, latency" plain_direct plain_gantry latency_ms
loadgen_row "(b) streaming 16 tokens, $RATE_STREAM req/s, TTFB" stream_direct stream_gantry ttfb_ms
loadgen_row "(b) streaming 16 tokens, $RATE_STREAM req/s, total" stream_direct stream_gantry latency_ms
add_row "(c) max throughput, wrk -t1 -c32 (closed loop)" \
  "$(wrk_field wrk_direct p50)" "$(wrk_field wrk_direct p99)" \
  "$(wrk_field wrk_gantry p50)" "$(wrk_field wrk_gantry p99)" \
  "$(wrk_field wrk_direct rps) / $(wrk_field wrk_gantry rps)" \
  "$(wrk_field wrk_direct errors) / $(wrk_field wrk_gantry errors)"

echo "| scenario | direct p50 / p99 (ms) | gantry p50 / p99 (ms) | added p50 / p99 (ms) | req/s direct / gantry | errors direct / gantry |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "CPU time (from /proc, warmup included; gantry's column is 0 when it is not in the path):"
printf '    %s\n' "${cpu_notes[@]}"
