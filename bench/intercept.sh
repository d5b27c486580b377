#!/usr/bin/env bash
# Interception benchmark (issue 8), side by side in one run, all on loopback:
#   direct     the client straight to the nginx HTTPS origin;
#   tunnel     through ferry's plain CONNECT tunnel (end-to-end TLS, splice);
#   mitmproxy  through mitmdump intercepting, with a script that sets
#              Authorization like an inject rule (verifies the origin against
#              the test CA; clients trust mitmproxy's CA);
#   intercept  through ferry intercepting: an [[inject]] rule per origin host
#              (header = "Authorization", value = "Bearer x"), its CA from
#              `ferry ca init --ca-dir`, --origin-ca the test CA.
# A leg that cannot start or fails its sanity check (the injected header
# must reach the origin) is reported as n/a; the others still run.
#
#   bash bench/intercept.sh build/release/ferry      (what `make bench-intercept` runs)
#
# Measures, in this order:
#   (d) RSS per idle connection: IDLE_COUNT connections, one GET each, then
#       idle (VmRSS of the proxy's processes before/after, KiB per connection);
#   (a) keep-alive GETs of a ~100 B body over LOAD_CONNS connections,
#       LOAD_ROUNDS interleaved rounds of LOAD_DURATION s: req/s (median),
#       p50/p99, errors, and the proxy's CPU µs per request;
#   (b) new-host: NEWHOST_COUNT sequential connections, each to a new host
#       (127.0.0.2, 127.0.0.3, ...): CONNECT, both handshakes (a certificate
#       mint when intercepting) and the first response, p50/p99.
# Prints a Markdown report and writes it to bench/out/intercept-<timestamp>.md.
#
# Knobs (environment): LOAD_CONNS (50), LOAD_THREADS (1), LOAD_DURATION (10),
# LOAD_WARMUP (2), LOAD_ROUNDS (3), NEWHOST_COUNT (200, at most 253),
# IDLE_COUNT (500), LEGS ("direct tunnel mitmproxy intercept"),
# FERRY_CONNECT_LOAD (path of ferry_connect_load).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
FERRY_CONNECT_BENCH=/bin/true bench_init intercept "$@"
LOAD=${FERRY_CONNECT_LOAD:-$(dirname "$FERRY_BIN")/bench/ferry_connect_load}
[ -x "$LOAD" ] || { echo "not found or not executable: $LOAD (cmake --build build/release --target ferry_connect_load)" >&2; exit 2; }
LOAD_CONNS=${LOAD_CONNS:-50}
LOAD_THREADS=${LOAD_THREADS:-1}
LOAD_DURATION=${LOAD_DURATION:-10}
LOAD_WARMUP=${LOAD_WARMUP:-2}
LOAD_ROUNDS=${LOAD_ROUNDS:-3}
NEWHOST_COUNT=${NEWHOST_COUNT:-200}
IDLE_COUNT=${IDLE_COUNT:-500}
read -r -a LEGS <<<"${LEGS:-direct tunnel mitmproxy intercept}"
if [ "$NEWHOST_COUNT" -lt 1 ] || [ "$NEWHOST_COUNT" -gt 253 ]; then echo "NEWHOST_COUNT must be 1..253" >&2; exit 2; fi
require_cmds "make bench-intercept installs it" nginx openssl curl python3 mitmdump
bench_start
cleanup_first() { { exec 7>&-; } 2>/dev/null || true; }

read -r ORIGIN TUNNEL MITM INTERCEPT <<<"$(free_ports 4)"
HOST=localhost  # a name every proxy resolves without DNS; the new-host legs use IP literals
NEWHOST_IPS=()
for i in $(seq 2 $((NEWHOST_COUNT + 1))); do NEWHOST_IPS+=("127.0.0.$i"); done
declare -A PORT=([tunnel]=$TUNNEL [mitmproxy]=$MITM [intercept]=$INTERCEPT)
declare -A CLIENT_CA=()  # leg -> the CA file its clients trust
declare -A NA=()         # leg -> why it is n/a
declare -A NOTE=()       # leg -> what else went wrong (reported under the tables)

