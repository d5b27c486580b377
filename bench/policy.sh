#!/usr/bin/env bash
# Issue 9 item 8, side by side in one run: ferry with no policy and no
# tokens vs ferry requiring a client token (Bearer) with a strict policy of
# 10,000 patterns (the origin's address among them, checked last in no
# particular order):
#   (a) small keep-alive GETs (~100 B, absolute-form, wrk -t1 -c50),
#       interleaved rounds, median req/s and ferry's CPU µs per request;
#   (b) CONNECT setup (ferry_connect_bench setup, first-byte p50/p99);
#   (c) run creation through the admin listener's control API (POST /v1/runs
#       on a unix socket, one keep-alive client), runs per second.
#
#   bash bench/policy.sh build/release/ferry
#
# Knobs: POLICY_ROUNDS (3), WRK_DURATION (10s), SETUP_COUNT (500), RUNS_COUNT (3000).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
bench_init policy "$@"
ROUNDS=${POLICY_ROUNDS:-3}
SETUP_COUNT=${SETUP_COUNT:-500}
RUNS_COUNT=${RUNS_COUNT:-3000}
require_cmds "make bench installs it" wrk nginx curl python3
bench_start

read -r ORIGIN ECHO PLAIN GUARDED <<<"$(free_ports 4)"
write_origin small
start_origin
start echo "$ECHO" "$TOOL" serve-echo "$ECHO"

TOKEN=bench-token-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$TOKEN" >"$DIR/tokens"
chmod 600 "$DIR/tokens"
python3 - "$DIR/policy.toml" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write('[policy]\nmode = "strict"\nallow = [\n')
    for i in range(9998):
        f.write(f'  "host{i}.example{i % 97}.com",\n' if i % 2 else f'  "*.zone{i}.example.net:443",\n')
    f.write('  "10.{0}.0.0/16",\n'.format(1))
    f.write('  "127.0.0.1",\n]\n')
EOF
ADMIN_SOCK="$DIR/admin.sock"
start plain "$PLAIN" "$FERRY_BIN" serve --listen "127.0.0.1:$PLAIN" --connect-ports "$ECHO" --log-level warn
start guarded "$GUARDED" "$FERRY_BIN" serve --listen "127.0.0.1:$GUARDED" --connect-ports "$ECHO" \
  --config "$DIR/policy.toml" --client-tokens "$DIR/tokens" --admin "$ADMIN_SOCK" --log-level warn

# Sanity: the token is needed and the policy is in force.
code=$(curl -s -o /dev/null -w '%{http_code}' --noproxy '' -x "http://127.0.0.1:$GUARDED" "http://127.0.0.1:$ORIGIN/small")
[ "$code" = 407 ] || die "guarded ferry answered $code without a token (want 407)"
code=$(curl -s -o /dev/null -w '%{http_code}' --noproxy '' -x "http://run:$TOKEN@127.0.0.1:$GUARDED" \
  "http://127.0.0.1:$ORIGIN/small")
[ "$code" = 200 ] || die "guarded ferry answered $code with the token (want 200)"
code=$(curl -s -o /dev/null -w '%{http_code}' --noproxy '' -x "http://run:$TOKEN@127.0.0.1:$GUARDED" \
  "http://localhost:$ORIGIN/small")
[ "$code" = 403 ] || die "guarded ferry answered $code for a host outside the policy (want 403)"

printf 'wrk.method = "GET"\nwrk.path = "http://127.0.0.1:%s/small"\nwrk.headers["Host"] = "127.0.0.1:%s"\n' \
  "$ORIGIN" "$ORIGIN" >"$DIR/plain.lua"
cp "$DIR/plain.lua" "$DIR/guarded.lua"
printf 'wrk.headers["Proxy-Authorization"] = "Bearer %s"\n' "$TOKEN" >>"$DIR/guarded.lua"

# --- (a) wrk GETs ---------------------------------------------------------------------
declare -A PORT=([plain]=$PLAIN [guarded]=$GUARDED)
for row in plain guarded; do
  timeout 60 wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WRK_WARMUP" -s "$DIR/$row.lua" "http://127.0.0.1:${PORT[$row]}/" \
    >/dev/null 2>&1 || true
