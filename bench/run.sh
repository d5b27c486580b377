#!/usr/bin/env bash
# ferry benchmark: ferry vs tinyproxy vs squid (no cache, no auth) vs direct,
# all on loopback, in one run.
#
#   bash bench/run.sh build/release/ferry        (what `make bench` runs)
#   (then runs bench/chain.sh, the upstream chain section; BENCH_CHAIN=0 skips it)
#
# Measures, in this order (idle RSS first, while every proxy is fresh):
#   (d) RSS per idle tunnel with 2,000 idle tunnels (VmRSS before/after);
#   (c) CONNECT setup latency over 1,000 tunnels (10 interleaved rounds of 100);
#   (b) CONNECT throughput with 1 and 8 tunnels, 2 GiB per run, 3 interleaved
#       rounds, median reported (ferry twice: --relay splice and --relay copy);
#   (a) keep-alive GETs with wrk, absolute-form through each proxy, ~100 B
#       and 64 KiB bodies: req/s, p50, p99.
# Prints a Markdown report and writes it to bench/out/results-<timestamp>.md.
#
# Knobs (environment): WRK_THREADS (1), WRK_CONNS (50), WRK_DURATION (10s),
# WRK_WARMUP (2s), TP_BYTES (2 GiB per run), TP_MAX_SECONDS (20 per run),
# TP_ROUNDS (3), SETUP_COUNT (1000), SETUP_ROUNDS (10), IDLE_COUNT (2000),
# FERRY_CONNECT_BENCH (path of ferry_connect_bench).
#
# Every server runs from a private temp dir on free 127.0.0.1 ports and is
# stopped by pid on exit. Client, proxy and origin share this machine's
# cores, so the figures compare the proxies under the same handicap; the
# proxies' CPU time per request / per GB is reported as well, since it does
# not depend on who won the cores.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 FERRY_BIN" >&2
  exit 2
fi
FERRY_BIN=$(realpath "$1")
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOOL=${FERRY_CONNECT_BENCH:-$(dirname "$FERRY_BIN")/bench/ferry_connect_bench}
WRK_THREADS=${WRK_THREADS:-1}
WRK_CONNS=${WRK_CONNS:-50}
WRK_DURATION=${WRK_DURATION:-10s}
WRK_WARMUP=${WRK_WARMUP:-2s}
TP_BYTES=${TP_BYTES:-$((2 * 1024 * 1024 * 1024))}
TP_MAX_SECONDS=${TP_MAX_SECONDS:-20}
TP_ROUNDS=${TP_ROUNDS:-3}
SETUP_COUNT=${SETUP_COUNT:-1000}
SETUP_ROUNDS=${SETUP_ROUNDS:-10}
IDLE_COUNT=${IDLE_COUNT:-2000}

for bin in "$FERRY_BIN" "$TOOL"; do
  [ -x "$bin" ] || { echo "not found or not executable: $bin (build with: make build)" >&2; exit 2; }
done
for cmd in wrk nginx tinyproxy squid curl python3; do
  command -v "$cmd" >/dev/null || { echo "missing $cmd (make bench installs it)" >&2; exit 2; }
done

# 2,000 idle tunnels need ~4,000 fds in the proxy and 2,000 in each client.
ulimit -n "$(ulimit -Hn)"

DIR=$(mktemp -d /tmp/ferry-bench.XXXXXX)
chmod 755 "$DIR"  # nginx workers and squid run as other users
declare -a PIDS=()
declare -A R=()  # results, key -> value

cleanup() {
  local rc=$?
  exec 7>&- 2>/dev/null || true
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "$rc" -eq 0 ]; then
    rm -rf "$DIR"
  else
    echo "run failed (exit $rc); logs kept in $DIR" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }

