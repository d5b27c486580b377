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

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
bench_init bench "$@"  # FERRY_BIN, TOOL, WRK_*, TP_* (see bench/lib.sh)
SETUP_COUNT=${SETUP_COUNT:-1000}
SETUP_ROUNDS=${SETUP_ROUNDS:-10}
IDLE_COUNT=${IDLE_COUNT:-2000}
require_cmds "make bench installs it" wrk nginx tinyproxy squid curl python3

# 2,000 idle tunnels need ~4,000 fds in the proxy and 2,000 in each client.
bench_start
# Close the idle clients' fifo first (measure_idle holds it on fd 7).
# Close the sink fd quietly; a bare `exec 7>&- 2>/dev/null` would also send the
# rest of the script's stderr to /dev/null and hide the failure message.
cleanup_first() { { exec 7>&-; } 2>/dev/null || true; }

read -r ORIGIN SINK ECHO FERRY FERRY_COPY TINY SQUID <<<"$(free_ports 7)"

# --- servers -------------------------------------------------------------------
write_origin small big
mkdir -p "$DIR/tinyproxy" "$DIR/squid"

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
start_origin
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
# --- (d) RSS per idle tunnel ------------------------------------------------------------
measure_idle() {  # NAME
  local name=$1 pid=${R[pid.$1]} arg fifo ipid before after
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
  wait_ready "$DIR/idle-$name.out" "$ipid" 120 || true
  sleep 2  # let the proxy finish its bookkeeping
  after=$(tree_rss_kib "$pid")
  R[idle.threads.$name]=$(threads_of "$pid")
  exec 7>&-  # EOF: the client checks every tunnel with one more echo, then closes them
  wait "$ipid" || true
  idle_record "$name" "$before" "$after" "$DIR/idle-$name.out" "$IDLE_COUNT"
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
      tp_record "$p.$n" "$line"
      R[tp.ticks.$p.$n]=$((${R[tp.ticks.$p.$n]:-0} + c2 - c1))
      log "throughput round $round $p x$n: ${line:-<no result>}"
      sleep 1
    done
  done
done
for p in ferry ferry-copy tinyproxy squid direct; do
  for n in 1 8; do
    # shellcheck disable=SC2086  # the runs, one word each
    R[tp.median.$p.$n]=$(median 1 ${R[tp.runs.$p.$n]})
    # shellcheck disable=SC2086
    R[tp.range.$p.$n]=$(range ${R[tp.runs.$p.$n]})
    R[tp.cpu.$p.$n]=$(if [ "$p" = direct ]; then echo "–"; else per_gb_s "${R[tp.ticks.$p.$n]}" "${R[tp.bytes.$p.$n]}"; fi)
  done
done

# --- (a) wrk GETs -------------------------------------------------------------------------
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
    wrk_parse "$out"
    R[wrk.rps.$p.$size]=${W[rps]}
    R[wrk.p50.$p.$size]=${W[p50]}
    R[wrk.p99.$p.$size]=${W[p99]}
    R[wrk.n.$p.$size]=${W[n]}
    R[wrk.origin.$p.$size]=$(($(num_or "$o2" 0) - $(num_or "$o1" 0) - 1))  # minus the status request itself
    R[wrk.non2xx.$p.$size]=${W[non2xx]}
    R[wrk.sockerr.$p.$size]=${W[sockerr]}
    R[wrk.cpu.$p.$size]=$(if [ "$p" = direct ]; then echo "–"; else per_req_us $((c2 - c1)) "${R[wrk.origin.$p.$size]}"; fi)
    log "wrk $p $size: ${R[wrk.rps.$p.$size]} req/s, p50 ${R[wrk.p50.$p.$size]} ms, p99 ${R[wrk.p99.$p.$size]} ms," \
      "origin saw ${R[wrk.origin.$p.$size]}, proxy CPU ${R[wrk.cpu.$p.$size]} µs/req"
    sleep 1
  done
done

# --- report -------------------------------------------------------------------------------
label() { case $1 in ferry) echo "ferry (splice)";; ferry-copy) echo "ferry (copy)";; *) echo "$1";; esac; }

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$BENCH_DIR/out"
REPORT="$BENCH_DIR/out/results-$STAMP.md"
{
  echo "# ferry benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "$(machine_line)" "$(tinyproxy -v 2>&1 | head -n1), squid $(squid_version), nginx $(nginx_version)," \
    "wrk $(wrk_version). Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
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
