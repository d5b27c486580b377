# shellcheck shell=bash
# Shell helpers shared by bench/run.sh and bench/chain.sh; sourced, not run.
#
#   BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
#   . "$BENCH_DIR/lib.sh"
#   bench_init NAME "$@"   # NAME: log prefix and temp dir name (bench, chain)
#
# bench_init checks the one argument (FERRY_BIN) and sets FERRY_BIN, TOOL and
# the knobs both scripts take: WRK_THREADS (1), WRK_CONNS (50), WRK_DURATION
# (10s), WRK_WARMUP (2s), TP_BYTES (2 GiB per run), TP_MAX_SECONDS (20),
# TP_ROUNDS (3), FERRY_CONNECT_BENCH (path of ferry_connect_bench).
# bench_start then makes DIR (every server's private temp dir), PIDS and the
# results array R, and stops every server started with `start` on exit.

bench_init() {  # NAME FERRY_BIN (the script's arguments)
  BENCH_NAME=$1
  shift
  if [ $# -ne 1 ]; then
    echo "usage: $0 FERRY_BIN" >&2
    exit 2
  fi
  FERRY_BIN=$(realpath "$1")
  TOOL=${FERRY_CONNECT_BENCH:-$(dirname "$FERRY_BIN")/bench/ferry_connect_bench}
  WRK_THREADS=${WRK_THREADS:-1}
  WRK_CONNS=${WRK_CONNS:-50}
  WRK_DURATION=${WRK_DURATION:-10s}
  WRK_WARMUP=${WRK_WARMUP:-2s}
  TP_BYTES=${TP_BYTES:-$((2 * 1024 * 1024 * 1024))}
  TP_MAX_SECONDS=${TP_MAX_SECONDS:-20}
  TP_ROUNDS=${TP_ROUNDS:-3}
  HZ=$(getconf CLK_TCK)
  local bin
  for bin in "$FERRY_BIN" "$TOOL"; do
    [ -x "$bin" ] || { echo "not found or not executable: $bin (build with: make build)" >&2; exit 2; }
  done
}

require_cmds() {  # HINT CMD...: exits 2 naming the first command not on PATH
  local hint=$1 cmd
  shift
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null || { echo "missing $cmd ($hint)" >&2; exit 2; }
  done
}

bench_start() {  # after bench_init: the fd limit, DIR, PIDS, R and the exit trap
  ulimit -n "$(ulimit -Hn)"
  DIR=$(mktemp -d "/tmp/ferry-$BENCH_NAME.XXXXXX")
  chmod 755 "$DIR"  # nginx workers and squid run as other users
  declare -ga PIDS=()
  declare -gA R=()  # results, key -> value
  trap cleanup EXIT
  trap 'exit 130' INT TERM
}

# On exit: stops every server (TERM, then KILL after 5 s) and removes DIR, or
# keeps it when the run failed. A script may define cleanup_first, run before.
cleanup() {
  local rc=$?
  if declare -F cleanup_first >/dev/null; then cleanup_first; fi
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

log() { echo "[$BENCH_NAME $(date +%H:%M:%S)] $*" >&2; }
die() { echo "$BENCH_NAME: $*" >&2; exit 1; }

# --- servers -------------------------------------------------------------------
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

# --connect-ports '*': ferry's default allows CONNECT to 443 only.
# shellcheck disable=SC2034  # used by the scripts
FERRY_ARGS=(serve --connect-ports '*' --log-level warn)

# The origin: nginx on 127.0.0.1:ORIGIN serving DIR/www (stub_status at
# /nginx_status) from DIR/nginx/nginx.conf, with the bodies named: small (99 x
# and a newline), big (64 KiB of y).
write_origin() {  # BODY...
  local body
  mkdir -p "$DIR/www" "$DIR/nginx"
  for body in "$@"; do
    case $body in
      small) python3 -c 'import sys; sys.stdout.write("x" * 99 + "\n")' >"$DIR/www/small" ;;
      big) head -c 65536 /dev/zero | tr '\0' 'y' >"$DIR/www/big" ;;
      *) die "write_origin: unknown body $body" ;;
    esac
  done
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
}
start_origin() { start nginx "$ORIGIN" nginx -p "$DIR/nginx" -e "$DIR/nginx/error.log" -c "$DIR/nginx/nginx.conf"; }
origin_requests() {  # requests nginx has handled so far (this one included)
  curl -sS --max-time 5 "http://127.0.0.1:$ORIGIN/nginx_status" | awk 'NR == 3 {print $3}'
}

