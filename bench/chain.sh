#!/usr/bin/env bash
# ferry benchmark, upstream chain section (issue 3): ferry in front of a
# parent Squid, against the client talking to that Squid itself, and against
# cntlm in front of a Squid doing NTLM. All on loopback, in one run.
#
#   bash bench/chain.sh build/release/ferry     (bench/run.sh calls it at its end)
#
# (a) keep-alive GETs with wrk (-t1 -c50, ~100 B body, absolute form), in
#     CHAIN_ROUNDS interleaved rounds, median reported, for:
#       ferry-basic   wrk → ferry → Squid(Basic, bob) → nginx
#       squid-basic   wrk → Squid(Basic) with Proxy-Authorization: Basic bob:bobpw
#       cntlm-ntlm    wrk → cntlm → Squid(NTLM, ntlm_fake_auth) → nginx
#       cntlm-ka      the same, but that Squid adds "Proxy-Connection:
#                     keep-alive" to its replies: cntlm 0.92.3 keeps a
#                     connection (client and parent side) only when the parent
#                     says so in that header, which Squid 5 never sends — as
#                     is, cntlm closes after every response and redoes the NTLM
#                     handshake on a new parent connection per request
#       ferry-open    wrk → ferry → open Squid → nginx
#       squid-open    wrk → open Squid → nginx
#     (wrk → Squid(NTLM) directly is impossible: NTLM is a per-connection
#     handshake wrk cannot do; squid-open is the baseline for cntlm's row.)
# (b) CONNECT throughput, 1 tunnel, sink → client, TP_ROUNDS interleaved
#     runs, median: ferry → Squid(Basic) → sink against client → Squid(Basic).
#
# ferry sends loopback targets direct, so the origin and the sink are
# addressed as origin.test, which only the Squids resolve (hosts_file) to
# 127.0.0.1; ferry and cntlm never resolve it. Every request is checked:
# non-2xx from wrk, requests seen by nginx, and Squid's access log (status,
# user, and a per-row User-Agent) — the Basic rows must be logged as bob.
#
# Knobs (environment): WRK_THREADS (1), WRK_CONNS (50), WRK_DURATION (10s),
# WRK_WARMUP (2s), CHAIN_ROUNDS (3), TP_BYTES (2 GiB per run),
# TP_MAX_SECONDS (20), TP_ROUNDS (3), FERRY_CONNECT_BENCH.
# Prints a Markdown report and writes it to bench/out/chain-<timestamp>.md.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
bench_init chain "$@"  # FERRY_BIN, TOOL, WRK_*, TP_* (see bench/lib.sh)
CHAIN_ROUNDS=${CHAIN_ROUNDS:-3}
USER_NAME=bob
USER_PW=bobpw
BASIC_VALUE="Basic $(printf '%s:%s' "$USER_NAME" "$USER_PW" | base64)"  # Basic Ym9iOmJvYnB3
ORIGIN_NAME=origin.test

require_cmds "scripts/install-deps.sh bench installs it" wrk nginx squid cntlm htpasswd curl python3
SQUID_LIBEXEC=/usr/lib/squid
[ -x "$SQUID_LIBEXEC/basic_ncsa_auth" ] && [ -x "$SQUID_LIBEXEC/ntlm_fake_auth" ] ||
  { echo "squid's auth helpers not found in $SQUID_LIBEXEC" >&2; exit 2; }
bench_start

read -r ORIGIN SINK SQB SQN SQK SQO FERRY_B FERRY_O CNTLM CNTLM_K <<<"$(free_ports 10)"

# --- servers -------------------------------------------------------------------
write_origin small