free_ports() {  # N distinct free loopback ports
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

wait_port() {  # PORT NAME PID: up to 20 s
  local port=$1 name=$2 pid=$3
  for _ in $(seq 200); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited during start-up; its log:" >&2
      tail -n 20 "$DIR/$name.log" >&2 || true
      exit 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$name did not listen on $port within 20 s" >&2
  tail -n 20 "$DIR/$name.log" >&2 || true
  exit 1
}

start() {  # NAME PORT CMD...: runs CMD in the background, logs to DIR/NAME.log
  local name=$1 port=$2
  shift 2
  "$@" >"$DIR/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  R[pid.$name]=$pid
  wait_port "$port" "$name" "$pid"
  log "$name up: pid $pid, port $port"
}

read -r ORIGIN SINK ECHO FERRY FERRY_COPY TINY SQUID <<<"$(free_ports 7)"

# --- servers -------------------------------------------------------------------
mkdir -p "$DIR/www" "$DIR/nginx" "$DIR/tinyproxy" "$DIR/squid"
python3 -c 'import sys; sys.stdout.write("x" * 99 + "\n")' >"$DIR/www/small"
head -c 65536 /dev/zero | tr '\0' 'y' >"$DIR/www/big"
chmod -R a+rX "$DIR/www"

cat >"$DIR/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $DIR/nginx/client_body;
  proxy_temp_path $DIR/nginx/proxy;
  fastcgi_temp_path $DIR/nginx/fastcgi;
  uwsgi_temp_path $DIR/nginx/uwsgi;
  scgi_temp_path $DIR/nginx/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$ORIGIN;
    root $DIR/www;
    location = /nginx_status { stub_status; }
  }
}
EOF

cat >"$DIR/tinyproxy/tinyproxy.conf" <<EOF
User nobody
Group nogroup
Port $TINY
Listen 127.0.0.1
Timeout 600
MaxClients 8192
LogFile "$DIR/tinyproxy/tinyproxy.log"
LogLevel Critical
PidFile "$DIR/tinyproxy/tinyproxy.pid"
Allow 127.0.0.1
ConnectPort $SINK
ConnectPort $ECHO
EOF
chown -R nobody:nogroup "$DIR/tinyproxy"

cat >"$DIR/squid/squid.conf" <<EOF
http_port 127.0.0.1:$SQUID
pid_filename $DIR/squid/squid.pid
cache_log $DIR/squid/cache.log
access_log none
cache_store_log none
coredump_dir $DIR/squid
cache deny all
pinger_enable off
icp_port 0
htcp_port 0
netdb_filename none
shutdown_lifetime 1 seconds
max_filedescriptors 16384
acl bench_ports port $SINK $ECHO
http_access allow CONNECT bench_ports
http_access deny CONNECT
http_access allow all
EOF
chown -R proxy:proxy "$DIR/squid"

start sink "$SINK" "$TOOL" serve-sink "$SINK"
start echo "$ECHO" "$TOOL" serve-echo "$ECHO"
start nginx "$ORIGIN" nginx -p "$DIR/nginx" -e "$DIR/nginx/error.log" -c "$DIR/nginx/nginx.conf"
FERRY_ARGS=(serve --connect-ports '*' --log-level warn)
start ferry "$FERRY" "$FERRY_BIN" "${FERRY_ARGS[@]}" --listen "127.0.0.1:$FERRY" --relay splice
start ferry-copy "$FERRY_COPY" "$FERRY_BIN" "${FERRY_ARGS[@]}" --listen "127.0.0.1:$FERRY_COPY" --relay copy
start tinyproxy "$TINY" tinyproxy -d -c "$DIR/tinyproxy/tinyproxy.conf"
start squid "$SQUID" squid -N -f "$DIR/squid/squid.conf"  # -N: one process, no fork

declare -A PORT=([ferry]=$FERRY [ferry-copy]=$FERRY_COPY [tinyproxy]=$TINY [squid]=$SQUID)
PROXIES=(ferry ferry-copy tinyproxy squid)