# An open Squid (no auth, no cache) on 127.0.0.1:PORT that resolves
# localhost.bench to 127.0.0.1 through its own hosts_file: an origin name
# ferry does not treat as loopback, so ferry sends it to the upstream.
start_open_squid() {  # PORT
  local port=$1
  mkdir -p "$DIR/squid"
  echo "127.0.0.1 localhost.bench" >"$DIR/squid/hosts"
  cat >"$DIR/squid/squid.conf" <<EOF2
http_port 127.0.0.1:$port
hosts_file $DIR/squid/hosts
pid_filename $DIR/squid/squid.pid
cache_log $DIR/squid/cache.log
access_log none
cache deny all
cache_mem 8 MB
icp_port 0
htcp_port 0
snmp_port 0
pinger_enable off
netdb_filename none
shutdown_lifetime 1 seconds
visible_hostname squid.bench
acl localnet src 127.0.0.0/8
http_access allow localnet
http_access deny all
EOF2
  chown -R proxy "$DIR/squid"
  start squid "$port" squid -N -f "$DIR/squid/squid.conf"
}

# --- parsing ---------------------------------------------------------------------
field() { { grep -o "\b$1=[^ ]*" <<<"$2" || true; } | head -n1 | cut -d= -f2; }  # KEY LINE
num_or() { [[ "$1" =~ ^[0-9]+$ ]] && echo "$1" || echo "$2"; }  # VALUE DEFAULT
to_ms() {  # wrk prints 812.00us, 1.23ms or 1.05s
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) printf "%.3f", v / 1000; else if (v ~ /ms$/) printf "%.2f", v + 0;
    else if (v ~ /s$/) printf "%.1f", v * 1000; else print "?" }'
}
# FILE (wrk --latency output): sets W[rps] (req/s, integer), W[p50] and W[p99]
# (ms), W[n] (requests), W[non2xx] and W[sockerr]; empty where wrk said nothing.
# shellcheck disable=SC2034  # W is read by the scripts
wrk_parse() {
  declare -gA W=()
  W[rps]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$1")
  W[p50]=$(to_ms "$(awk '$1 == "50%" {print $2}' "$1")")
  W[p99]=$(to_ms "$(awk '$1 == "99%" {print $2}' "$1")")
  W[n]=$(awk '/requests in/ {print $1}' "$1")
  W[non2xx]=$(awk '/Non-2xx/ {print $5}' "$1")
  W[sockerr]=$(sed -n 's/.*Socket errors: //p' "$1")
}
# KEY LINE (a `ferry_connect_bench throughput` result): adds the run to
# R[tp.runs.KEY] (MB/s, space-separated), R[tp.bytes.KEY], R[tp.errors.KEY]
# (1 when the line has none) and R[tp.incomplete.KEY].
tp_record() {
  local key=$1 line=$2
  R[tp.runs.$key]="${R[tp.runs.$key]:-} $(field MBps "$line")"
  R[tp.bytes.$key]=$((${R[tp.bytes.$key]:-0} + $(num_or "$(field bytes "$line")" 0)))
  R[tp.errors.$key]=$((${R[tp.errors.$key]:-0} + $(num_or "$(field errors "$line")" 1)))
  [ "$(field complete "$line")" = yes ] || R[tp.incomplete.$key]=$((${R[tp.incomplete.$key]:-0} + 1))
}
times_seconds() {  # FILE: user + system seconds of the children, from the output of `times`
  awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, "m"); sub("s", "", t[2]); s += t[1] * 60 + t[2] } print s }' "$1"
}