# NAME PORT AUTH(none|basic|ntlm) [EXTRA-LINE]: a Squid like tests/integration/upstreams.py's
# (no cache, outgoing from 127.0.0.1 only, DNS confined to loopback), which
# resolves origin.test from its own hosts file and logs one line per request:
# time status method URI user code User-Agent.
write_squid() {
  local name=$1 port=$2 auth=$3 extra=${4:-} d="$DIR/$1"
  mkdir -p "$d"
  printf '127.0.0.1 %s\n' "$ORIGIN_NAME" >"$d/hosts"
  {
    echo "http_port 127.0.0.1:$port"
    echo "pid_filename $d/squid.pid"
    echo "cache_log $d/cache.log"
    echo 'logformat chain %ts.%03tu %>Hs %rm %ru %un %Ss "%{User-Agent}>h"'
    echo "access_log stdio:$d/access.log chain"
    echo "cache_store_log none"
    echo "coredump_dir $d"
    echo "cache deny all"
    echo "cache_mem 8 MB"
    echo "icp_port 0"
    echo "htcp_port 0"
    echo "snmp_port 0"
    echo "pinger_enable off"
    echo "netdb_filename none"
    echo "shutdown_lifetime 1 seconds"
    echo "max_filedescriptors 16384"
    echo "visible_hostname squid.test"
    echo "tcp_outgoing_address 127.0.0.1"
    echo "dns_nameservers 127.0.0.1"
    echo "hosts_file $d/hosts"
    case $auth in
      basic)
        htpasswd -n -b -B "$USER_NAME" "$USER_PW" >"$d/passwd"
        chmod 600 "$d/passwd"
        echo "auth_param basic program $SQUID_LIBEXEC/basic_ncsa_auth $d/passwd"
        echo "auth_param basic children 5 startup=1 idle=1"
        echo "auth_param basic realm ferry-bench" ;;
      ntlm)
        echo "auth_param ntlm program $SQUID_LIBEXEC/ntlm_fake_auth"
        echo "auth_param ntlm children 5 startup=1 idle=1"
        echo "auth_param ntlm keep_alive on" ;;
    esac
    echo "acl loopback src 127.0.0.0/8"
    echo "acl CONNECT method CONNECT"
    echo "acl SSL_ports port $SINK"
    echo "http_access deny !loopback"
    echo "http_access deny CONNECT !SSL_ports"
    if [ "$auth" = none ]; then
      echo "http_access allow loopback"
    else
      echo "acl authed proxy_auth REQUIRED"
      echo "http_access allow authed"
    fi
    echo "http_access deny all"
    [ -z "$extra" ] || echo "$extra"
  } >"$d/squid.conf"
  chown -R proxy:proxy "$d" 2>/dev/null || true
  squid -k parse -f "$d/squid.conf" >"$d/parse.log" 2>&1 || { cat "$d/parse.log" >&2; die "squid -k parse failed for $name"; }
}
write_squid squid-basic "$SQB" basic
write_squid squid-ntlm "$SQN" ntlm
write_squid squid-ntlm-ka "$SQK" ntlm "reply_header_add Proxy-Connection keep-alive all"
write_squid squid-open "$SQO" none

write_cntlm() {  # NAME LISTEN-PORT PARENT-PORT
  mkdir -p "$DIR/$1"
  printf 'Username %s\nDomain TEST\nPassword %s\nAuth NTLM\nProxy 127.0.0.1:%s\nListen 127.0.0.1:%s\n' \
    "$USER_NAME" "$USER_PW" "$3" "$2" >"$DIR/$1/cntlm.conf"
  chmod 600 "$DIR/$1/cntlm.conf"
}
write_cntlm cntlm "$CNTLM" "$SQN"
write_cntlm cntlm-ka "$CNTLM_K" "$SQK"

start sink "$SINK" "$TOOL" serve-sink "$SINK"
start_origin
for s in squid-basic:$SQB squid-ntlm:$SQN squid-ntlm-ka:$SQK squid-open:$SQO; do
  start "${s%%:*}" "${s#*:}" squid -N -f "$DIR/${s%%:*}/squid.conf"  # -N: one process, no fork
done
start ferry-basic "$FERRY_B" "$FERRY_BIN" "${FERRY_ARGS[@]}" --listen "127.0.0.1:$FERRY_B" \
  --upstream "http://$USER_NAME:$USER_PW@127.0.0.1:$SQB"
start ferry-open "$FERRY_O" "$FERRY_BIN" "${FERRY_ARGS[@]}" --listen "127.0.0.1:$FERRY_O" \
  --upstream "http://127.0.0.1:$SQO"
start cntlm "$CNTLM" cntlm -f -c "$DIR/cntlm/cntlm.conf" -P "$DIR/cntlm/cntlm.pid"
start cntlm-ka "$CNTLM_K" cntlm -f -c "$DIR/cntlm-ka/cntlm.conf" -P "$DIR/cntlm-ka/cntlm.pid"