# Every proxy must fetch from the origin and tunnel to the echo server before
# anything is measured.
for p in "${PROXIES[@]}"; do
  body=$(curl -sS --max-time 5 -x "http://127.0.0.1:${PORT[$p]}" "http://127.0.0.1:$ORIGIN/small") ||
    { echo "$p: GET through the proxy failed" >&2; exit 1; }
  [ "${#body}" -eq 99 ] || { echo "$p: unexpected body from the origin" >&2; exit 1; }
  timeout 20 "$TOOL" setup --proxy "127.0.0.1:${PORT[$p]}" --target "127.0.0.1:$ECHO" --count 5 --warmup 0 >/dev/null ||
    { echo "$p: CONNECT to the echo server failed" >&2; exit 1; }
done
log "sanity checks passed"

proxy_arg() { [ "$1" = direct ] && echo none || echo "127.0.0.1:${PORT[$1]}"; }
field() { { grep -o "\b$1=[^ ]*" <<<"$2" || true; } | head -n1 | cut -d= -f2; }  # KEY LINE
num_or() { [[ "$1" =~ ^[0-9]+$ ]] && echo "$1" || echo "$2"; }  # VALUE DEFAULT

# A process and all its descendants.
tree_pids() {
  ps -e -o pid=,ppid= | awk -v r="$1" '{ par[$1] = $2 } END {
    want[r] = 1; print r
    do { changed = 0
      for (p in par) if (!(p in want) && (par[p] in want)) { want[p] = 1; print p; changed = 1 }
    } while (changed) }'
}
# Sum of VmRSS (KiB) of a process and all its descendants (threads share it).
tree_rss_kib() {
  local sum=0 p rss
  for p in $(tree_pids "$1"); do
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
    sum=$((sum + ${rss:-0}))
  done
  echo "$sum"
}
# utime + stime (clock ticks) of a process and its descendants, threads included.
tree_cpu_ticks() {
  local sum=0 p t
  for p in $(tree_pids "$1"); do
    t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }' || true)
    sum=$((sum + ${t:-0}))
  done
  echo "$sum"
}
HZ=$(getconf CLK_TCK)
threads_of() { awk '/^Threads:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo "?"; }

# --- (d) RSS per idle tunnel ------------------------------------------------------------
measure_idle() {  # NAME
  local name=$1 pid=${R[pid.$1]} arg fifo ipid before after line
  arg=$(proxy_arg "$name")
  # Warm up allocator and pools the same way for every proxy.
  timeout 60 "$TOOL" setup --proxy "$arg" --target "127.0.0.1:$ECHO" --count 100 --warmup 0 >/dev/null || true
  sleep 1
  before=$(tree_rss_kib "$pid")
  fifo="$DIR/idle-$name.fifo"
  mkfifo "$fifo"
  # Each tunnel does one 4-byte echo round trip, then stays idle until the
  # client's stdin (the fifo) reaches EOF.
  timeout 300 "$TOOL" idle --proxy "$arg" --target "127.0.0.1:$ECHO" --count "$IDLE_COUNT" --hold-seconds 240 \
    <"$fifo" >"$DIR/idle-$name.out" 2>&1 &
  ipid=$!
  exec 7>"$fifo"
  for _ in $(seq 1200); do  # up to 120 s
    grep -q '^READY' "$DIR/idle-$name.out" && break
    kill -0 "$ipid" 2>/dev/null || break
    sleep 0.1
  done
  sleep 2  # let the proxy finish its bookkeeping
  after=$(tree_rss_kib "$pid")
  R[idle.threads.$name]=$(threads_of "$pid")
  exec 7>&-  # EOF: the client checks every tunnel with one more echo, then closes them
  wait "$ipid" || true
  line=$(grep '^READY' "$DIR/idle-$name.out" || echo "READY opened=0 failed=$IDLE_COUNT")
  R[idle.before.$name]=$before
  R[idle.after.$name]=$after
  R[idle.opened.$name]=$(field opened "$line")
  R[idle.alive.$name]=$(field alive "$(grep '^DONE' "$DIR/idle-$name.out" || true)")
  R[idle.per.$name]=$(awk -v a="$after" -v b="$before" -v n="$IDLE_COUNT" 'BEGIN { printf "%.1f", (a - b) / n }')
  log "idle $name: before ${before} KiB, after ${after} KiB; $(tr '\n' ' ' <"$DIR/idle-$name.out")"
  sleep 2  # closed tunnels drain before the next measurement
}
for p in "${PROXIES[@]}"; do measure_idle "$p"; done

# --- (c) CONNECT setup latency ----------------------------------------------------------
# Interleaved rounds, so that a burst of load from elsewhere on the machine
# hits every target alike; the samples of all rounds are pooled.
SETUP_PER_ROUND=$(((SETUP_COUNT + SETUP_ROUNDS - 1) / SETUP_ROUNDS))
for round in $(seq "$SETUP_ROUNDS"); do
  for p in ferry tinyproxy squid direct; do
    timeout 120 "$TOOL" setup --proxy "$(proxy_arg "$p")" --target "127.0.0.1:$ECHO" --count "$SETUP_PER_ROUND" \
      --warmup 5 --max-seconds 60 --dump "$DIR/setup-$p.samples" >>"$DIR/setup-$p.out" 2>&1 || true
  done
done
for p in ferry tinyproxy squid direct; do
  errors=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^errors=/) { sub("errors=", "", $i); e += $i } } END { print e + 0 }' \
    "$DIR/setup-$p.out")
  R[setup.$p]="$(python3 "$BENCH_DIR/tools/latency_stats.py" "$DIR/setup-$p.samples") errors=$errors"
  log "setup $p: ${R[setup.$p]}"