# --- the test CA and the origin --------------------------------------------------
mkdir -p "$DIR/pki"
{
  echo "subjectAltName = @alt"
  echo "basicConstraints = CA:FALSE"
  echo "extendedKeyUsage = serverAuth"
  echo "[alt]"
  echo "DNS.1 = $HOST"
  echo "IP.1 = 127.0.0.1"
  echo "IP.2 = ::1"
  n=3
  for ip in "${NEWHOST_IPS[@]}"; do echo "IP.$n = $ip"; n=$((n + 1)); done
} >"$DIR/pki/origin.ext"
(
  cd "$DIR/pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 \
    -subj "/CN=ferry bench test CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout origin.key -out origin.csr -subj "/CN=$HOST" 2>/dev/null
  openssl x509 -req -in origin.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out origin.pem \
    -extfile origin.ext 2>/dev/null
)
TEST_CA=$DIR/pki/ca.pem
CLIENT_CA[direct]=$TEST_CA
CLIENT_CA[tunnel]=$TEST_CA

write_origin small  # DIR/www/small; the plain-HTTP nginx.conf it writes is replaced below
{
  echo "daemon off;"
  echo "worker_processes 1;"
  echo "pid $DIR/nginx/nginx.pid;"
  echo "error_log $DIR/nginx/error.log warn;"
  echo "events { worker_connections 16384; }"
  echo "http {"
  echo "  access_log off;"
  for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $DIR/nginx/$t;"; done
  echo "  keepalive_requests 10000000;"
  echo "  keepalive_timeout 300s;"
  echo "  default_type application/octet-stream;"
  echo "  server {"
  echo "    listen 127.0.0.1:$ORIGIN ssl;"
  if ip -6 addr show lo 2>/dev/null | grep -q '::1/128'; then echo "    listen [::1]:$ORIGIN ssl;"; fi
  for ip in "${NEWHOST_IPS[@]}"; do echo "    listen $ip:$ORIGIN ssl;"; done
  echo "    ssl_certificate $DIR/pki/origin.pem;"
  echo "    ssl_certificate_key $DIR/pki/origin.key;"
  echo "    root $DIR/www;"
  # The sanity check: what Authorization reached the origin.
  echo "    location = /authorization { return 200 \"[\$http_authorization]\"; }"
  echo "  }"
  echo "}"
} >"$DIR/nginx/nginx.conf"
start_origin

# Like lib.sh's start, but a server that does not come up makes its leg n/a
# instead of ending the run.
start_leg() {  # LEG CMD...
  local leg=$1 port=${PORT[$1]} pid
  shift
  "$@" >"$DIR/$leg.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  R[pid.$leg]=$pid
  for _ in $(seq 200); do
    if ! kill -0 "$pid" 2>/dev/null; then
      NA[$leg]="did not start: $(tail -n 3 "$DIR/$leg.log" | tr '\n' ' ')"
      log "$leg: ${NA[$leg]}"
      return 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      log "$leg up: pid $pid, port $port"
      return 0
    fi
    sleep 0.1
  done
  NA[$leg]="did not listen on $port within 20 s"
  log "$leg: ${NA[$leg]}"
  return 1
}
want_leg() { [[ " ${LEGS[*]} " == *" $1 "* ]]; }
up() { want_leg "$1" && [ -z "${NA[$1]:-}" ]; }

# --- the proxies ---------------------------------------------------------------------
if want_leg tunnel; then
  start_leg tunnel "$FERRY_BIN" serve --listen "127.0.0.1:$TUNNEL" --connect-ports "$ORIGIN" --log-level warn || true
fi

if want_leg mitmproxy; then
  mkdir -p "$DIR/mitm"
  cat >"$DIR/mitm/inject.py" <<'EOF'
# Sets the header an inject rule would (the bench origin is the only host).
def request(flow):
    flow.request.headers["Authorization"] = "Bearer x"
EOF
  start_leg mitmproxy mitmdump --quiet --listen-host 127.0.0.1 --listen-port "$MITM" \
    --set confdir="$DIR/mitm" --set ssl_verify_upstream_trusted_ca="$TEST_CA" \
    --set termlog_verbosity=error -s "$DIR/mitm/inject.py" || true
  CLIENT_CA[mitmproxy]=$DIR/mitm/mitmproxy-ca-cert.pem
fi