# Rows: which port wrk talks to, the extra header it sends, and whose CPU counts.
ROWS=(ferry-basic squid-basic cntlm-ntlm cntlm-ka ferry-open squid-open)
declare -A ENTRY=([ferry-basic]=$FERRY_B [squid-basic]=$SQB [cntlm-ntlm]=$CNTLM [cntlm-ka]=$CNTLM_K [ferry-open]=$FERRY_O
  [squid-open]=$SQO)
declare -A FRONT=([ferry-basic]=ferry-basic [squid-basic]="" [cntlm-ntlm]=cntlm [cntlm-ka]=cntlm-ka [ferry-open]=ferry-open
  [squid-open]="")
declare -A PARENT=([ferry-basic]=squid-basic [squid-basic]=squid-basic [cntlm-ntlm]=squid-ntlm [cntlm-ka]=squid-ntlm-ka
  [ferry-open]=squid-open [squid-open]=squid-open)
declare -A AUTHHDR=([squid-basic]="$BASIC_VALUE")
declare -A PATHLABEL=(
  [ferry-basic]="wrk → ferry → Squid(Basic) → nginx"
  [squid-basic]="wrk → Squid(Basic), Proxy-Authorization sent by wrk → nginx"
  [cntlm-ntlm]="wrk → cntlm → Squid(NTLM fake) → nginx"
  [cntlm-ka]="wrk → cntlm → Squid(NTLM fake, replies with Proxy-Connection: keep-alive) → nginx"
  [ferry-open]="wrk → ferry → Squid(open) → nginx"
  [squid-open]="wrk → Squid(open) → nginx")
URL="http://$ORIGIN_NAME:$ORIGIN/small"

# --- sanity checks ----------------------------------------------------------------
access_count() {  # SQUID-NAME AWK-CONDITION: lines of its access log matching
  awk "$2 { n++ } END { print n + 0 }" "$DIR/$1/access.log" 2>/dev/null || echo 0
}
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -x "http://127.0.0.1:$SQB" "$URL")
[ "$code" = 407 ] || die "squid-basic answered $code without credentials, not 407: auth is not enforced"
for row in "${ROWS[@]}"; do
  hdr=(); [ -n "${AUTHHDR[$row]:-}" ] && hdr=(-H "Proxy-Authorization: ${AUTHHDR[$row]}")
  body=$(curl -sS --max-time 10 -A "check-$row" "${hdr[@]}" -x "http://127.0.0.1:${ENTRY[$row]}" "$URL") ||
    die "$row: GET $URL failed"
  [ "${#body}" -eq 99 ] || die "$row: unexpected body from the origin"
done
sleep 1
for row in ferry-basic squid-basic; do
  n=$(access_count squid-basic "\$2 == 200 && \$5 == \"$USER_NAME\" && \$0 ~ /\"check-$row\"\$/")
  [ "$n" -ge 1 ] || die "$row: squid-basic did not log the check request as a 200 for $USER_NAME"
done
for row in cntlm-ntlm cntlm-ka; do
  n=$(access_count "${PARENT[$row]}" "\$2 == 200 && \$5 != \"-\" && \$0 ~ /\"check-$row\"\$/")
  [ "$n" -ge 1 ] || die "$row: ${PARENT[$row]} did not log the check request as an authenticated 200"
done
n=$(access_count squid-open '$2 == 200 && $0 ~ /"check-(ferry|squid)-open"$/')
[ "$n" -ge 2 ] || die "squid-open did not log both check requests"
for row in ferry-basic squid-basic; do
  arg=(--proxy "127.0.0.1:${ENTRY[$row]}")
  [ "$row" = squid-basic ] && arg+=(--proxy-auth "$BASIC_VALUE")
  line=$(timeout 30 "$TOOL" throughput "${arg[@]}" --target "$ORIGIN_NAME:$SINK" --tunnels 1 --bytes 1000000 || true)
  [ "$(field complete "$line")" = yes ] || die "$row: CONNECT to $ORIGIN_NAME:$SINK failed: $line"
done
sleep 1
n=$(access_count squid-basic "\$3 == \"CONNECT\" && \$4 == \"$ORIGIN_NAME:$SINK\" && \$2 == 200 && \$5 == \"$USER_NAME\"")
[ "$n" -ge 2 ] || die "squid-basic did not log both CONNECT checks as 200 for $USER_NAME"
log "sanity checks passed (407 without credentials; every row 200 through its chain, Basic rows logged as $USER_NAME)"