done

# --- (b) CONNECT throughput -------------------------------------------------------------
# TP_ROUNDS interleaved rounds, median MB/s reported. CPU s/GB is the proxy's
# CPU time (user + system, all rounds) per 10^9 bytes relayed.
for round in $(seq "$TP_ROUNDS"); do
  for p in ferry ferry-copy tinyproxy squid direct; do
    for n in 1 8; do
      c1=0; [ "$p" = direct ] || c1=$(tree_cpu_ticks "${R[pid.$p]}")
      line=$(timeout $((TP_MAX_SECONDS + 60)) "$TOOL" throughput --proxy "$(proxy_arg "$p")" --target "127.0.0.1:$SINK" \
        --tunnels "$n" --bytes "$TP_BYTES" --max-seconds "$TP_MAX_SECONDS" || true)
      c2=0; [ "$p" = direct ] || c2=$(tree_cpu_ticks "${R[pid.$p]}")
      R[tp.runs.$p.$n]="${R[tp.runs.$p.$n]:-} $(field MBps "$line")"
      R[tp.bytes.$p.$n]=$((${R[tp.bytes.$p.$n]:-0} + $(num_or "$(field bytes "$line")" 0)))
      R[tp.ticks.$p.$n]=$((${R[tp.ticks.$p.$n]:-0} + c2 - c1))
      R[tp.errors.$p.$n]=$((${R[tp.errors.$p.$n]:-0} + $(num_or "$(field errors "$line")" 1)))
      [ "$(field complete "$line")" = yes ] || R[tp.incomplete.$p.$n]=$((${R[tp.incomplete.$p.$n]:-0} + 1))
      log "throughput round $round $p x$n: ${line:-<no result>}"
      sleep 1
    done
  done