if want_leg intercept; then
  {
    for h in "$HOST" "${NEWHOST_IPS[@]}"; do
      printf '[[inject]]\nhost = "%s"\nport = %s\nheader = "Authorization"\nvalue = "Bearer x"\n\n' "$h" "$ORIGIN"
    done
  } >"$DIR/intercept.toml"
  if "$FERRY_BIN" ca init --ca-dir "$DIR/ferry-ca" >"$DIR/ca-init.log" 2>&1 &&
    "$FERRY_BIN" ca export --ca-dir "$DIR/ferry-ca" >"$DIR/ferry-ca.pem" 2>>"$DIR/ca-init.log" &&
    [ -s "$DIR/ferry-ca.pem" ]; then
    CLIENT_CA[intercept]=$DIR/ferry-ca.pem
    start_leg intercept "$FERRY_BIN" serve --listen "127.0.0.1:$INTERCEPT" --connect-ports "$ORIGIN" \
      --config "$DIR/intercept.toml" --ca-dir "$DIR/ferry-ca" --origin-ca "$TEST_CA" --log-level warn || true
  else
    NA[intercept]="ferry ca init/export failed: $(head -n 2 "$DIR/ca-init.log" | tr '\n' ' ')"
    log "intercept: ${NA[intercept]}"
  fi
fi

# --- sanity: every leg reaches the origin, and the injecting ones inject ------------
curl_leg() {  # LEG PATH [HOST]: the body, through the leg's proxy, trusting the leg's CA
  local leg=$1 path=$2 host=${3:-$HOST} proxy=()
  [ "$leg" = direct ] || proxy=(--proxy "http://127.0.0.1:${PORT[$leg]}" --proxytunnel)
  curl -sS --fail --max-time 10 --noproxy '' "${proxy[@]}" --cacert "${CLIENT_CA[$leg]}" \
    "https://$host:$ORIGIN$path"
}
for leg in "${LEGS[@]}"; do
  up "$leg" || continue
  want="[]"
  case $leg in mitmproxy | intercept) want="[Bearer x]" ;; esac
  got=$(curl_leg "$leg" /authorization 2>"$DIR/sanity-$leg.err" || true)
  got_ip=$(curl_leg "$leg" /authorization "${NEWHOST_IPS[0]}" 2>>"$DIR/sanity-$leg.err" || true)
  if [ "$got" != "$want" ]; then
    NA[$leg]="sanity check failed: Authorization at the origin '$got', want '$want'; $(head -c 300 "$DIR/sanity-$leg.err" | tr '\n' ' ')"
    log "$leg: ${NA[$leg]}"
  elif [ "$got_ip" != "$want" ]; then  # only the new-host leg uses IP literals
    NOTE[$leg]="to ${NEWHOST_IPS[0]}: Authorization at the origin '$got_ip', want '$want'; $(head -c 300 "$DIR/sanity-$leg.err" | tr '\n' ' ')"
    log "$leg: ${NOTE[$leg]}"
  fi
done
log "legs up: $(for l in "${LEGS[@]}"; do up "$l" && printf '%s ' "$l"; done)"

load_args() {  # LEG: the client's proxy arguments
  if [ "$1" = direct ]; then echo "--direct"; else echo "--proxy 127.0.0.1:${PORT[$1]}"; fi
}
pid_args() { [ "$1" = direct ] || echo "--pid ${R[pid.$1]}"; }

# --- (d) RSS per idle connection ---------------------------------------------------
measure_idle() {  # LEG
  local leg=$1 pid=${R[pid.$1]} fifo before after ipid
  # Warm allocator and pools alike for every proxy.
  # shellcheck disable=SC2046
  timeout 120 "$LOAD" load $(load_args "$leg") --host "$HOST" --port "$ORIGIN" --ca "${CLIENT_CA[$leg]}" \
    --conns 20 --duration 1 --warmup 0 >/dev/null 2>&1 || true
  sleep 1
  before=$(tree_rss_kib "$pid")
  fifo="$DIR/idle-$leg.fifo"
  mkfifo "$fifo"
  # shellcheck disable=SC2046
  timeout 600 "$LOAD" idle $(load_args "$leg") --host "$HOST" --port "$ORIGIN" --ca "${CLIENT_CA[$leg]}" \
    --count "$IDLE_COUNT" <"$fifo" >"$DIR/idle-$leg.out" 2>"$DIR/idle-$leg.err" &
  ipid=$!
  exec 7>"$fifo"
  wait_ready "$DIR/idle-$leg.out" "$ipid" 300 || true
  sleep 2  # let the proxy finish its bookkeeping
  after=$(tree_rss_kib "$pid")
  exec 7>&-  # EOF: one more GET on each connection, then they close
  wait "$ipid" || true
  idle_record "$leg" "$before" "$after" "$DIR/idle-$leg.out"
  log "idle $leg: before $before KiB, after $after KiB, $(tr '\n' ' ' <"$DIR/idle-$leg.out") $(tail -n 3 "$DIR/idle-$leg.err" | tr '\n' ' ')"
  sleep 2
}
for leg in tunnel mitmproxy intercept; do up "$leg" && measure_idle "$leg"; done