# --- (a) wrk GETs -------------------------------------------------------------------------
for row in "${ROWS[@]}"; do
  for kind in wrk warmup; do  # the same request; the User-Agent tells Squid's log which run it came from
    {
      printf 'wrk.method = "GET"\nwrk.path = "%s"\n' "$URL"
      printf 'wrk.headers["Host"] = "%s:%s"\n' "$ORIGIN_NAME" "$ORIGIN"
      printf 'wrk.headers["User-Agent"] = "%s-%s"\n' "$kind" "$row"
      if [ -n "${AUTHHDR[$row]:-}" ]; then printf 'wrk.headers["Proxy-Authorization"] = "%s"\n' "${AUTHHDR[$row]}"; fi
    } >"$DIR/$kind-$row.lua"
  done
done
cpu_of() { [ -n "$1" ] && tree_cpu_ticks "${R[pid.$1]}" || echo 0; }
for round in $(seq "$CHAIN_ROUNDS"); do
  for row in "${ROWS[@]}"; do
    url="http://127.0.0.1:${ENTRY[$row]}/"
    if [ "$round" = 1 ]; then
      timeout 60 wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WRK_WARMUP" -s "$DIR/warmup-$row.lua" "$url" >/dev/null 2>&1 || true
    fi
    out="$DIR/wrk-$row-$round.txt"
    o1=$(origin_requests)
    f1=$(cpu_of "${FRONT[$row]}"); p1=$(cpu_of "${PARENT[$row]}"); n1=$(cpu_of nginx); t1=$(now)
    # `times` in the subshell: the CPU time of wrk (its child).
    (timeout 120 wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WRK_DURATION" --timeout 5s --latency \
      -s "$DIR/wrk-$row.lua" "$url" >"$out" 2>&1 || true; times >"$out.times")
    t2=$(now); f2=$(cpu_of "${FRONT[$row]}"); p2=$(cpu_of "${PARENT[$row]}"); n2=$(cpu_of nginx)
    o2=$(origin_requests)
    wrk_parse "$out"
    rps=${W[rps]}
    origin=$(($(num_or "$o2" 0) - $(num_or "$o1" 0) - 1))  # minus the status request itself
    wrk_s=$(times_seconds "$out.times")
    R[rps.$row]="${R[rps.$row]:-} $rps"
    R[p50.$row]="${R[p50.$row]:-} ${W[p50]}"
    R[p99.$row]="${R[p99.$row]:-} ${W[p99]}"
    R[n.$row]=$((${R[n.$row]:-0} + $(num_or "${W[n]}" 0)))
    R[origin.$row]=$((${R[origin.$row]:-0} + origin))
    R[non2xx.$row]=$((${R[non2xx.$row]:-0} + $(num_or "${W[non2xx]}" 0)))
    se=${W[sockerr]}
    [ -z "$se" ] || R[sockerr.$row]="${R[sockerr.$row]:-}${R[sockerr.$row]:+; }$se"
    R[fticks.$row]=$((${R[fticks.$row]:-0} + f2 - f1))
    R[pticks.$row]=$((${R[pticks.$row]:-0} + p2 - p1))
    R[nticks.$row]=$((${R[nticks.$row]:-0} + n2 - n1))
    R[wrks.$row]=$(awk -v a="${R[wrks.$row]:-0}" -v b="$wrk_s" 'BEGIN { print a + b }')
    R[wall.$row]=$(awk -v a="${R[wall.$row]:-0}" -v b="$t1" -v c="$t2" 'BEGIN { print a + c - b }')
    log "round $round $row: $rps req/s, origin saw $origin, front CPU $((f2 - f1)) ticks, squid $((p2 - p1)), nginx $((n2 - n1)), wrk ${wrk_s}s"
    sleep 1
  done
done
sleep 2  # squid writes a log line when the transaction ends
for row in "${ROWS[@]}"; do
  R[rps.med.$row]=$(median 2 ${R[rps.$row]})
  R[rps.range.$row]=$(range ${R[rps.$row]})
  R[p50.med.$row]=$(median 2 ${R[p50.$row]})
  R[p99.med.$row]=$(median 2 ${R[p99.$row]})
  n=${R[origin.$row]}
  R[fcpu.$row]=$( [ -n "${FRONT[$row]}" ] && per_req_us "${R[fticks.$row]}" "$n" || echo "–")
  R[pcpu.$row]=$(per_req_us "${R[pticks.$row]}" "$n")
  R[ncpu.$row]=$(per_req_us "${R[nticks.$row]}" "$n")
  R[wcpu.$row]=$(awk -v s="${R[wrks.$row]}" -v n="$n" 'BEGIN { if (n <= 0) print "–"; else printf "%.0f", s * 1e6 / n }')
  # Cores kept busy by this chain (front + squid + nginx + wrk CPU / wall time): 2 = the machine is full.
  R[cores.$row]=$(awk -v t="$(( ${R[fticks.$row]} + ${R[pticks.$row]} + ${R[nticks.$row]} ))" -v w="${R[wrks.$row]}" -v hz="$HZ" \
    -v d="${R[wall.$row]}" 'BEGIN { if (d <= 0) print "–"; else printf "%.2f", (t / hz + w) / d }')
  # Squid's view: 200s for this row's User-Agent, and how many of them for bob.
  sq=${PARENT[$row]}
  R[log200.$row]=$(access_count "$sq" "\$2 == 200 && \$0 ~ /\"wrk-$row\"\$/")
  R[log407.$row]=$(access_count "$sq" "\$2 == 407 && \$0 ~ /\"wrk-$row\"\$/")
  R[logother.$row]=$(access_count "$sq" "\$2 != 200 && \$2 != 407 && \$0 ~ /\"wrk-$row\"\$/")
  R[logbob.$row]=$(access_count "$sq" "\$2 == 200 && \$5 == \"$USER_NAME\" && \$0 ~ /\"wrk-$row\"\$/")
  R[logauthed.$row]=$(access_count "$sq" "\$2 == 200 && \$5 != \"-\" && \$0 ~ /\"wrk-$row\"\$/")
  ok=yes
  [ "${R[non2xx.$row]}" -eq 0 ] || ok=no
  [ "${R[log200.$row]}" -ge "${R[n.$row]}" ] || ok=no
  case $row in
    ferry-basic|squid-basic) [ "${R[logbob.$row]}" -eq "${R[log200.$row]}" ] || ok=no ;;
    cntlm-*) [ "${R[logauthed.$row]}" -eq "${R[log200.$row]}" ] || ok=no ;;
  esac
  R[valid.$row]=$ok
  log "$row: median ${R[rps.med.$row]} req/s (${R[rps.range.$row]}); wrk ${R[n.$row]}, origin ${R[origin.$row]}," \
    "squid 200s ${R[log200.$row]} (for $USER_NAME ${R[logbob.$row]}, authenticated ${R[logauthed.$row]}), 407 ${R[log407.$row]}, other ${R[logother.$row]}, valid $ok"