done
for p in ferry ferry-copy tinyproxy squid direct; do
  for n in 1 8; do
    R[tp.median.$p.$n]=$(tr ' ' '\n' <<<"${R[tp.runs.$p.$n]}" | { grep . || true; } | sort -g | awk '{ v[NR] = $1 } END {
      if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    R[tp.range.$p.$n]=$(tr ' ' '\n' <<<"${R[tp.runs.$p.$n]}" | { grep . || true; } | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%.0f–%.0f", lo, hi }')
    R[tp.cpu.$p.$n]=$(awk -v t="${R[tp.ticks.$p.$n]}" -v b="${R[tp.bytes.$p.$n]}" -v hz="$HZ" -v d="$p" \
      'BEGIN { if (d == "direct" || b == 0) print "–"; else printf "%.2f", t / hz / (b / 1e9) }')
  done
done

# --- (a) wrk GETs -------------------------------------------------------------------------
origin_requests() {
  curl -sS --max-time 5 "http://127.0.0.1:$ORIGIN/nginx_status" | awk 'NR == 3 {print $3}'
}
to_ms() {  # wrk prints 812.00us, 1.23ms or 1.05s
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) printf "%.3f", v / 1000; else if (v ~ /ms$/) printf "%.2f", v + 0;
    else if (v ~ /s$/) printf "%.1f", v * 1000; else print "?" }'
}
# wrk's request line: absolute-form through a proxy, origin-form direct. The
# Host header names the origin either way.
for size in small big; do
  printf 'wrk.method = "GET"\nwrk.path = "http://127.0.0.1:%s/%s"\nwrk.headers["Host"] = "127.0.0.1:%s"\n' \
    "$ORIGIN" "$size" "$ORIGIN" >"$DIR/proxy-$size.lua"
  printf 'wrk.method = "GET"\nwrk.path = "/%s"\n' "$size" >"$DIR/direct-$size.lua"
done
for p in ferry tinyproxy squid direct; do
  if [ "$p" = direct ]; then url="http://127.0.0.1:$ORIGIN/"; kind=direct; else url="http://127.0.0.1:${PORT[$p]}/"; kind=proxy; fi
  timeout 60 wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WRK_WARMUP" -s "$DIR/$kind-small.lua" "$url" >/dev/null 2>&1 || true
  for size in small big; do
    out="$DIR/wrk-$p-$size.txt"
    o1=$(origin_requests)
    c1=0; [ "$p" = direct ] || c1=$(tree_cpu_ticks "${R[pid.$p]}")
    timeout 120 wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WRK_DURATION" --timeout 5s --latency \
      -s "$DIR/$kind-$size.lua" "$url" >"$out" 2>&1 || true
    c2=0; [ "$p" = direct ] || c2=$(tree_cpu_ticks "${R[pid.$p]}")
    o2=$(origin_requests)
    R[wrk.rps.$p.$size]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
    R[wrk.p50.$p.$size]=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
    R[wrk.p99.$p.$size]=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
    R[wrk.n.$p.$size]=$(awk '/requests in/ {print $1}' "$out")
    R[wrk.origin.$p.$size]=$(($(num_or "$o2" 0) - $(num_or "$o1" 0) - 1))  # minus the status request itself
    R[wrk.non2xx.$p.$size]=$(awk '/Non-2xx/ {print $5}' "$out")
    R[wrk.sockerr.$p.$size]=$(sed -n 's/.*Socket errors: //p' "$out")
    R[wrk.cpu.$p.$size]=$(awk -v t=$((c2 - c1)) -v n="${R[wrk.origin.$p.$size]}" -v hz="$HZ" -v d="$p" \
      'BEGIN { if (d == "direct" || n <= 0) print "–"; else printf "%.0f", t / hz * 1e6 / n }')
    log "wrk $p $size: ${R[wrk.rps.$p.$size]} req/s, p50 ${R[wrk.p50.$p.$size]} ms, p99 ${R[wrk.p99.$p.$size]} ms," \
      "origin saw ${R[wrk.origin.$p.$size]}, proxy CPU ${R[wrk.cpu.$p.$size]} µs/req"
    sleep 1
  done
done