# --- (a) keep-alive GETs, interleaved rounds -------------------------------------------
for round in $(seq "$LOAD_ROUNDS"); do
  for leg in "${LEGS[@]}"; do
    up "$leg" || continue
    # shellcheck disable=SC2046
    line=$("$LOAD" load $(load_args "$leg") $(pid_args "$leg") --host "$HOST" --port "$ORIGIN" \
      --ca "${CLIENT_CA[$leg]}" --conns "$LOAD_CONNS" --threads "$LOAD_THREADS" --duration "$LOAD_DURATION" \
      --warmup "$LOAD_WARMUP" 2>>"$DIR/load-$leg.err" || true)
    log "load $leg round $round: $line"
    R[rps.$leg]="${R[rps.$leg]:-} $(field rps "$line")"
    R[p50.$leg]="${R[p50.$leg]:-} $(field p50_ms "$line")"
    R[p99.$leg]="${R[p99.$leg]:-} $(field p99_ms "$line")"
    R[cpu.$leg]="${R[cpu.$leg]:-} $(field cpu_us_per_req "$line")"
    R[errors.$leg]=$((${R[errors.$leg]:-0} + $(num_or "$(field errors "$line")" 1)))
  done
done

# --- (b) new-host handshakes ------------------------------------------------------------
for leg in "${LEGS[@]}"; do
  up "$leg" || continue
  # shellcheck disable=SC2046
  line=$("$LOAD" new-host $(load_args "$leg") --port "$ORIGIN" --ca "${CLIENT_CA[$leg]}" \
    --count "$NEWHOST_COUNT" 2>>"$DIR/newhost-$leg.err" || true)
  log "new-host $leg: $line"
  for k in tunnel_p50_ms handshake_p50_ms handshake_p99_ms first_response_p50_ms first_response_p99_ms errors count; do
    R[nh.$k.$leg]=$(field "$k" "$line")
  done
done