done

# --- (b) CONNECT throughput -----------------------------------------------------------
TP_ROWS=(ferry-basic squid-basic)
for round in $(seq "$TP_ROUNDS"); do
  for row in "${TP_ROWS[@]}"; do
    arg=(--proxy "127.0.0.1:${ENTRY[$row]}")
    [ "$row" = squid-basic ] && arg+=(--proxy-auth "$BASIC_VALUE")
    f1=$(cpu_of "${FRONT[$row]}"); p1=$(cpu_of squid-basic); s1=$(cpu_of sink)
    line=$(timeout $((TP_MAX_SECONDS + 60)) "$TOOL" throughput "${arg[@]}" --target "$ORIGIN_NAME:$SINK" \
      --tunnels 1 --bytes "$TP_BYTES" --max-seconds "$TP_MAX_SECONDS" >"$DIR/tp.out" || true
      times >"$DIR/tp.times"; cat "$DIR/tp.out")
    f2=$(cpu_of "${FRONT[$row]}"); p2=$(cpu_of squid-basic); s2=$(cpu_of sink)
    client_s=$(times_seconds "$DIR/tp.times")
    R[tp.sticks.$row]=$((${R[tp.sticks.$row]:-0} + s2 - s1))
    R[tp.clients.$row]=$(awk -v a="${R[tp.clients.$row]:-0}" -v b="$client_s" 'BEGIN { print a + b }')
    R[tp.secs.$row]=$(awk -v a="${R[tp.secs.$row]:-0}" -v b="$(field seconds "$line")" 'BEGIN { print a + b }')
    tp_record "$row" "$line"
    R[tp.fticks.$row]=$((${R[tp.fticks.$row]:-0} + f2 - f1))
    R[tp.pticks.$row]=$((${R[tp.pticks.$row]:-0} + p2 - p1))
    log "throughput round $round $row: ${line:-<no result>}"
    sleep 1
  done