# --- report -------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0 || a == "") print "n/a"; else printf "%.2f", a / b }'; }
verdict() { awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN {
  if (v == "n/a" || v == "") { print "n/a"; exit }
  ok = (op == ">=") ? (v + 0 >= g + 0) : (v + 0 <= g + 0); print ok ? "met" : "**missed**" }'; }
label() { case $1 in ferry) echo "ferry (splice)";; ferry-copy) echo "ferry (copy)";; *) echo "$1";; esac; }

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$BENCH_DIR/out"
REPORT="$BENCH_DIR/out/results-$STAMP.md"
{
  echo "# ferry benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "$("$FERRY_BIN" --version 2>/dev/null | head -n1), $(nproc) cores, $(uname -sr);" \
    "$(tinyproxy -v 2>&1 | head -n1), squid $(squid -v | sed -n '1s/.*Version //p'), nginx $(nginx -v 2>&1 | sed 's/.*\///')," \
    "wrk $(wrk -v 2>&1 | head -n1 | awk '{print $2}'). Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "## (a) GET, keep-alive, absolute-form (wrk -t$WRK_THREADS -c$WRK_CONNS -d$WRK_DURATION)"
  echo
  echo "| target | body | req/s | p50 ms | p99 ms | proxy CPU µs/req | wrk requests | origin requests | non-2xx | socket errors |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
  for p in ferry tinyproxy squid direct; do
    for size in small big; do
      [ "$size" = small ] && body="100 B" || body="64 KiB"
      echo "| $(label "$p") | $body | ${R[wrk.rps.$p.$size]:-} | ${R[wrk.p50.$p.$size]:-} | ${R[wrk.p99.$p.$size]:-} |" \
        "${R[wrk.cpu.$p.$size]:-} | ${R[wrk.n.$p.$size]:-} | ${R[wrk.origin.$p.$size]:-} | ${R[wrk.non2xx.$p.$size]:-0} |" \
        "${R[wrk.sockerr.$p.$size]:-none} |"
    done
  done
  echo
  echo "## (b) CONNECT throughput, sink → client, $((TP_BYTES / 1048576)) MiB per run (or ${TP_MAX_SECONDS} s), median of $TP_ROUNDS"
  echo
  echo "MB/s = 10^6 bytes/s; CPU s/GB = the proxy's user+system CPU seconds per 10^9 bytes relayed."
  echo
  echo "| target | 1 tunnel MB/s | (range) | 8 tunnels MB/s | (range) | CPU s/GB (1 / 8) | runs incomplete | errors |"
  echo "|---|---:|---|---:|---|---|---:|---:|"
  for p in ferry ferry-copy tinyproxy squid direct; do
    echo "| $(label "$p") | ${R[tp.median.$p.1]:-} | ${R[tp.range.$p.1]:-} | ${R[tp.median.$p.8]:-} | ${R[tp.range.$p.8]:-} |" \
      "${R[tp.cpu.$p.1]:-} / ${R[tp.cpu.$p.8]:-} | $((${R[tp.incomplete.$p.1]:-0} + ${R[tp.incomplete.$p.8]:-0})) |" \
      "$((${R[tp.errors.$p.1]:-0} + ${R[tp.errors.$p.8]:-0})) |"
  done
  echo
  echo "## (c) CONNECT setup latency, $SETUP_COUNT sequential tunnels ($SETUP_ROUNDS interleaved rounds), µs"
  echo
  echo "Established = TCP connect + CONNECT + 200 received; first byte = that plus one echoed byte through the tunnel."
  echo
  echo "| target | established p50 | established p99 | first byte p50 | first byte p99 | first byte mean | max | tunnels | errors |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for p in ferry tinyproxy squid direct; do
    l=${R[setup.$p]:-}
    echo "| $(label "$p") | $(field established_p50_us "$l") | $(field established_p99_us "$l") |" \
      "$(field firstbyte_p50_us "$l") | $(field firstbyte_p99_us "$l") | $(field firstbyte_mean_us "$l") |" \
      "$(field firstbyte_max_us "$l") | $(field count "$l") | $(field errors "$l") |"
  done
  echo
  echo "## (d) RSS per idle tunnel, $IDLE_COUNT idle tunnels (VmRSS of the proxy's processes, KiB)"
  echo
  echo "| proxy | before | with tunnels | per tunnel | tunnels opened | alive after hold | threads |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for p in "${PROXIES[@]}"; do
    echo "| $(label "$p") | ${R[idle.before.$p]:-} | ${R[idle.after.$p]:-} | ${R[idle.per.$p]:-} |" \
      "${R[idle.opened.$p]:-} | ${R[idle.alive.$p]:-} | ${R[idle.threads.$p]:-} |"
  done
  echo
  echo "## Targets (issue 2)"
  echo
  r1=$(ratio "${R[wrk.rps.ferry.small]:-}" "${R[wrk.rps.squid.small]:-}")
  r2=$(ratio "${R[wrk.rps.ferry.small]:-}" "${R[wrk.rps.tinyproxy.small]:-}")
  t1=$(ratio "${R[tp.median.ferry.1]:-}" "${R[tp.median.direct.1]:-}")
  t8=$(ratio "${R[tp.median.ferry.8]:-}" "${R[tp.median.direct.8]:-}")
  c1=$(ratio "${R[tp.median.ferry-copy.1]:-}" "${R[tp.median.direct.1]:-}")
  c8=$(ratio "${R[tp.median.ferry-copy.8]:-}" "${R[tp.median.direct.8]:-}")
  fp99=$(field firstbyte_p99_us "${R[setup.ferry]:-}")
  sp99=$(field firstbyte_p99_us "${R[setup.squid]:-}")
  s1=$(ratio "$fp99" "$sp99")
  echo "| target | measured | goal | verdict |"
  echo "|---|---:|---:|---|"
  echo "| small GET req/s, ferry / squid | ${r1}× | ≥ 1.5× | $(verdict "$r1" '>=' 1.5) |"
  echo "| small GET req/s, ferry / tinyproxy | ${r2}× | ≥ 2× | $(verdict "$r2" '>=' 2) |"
  echo "| CONNECT throughput, ferry (splice) / direct, 1 tunnel | ${t1}× | ≥ 0.9× | $(verdict "$t1" '>=' 0.9) |"
  echo "| CONNECT throughput, ferry (splice) / direct, 8 tunnels | ${t8}× | ≥ 0.9× | $(verdict "$t8" '>=' 0.9) |"
  echo "| CONNECT throughput, ferry (copy) / direct, 1 tunnel | ${c1}× | ≥ 0.9× | $(verdict "$c1" '>=' 0.9) |"
  echo "| CONNECT throughput, ferry (copy) / direct, 8 tunnels | ${c8}× | ≥ 0.9× | $(verdict "$c8" '>=' 0.9) |"
  echo "| RSS per idle tunnel, ferry (splice) | ${R[idle.per.ferry]:-n/a} KiB | ≤ 16 KiB | $(verdict "${R[idle.per.ferry]:-n/a}" '<=' 16) |"
  echo "| CONNECT setup p99 (first byte), ferry / squid | ${fp99} / ${sp99} µs = ${s1}× | ≤ 1× | $(verdict "$s1" '<=' 1) |"
} >"$REPORT"
cat "$REPORT"
log "report written to $REPORT"

# --- upstream chain (issue 3) -------------------------------------------------------------
# A separate script with its own servers (this run's are idle by now); BENCH_CHAIN=0 skips it.
if [ "${BENCH_CHAIN:-1}" != 0 ]; then
  log "upstream chain section: bench/chain.sh"
  FERRY_CONNECT_BENCH="$TOOL" bash "$BENCH_DIR/chain.sh" "$FERRY_BIN"
fi