# --- report -------------------------------------------------------------------------------
label() {
  case $1 in
    direct) echo "direct (no proxy)" ;;
    tunnel) echo "ferry CONNECT tunnel" ;;
    mitmproxy) echo "mitmproxy $(mitmdump --version 2>/dev/null | sed -n 's/^Mitmproxy: //p' | head -n1)" ;;
    intercept) echo "ferry intercepting" ;;
  esac
}
or_na() { if [ -n "${1:-}" ]; then echo "$1"; else echo "n/a"; fi; }
RPS_INTERCEPT=$(up intercept && median 0 ${R[rps.intercept]:-} || true)
RPS_MITM=$(up mitmproxy && median 0 ${R[rps.mitmproxy]:-} || true)
RPS_TUNNEL=$(up tunnel && median 0 ${R[rps.tunnel]:-} || true)
VS_MITM=$(ratio "$RPS_INTERCEPT" "$RPS_MITM")
VS_TUNNEL=$(ratio "$RPS_INTERCEPT" "$RPS_TUNNEL")
NH_P99=$(up intercept && or_na "${R[nh.first_response_p99_ms.intercept]:-}" || echo n/a)
IDLE_PER=$(up intercept && or_na "${R[idle.per.intercept]:-}" || echo n/a)
mkdir -p "$BENCH_DIR/out"
OUT="$BENCH_DIR/out/intercept-$(date +%Y%m%d-%H%M%S).md"
{
  echo "# ferry interception benchmark ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "$(machine_line) nginx $(nginx_version) HTTPS origin (1 worker, ECDSA P-256 certificate, TLS 1.3), client ferry_connect_load ($LOAD_THREADS thread)."
  echo
  echo "## (a) keep-alive HTTPS GETs, ~100 B body, $LOAD_CONNS connections, median of $LOAD_ROUNDS × ${LOAD_DURATION} s"
  echo
  echo "| leg | req/s (median) | req/s (range) | p50 ms | p99 ms | errors | proxy CPU µs/req |"
  echo "|---|---|---|---|---|---|---|"
  for leg in "${LEGS[@]}"; do
    if up "$leg"; then
      # shellcheck disable=SC2086
      echo "| $(label "$leg") | $(median 0 ${R[rps.$leg]}) | $(range ${R[rps.$leg]}) | $(median 3 ${R[p50.$leg]}) |" \
        "$(median 3 ${R[p99.$leg]}) | ${R[errors.$leg]} | $([ "$leg" = direct ] && echo – || median 1 ${R[cpu.$leg]}) |"
    else
      echo "| $(label "$leg") | n/a | | | | | |"
    fi
  done
  echo
  echo "## (b) new host per connection, $NEWHOST_COUNT sequential connections (127.0.0.2 …): ms from TCP connect"
  echo
  echo "CONNECT answered includes an intercepting proxy's certificate mint (ferry answers after it)."
  echo
  echo "| leg | CONNECT answered p50 | handshake done p50 | p99 | first response p50 | p99 | errors |"
  echo "|---|---|---|---|---|---|---|"
  for leg in "${LEGS[@]}"; do
    if up "$leg"; then
      echo "| $(label "$leg") | $([ "$leg" = direct ] && echo – || or_na "${R[nh.tunnel_p50_ms.$leg]:-}") |" \
        "$(or_na "${R[nh.handshake_p50_ms.$leg]:-}") | $(or_na "${R[nh.handshake_p99_ms.$leg]:-}") |" \
        "$(or_na "${R[nh.first_response_p50_ms.$leg]:-}") | $(or_na "${R[nh.first_response_p99_ms.$leg]:-}") | $(or_na "${R[nh.errors.$leg]:-}") |"
    else
      echo "| $(label "$leg") | n/a | | | | | |"
    fi
  done
  echo
  echo "## (d) RSS per idle connection, $IDLE_COUNT connections after one GET each (VmRSS of the proxy, KiB)"
  echo
  echo "| leg | before | after | per connection | opened | alive at the end |"
  echo "|---|---|---|---|---|---|"
  for leg in tunnel mitmproxy intercept; do
    want_leg "$leg" || continue
    if up "$leg"; then
      echo "| $(label "$leg") | ${R[idle.before.$leg]:-} | ${R[idle.after.$leg]:-} | ${R[idle.per.$leg]:-n/a} |" \
        "${R[idle.opened.$leg]:-} | ${R[idle.alive.$leg]:-} |"
    else
      echo "| $(label "$leg") | n/a | | | | |"
    fi
  done
  echo
  echo "## Targets (issue 8)"
  echo
  echo "| target | measured | goal | verdict |"
  echo "|---|---|---|---|"
  echo "| intercepting req/s vs mitmproxy | ${VS_MITM}× | ≥ 10× | $(verdict "$VS_MITM" '>=' 10) |"
  echo "| intercepting req/s vs plain tunnel | ${VS_TUNNEL}× | ≥ 0.5× | $(verdict "$VS_TUNNEL" '>=' 0.5) |"
  echo "| new-host p99 (CONNECT, mint, both handshakes, first response) | $NH_P99 ms | ≤ 3 ms | $(verdict "$NH_P99" '<=' 3) |"
  echo "| RSS per idle intercepted connection | $IDLE_PER KiB | ≤ 64 KiB | $(verdict "$IDLE_PER" '<=' 64) |"
  for leg in "${LEGS[@]}"; do
    if [ -n "${NA[$leg]:-}" ]; then echo; echo "n/a $leg: ${NA[$leg]}"; fi
    if [ -n "${NOTE[$leg]:-}" ]; then echo; echo "note $leg: ${NOTE[$leg]}"; fi
  done
} | tee "$OUT"
log "report written to $OUT"