done
sleep 1
for row in "${TP_ROWS[@]}"; do
  R[tp.median.$row]=$(median 2 ${R[tp.runs.$row]})
  R[tp.range.$row]=$(range ${R[tp.runs.$row]})
  b=${R[tp.bytes.$row]}
  R[tp.fcpu.$row]=$( [ -n "${FRONT[$row]}" ] && per_gb_s "${R[tp.fticks.$row]}" "$b" || echo "–")
  R[tp.pcpu.$row]=$(per_gb_s "${R[tp.pticks.$row]}" "$b")
  R[tp.ecpu.$row]=$(awk -v t="${R[tp.sticks.$row]}" -v c="${R[tp.clients.$row]}" -v b="$b" -v hz="$HZ" \
    'BEGIN { if (b == 0) print "–"; else printf "%.2f", (t / hz + c) / (b / 1e9) }')
  R[tp.cores.$row]=$(awk -v t="$(( ${R[tp.fticks.$row]} + ${R[tp.pticks.$row]} + ${R[tp.sticks.$row]} ))" -v c="${R[tp.clients.$row]}" \
    -v d="${R[tp.secs.$row]}" -v hz="$HZ" 'BEGIN { if (d <= 0) print "–"; else printf "%.2f", (t / hz + c) / d }')
done
R[tp.logbob]=$(access_count squid-basic "\$3 == \"CONNECT\" && \$4 == \"$ORIGIN_NAME:$SINK\" && \$2 == 200 && \$5 == \"$USER_NAME\"")
R[log407.basic]=$(access_count squid-basic '$2 == 407')