# --- CPU time and memory ---------------------------------------------------------
tree_pids() {  # a process and all its descendants
  ps -e -o pid=,ppid= | awk -v r="$1" '{ par[$1] = $2 } END {
    want[r] = 1; print r
    do { changed = 0
      for (p in par) if (!(p in want) && (par[p] in want)) { want[p] = 1; print p; changed = 1 }
    } while (changed) }'
}
tree_rss_kib() {  # sum of VmRSS (KiB) of a process and all its descendants (threads share it)
  local sum=0 p rss
  for p in $(tree_pids "$1"); do
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
    sum=$((sum + ${rss:-0}))
  done
  echo "$sum"
}
tree_cpu_ticks() {  # utime + stime (clock ticks) of a process and its descendants, threads included
  local sum=0 p t
  for p in $(tree_pids "$1"); do
    t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }' || true)
    sum=$((sum + ${t:-0}))
  done
  echo "$sum"
}
threads_of() { awk '/^Threads:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo "?"; }
now() { date +%s.%N; }
per_req_us() {  # TICKS REQUESTS: CPU µs per request, – without requests
  awk -v t="$1" -v n="$2" -v hz="$HZ" 'BEGIN { if (n <= 0) print "–"; else printf "%.0f", t / hz * 1e6 / n }'
}
per_gb_s() {  # TICKS BYTES: CPU s per 10^9 bytes, – without bytes
  awk -v t="$1" -v b="$2" -v hz="$HZ" 'BEGIN { if (b == 0) print "–"; else printf "%.2f", t / hz / (b / 1e9) }'
}

# --- report ------------------------------------------------------------------------
median() {  # DECIMALS NUMBERS...: of an even count, the mean of the middle two with DECIMALS
  local decimals=$1
  shift
  printf '%s\n' "$@" | { grep . || true; } | sort -g | awk -v f="%.${decimals}f" '{ v[NR] = $1 } END {
    if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf f, (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
range() { printf '%s\n' "$@" | { grep . || true; } | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%.0f–%.0f", lo, hi }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0 || a == "") print "n/a"; else printf "%.2f", a / b }'; }
verdict() { awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN {
  if (v == "n/a" || v == "") { print "n/a"; exit }
  ok = (op == ">=") ? (v + 0 >= g + 0) : (v + 0 <= g + 0); print ok ? "met" : "**missed**" }'; }
machine_line() {  # the start of a report's second line: ferry's version, cores, kernel
  echo "$("$FERRY_BIN" --version 2>/dev/null | head -n1), $(nproc) cores, $(uname -sr);"
}
wrk_version() { wrk -v 2>&1 | head -n1 | awk '{print $2}'; }
nginx_version() { nginx -v 2>&1 | sed 's/.*\///'; }
squid_version() { squid -v | sed -n '1s/.*Version //p'; }

# Waits until FILE has a line starting with READY (an idle client's signal
# that its connections are open); fails when PID exits first or after SECONDS.
wait_ready() {  # FILE PID SECONDS
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    grep -q '^READY' "$1" && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# After an idle-connection run: R[idle.{before,after,opened,alive,per}.KEY]
# from the client's output (READY opened=N ..., DONE alive=N); per is KiB per
# connection over DIVISOR connections (default: the ones opened).
idle_record() {  # KEY BEFORE_KIB AFTER_KIB OUT_FILE [DIVISOR]
  local key=$1 line
  line=$(grep '^READY' "$4" || echo "READY opened=0")
  R[idle.before.$key]=$2
  R[idle.after.$key]=$3
  R[idle.opened.$key]=$(field opened "$line")
  R[idle.alive.$key]=$(field alive "$(grep '^DONE' "$4" || true)")
  R[idle.per.$key]=$(awk -v a="$3" -v b="$2" -v n="${5:-${R[idle.opened.$key]}}" \
    'BEGIN { if (n > 0) printf "%.1f", (a - b) / n; else print "n/a" }')
}