done
for round in $(seq "$ROUNDS"); do
  for row in plain guarded; do
    out="$DIR/wrk-$row-$round.txt"
    c1=$(tree_cpu_ticks "${R[pid.$row]}")
    timeout 120 wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WRK_DURATION" --latency -s "$DIR/$row.lua" \
      "http://127.0.0.1:${PORT[$row]}/" >"$out" 2>&1 || true
    c2=$(tree_cpu_ticks "${R[pid.$row]}")
    wrk_parse "$out"
    [ -z "${W[non2xx]}" ] || die "$row: ${W[non2xx]} non-2xx responses"
    R[rps.$row]="${R[rps.$row]:-} ${W[rps]}"
    R[p99.$row]="${R[p99.$row]:-} ${W[p99]}"
    R[us.$row]="${R[us.$row]:-} $(per_req_us $((c2 - c1)) "${W[n]}")"
    log "round $round $row: ${W[rps]} req/s, p99 ${W[p99]} ms, $(per_req_us $((c2 - c1)) "${W[n]}") µs CPU/req"
  done
done

# --- (b) CONNECT setup ----------------------------------------------------------------
for round in $(seq "$ROUNDS"); do
  for row in plain guarded; do
    auth=()
    [ "$row" = guarded ] && auth=(--proxy-auth "Bearer $TOKEN")
    timeout 120 "$TOOL" setup --proxy "127.0.0.1:${PORT[$row]}" --target "127.0.0.1:$ECHO" \
      --count $((SETUP_COUNT / ROUNDS)) --warmup 5 --max-seconds 60 --dump "$DIR/setup-$row.samples" "${auth[@]}" \
      >>"$DIR/setup-$row.out" 2>&1 || true
  done
done
for row in plain guarded; do
  R[setup.$row]=$(python3 "$BENCH_DIR/tools/latency_stats.py" "$DIR/setup-$row.samples")
  log "setup $row: ${R[setup.$row]}"
done

# --- (c) run creation -------------------------------------------------------------------
R[runs]=$(python3 - "$ADMIN_SOCK" "$RUNS_COUNT" <<'EOF'
import http.client, json, socket, sys, time
class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)
c = UnixConnection(sys.argv[1])
n = int(sys.argv[2])
body = json.dumps({"policy": {"mode": "strict", "allow": ["127.0.0.1"]}, "ttl": "10m"})
errors = 0
start = time.monotonic()
for i in range(n):
    c.request("POST", "/v1/runs", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    errors += r.status != 201
elapsed = time.monotonic() - start
print(f"runs={n} seconds={elapsed:.3f} runs_per_s={n / elapsed:.0f} errors={errors}")
EOF
)
log "runs: ${R[runs]}"

# --- report -------------------------------------------------------------------------------
RPS_PLAIN=$(median 0 ${R[rps.plain]})
RPS_GUARDED=$(median 0 ${R[rps.guarded]})
RUNS_PER_S=$(field runs_per_s "${R[runs]}")
{
  echo "# ferry policy and tokens benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
  echo
  echo "$(machine_line); wrk $(wrk_version) -t$WRK_THREADS -c$WRK_CONNS -d$WRK_DURATION, $ROUNDS interleaved rounds"
  echo
  echo "| ferry | req/s (median) | range | p99 ms (median) | CPU µs/req (median) | CONNECT first byte p50 / p99 µs |"
  echo "|---|---:|---|---:|---:|---:|"
  for row in plain guarded; do
    label=$([ "$row" = plain ] && echo "no policy, no tokens" || echo "token + strict policy, 10,000 patterns")
    echo "| $label | $(median 0 ${R[rps.$row]}) | $(range ${R[rps.$row]}) | $(median 2 ${R[p99.$row]}) |" \
      "$(median 1 ${R[us.$row]}) | $(field firstbyte_p50_us "${R[setup.$row]}") / $(field firstbyte_p99_us "${R[setup.$row]}") |"
  done
  echo
  echo "| target | measured | goal | verdict |"
  echo "|---|---:|---:|---|"
  echo "| GETs with token + policy vs none | $(ratio "$RPS_GUARDED" "$RPS_PLAIN")× | ≥ 0.95× | $(verdict "$(ratio "$RPS_GUARDED" "$RPS_PLAIN")" ">=" 0.95) |"
  echo "| run creation | ${RUNS_PER_S:-n/a}/s (${R[runs]}) | ≥ 1,000/s | $(verdict "${RUNS_PER_S:-0}" ">=" 1000) |"
} >"$DIR/report.md"
mkdir -p "$BENCH_DIR/out"
report="$BENCH_DIR/out/policy-$(date +%Y%m%d-%H%M%S).md"
cp "$DIR/report.md" "$report"
cat "$DIR/report.md"
log "report written to $report"