# --- report -------------------------------------------------------------------------------
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$BENCH_DIR/out"
REPORT="$BENCH_DIR/out/chain-$STAMP.md"
{
  echo "# ferry upstream chain benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "$(machine_line)" "squid $(squid_version), cntlm $(dpkg-query -W -f='${Version}' cntlm 2>/dev/null || echo '?')," \
    "nginx $(nginx_version), wrk $(wrk_version)." \
    "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "### (a) GET, ~100 B body, keep-alive, absolute-form (wrk -t$WRK_THREADS -c$WRK_CONNS -d$WRK_DURATION), median of $CHAIN_ROUNDS interleaved rounds"
  echo
  echo "CPU µs/req: user+system CPU per request (all rounds; requests as counted by nginx) of the front proxy (ferry or cntlm),"
  echo "the Squid (with its auth helpers), nginx and wrk. Squid log, for this row's measured runs (User-Agent): 200s / of them for"
  echo "$USER_NAME (Basic) or for any user (NTLM) / 407s (NTLM handshake legs) / other (requests cut off when wrk stops)."
  echo "Cores busy: the CPU time of those four over the wall time of the runs (the machine has $(nproc))."
  echo
  echo "| row | path | req/s | (range) | p50 ms | p99 ms | front CPU µs/req | squid | nginx | wrk | cores busy | wrk requests | origin requests | non-2xx | squid log 200 / authed / 407 / other | valid |"
  echo "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
  for row in "${ROWS[@]}"; do
    case $row in ferry-basic|squid-basic) au=${R[logbob.$row]};; cntlm-*) au=${R[logauthed.$row]};; *) au="–";; esac
    echo "| $row | ${PATHLABEL[$row]} | ${R[rps.med.$row]} | ${R[rps.range.$row]} | ${R[p50.med.$row]} | ${R[p99.med.$row]} |" \
      "${R[fcpu.$row]} | ${R[pcpu.$row]} | ${R[ncpu.$row]} | ${R[wcpu.$row]} | ${R[cores.$row]} | ${R[n.$row]} | ${R[origin.$row]} | ${R[non2xx.$row]} |" \
      "${R[log200.$row]} / $au / ${R[log407.$row]} / ${R[logother.$row]} | ${R[valid.$row]} |"
  done
  for row in "${ROWS[@]}"; do
    [ -z "${R[sockerr.$row]:-}" ] || { echo; echo "Socket errors (wrk), $row: ${R[sockerr.$row]}."; }
  done
  echo
  echo "Requests squid-basic answered 407 in the whole run (sanity check included): ${R[log407.basic]}."
  echo
  echo "### (b) CONNECT throughput, 1 tunnel, sink → client, $((TP_BYTES / 1048576)) MiB per run (or ${TP_MAX_SECONDS} s), median of $TP_ROUNDS interleaved runs"
  echo
  echo "Target origin.test:$SINK (Squid resolves it). CPU s/GB: user+system CPU seconds per 10^9 bytes relayed;"
  echo "client+sink: the two ends' CPU s/GB; cores busy: all of them over the transfer time."
  echo
  echo "| row | path | MB/s | (range) | ferry CPU s/GB | squid CPU s/GB | client+sink | cores busy | runs incomplete | errors |"
  echo "|---|---|---:|---|---:|---:|---:|---:|---:|---:|"
  for row in "${TP_ROWS[@]}"; do
    case $row in ferry-basic) pl="client → ferry → Squid(Basic) → sink";; *) pl="client → Squid(Basic), Proxy-Authorization sent by the client → sink";; esac
    echo "| $row | $pl | ${R[tp.median.$row]} | ${R[tp.range.$row]} | ${R[tp.fcpu.$row]} | ${R[tp.pcpu.$row]} | ${R[tp.ecpu.$row]} | ${R[tp.cores.$row]} |" \
      "${R[tp.incomplete.$row]:-0} | ${R[tp.errors.$row]:-0} |"
  done
  echo
  echo "CONNECTs squid-basic logged as 200 for $USER_NAME to origin.test:$SINK: ${R[tp.logbob]} (2 sanity checks + $((TP_ROUNDS * 2)) runs)."
  echo
  echo "### Targets (issue 3)"
  echo
  g1=$(ratio "${R[rps.med.ferry-basic]}" "${R[rps.med.squid-basic]}")
  g2=$(ratio "${R[rps.med.ferry-basic]}" "${R[rps.med.cntlm-ntlm]}")
  g2k=$(ratio "${R[rps.med.ferry-basic]}" "${R[rps.med.cntlm-ka]}")
  g4k=$(ratio "${R[rps.med.cntlm-ka]}" "${R[rps.med.squid-open]}")
  g3=$(ratio "${R[rps.med.ferry-open]}" "${R[rps.med.squid-open]}")
  g4=$(ratio "${R[rps.med.cntlm-ntlm]}" "${R[rps.med.squid-open]}")
  t1=$(ratio "${R[tp.median.ferry-basic]}" "${R[tp.median.squid-basic]}")
  valid=yes
  for row in "${ROWS[@]}"; do [ "${R[valid.$row]}" = yes ] || valid=no; done
  echo "| target | measured | goal | verdict |"
  echo "|---|---:|---:|---|"
  echo "| small GET req/s, ferry → Squid(Basic) / Squid(Basic) direct | ${g1}× | ≥ 0.9× | $(verdict "$g1" '>=' 0.9) |"
  echo "| small GET req/s, ferry → Squid(Basic) / cntlm → Squid(NTLM), Squid as is | ${g2}× | ≥ 1.5× | $(verdict "$g2" '>=' 1.5) |"
  echo "| small GET req/s, ferry → Squid(Basic) / cntlm → Squid(NTLM) with keep-alive (cntlm-ka) | ${g2k}× | ≥ 1.5× | $(verdict "$g2k" '>=' 1.5) |"
  echo "| CONNECT MB/s, 1 tunnel, ferry → Squid(Basic) / Squid(Basic) direct | ${t1}× | ≥ 0.85× | $(verdict "$t1" '>=' 0.85) |"
  echo
  echo "For reference (no goal): ferry → open Squid / open Squid direct ${g3}×; cntlm → Squid(NTLM) / open Squid direct ${g4}× (cntlm-ka: ${g4k}×)." \
    "Every GET row valid (0 non-2xx, Squid logged ≥ wrk's count as 200, Basic rows all as $USER_NAME): $valid."
} >"$REPORT"
cat "$REPORT"
log "report written to $REPORT"
