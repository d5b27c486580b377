#!/usr/bin/env bash
# Side by side: two ferry builds (e.g. the previous commit's and this one's)
# on the same machine in one run, small keep-alive GETs (~100 B body,
# absolute-form, wrk -t1 -c50), direct to nginx and through an open Squid
# upstream (ferry → squid → nginx), interleaved rounds, median req/s and
# ferry's CPU µs per request.
#
#   bash bench/compare.sh OLD_FERRY NEW_FERRY
#
# Knobs: COMPARE_ROUNDS (5), WRK_DURATION (10s), WRK_CONNS (50), WRK_THREADS (1).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
[ $# -eq 2 ] || { echo "usage: $0 OLD_FERRY NEW_FERRY" >&2; exit 2; }
OLD_BIN=$(realpath "$1")
FERRY_CONNECT_BENCH=/bin/true bench_init compare "$2"
ROUNDS=${COMPARE_ROUNDS:-5}
require_cmds "make bench installs it" wrk nginx squid curl python3
bench_start

read -r ORIGIN SQUID OLD NEW OLD_UP NEW_UP <<<"$(free_ports 6)"
write_origin small
start_origin
start_open_squid "$SQUID"
start old "$OLD" "$OLD_BIN" "${FERRY_ARGS[@]}" --listen "127.0.0.1:$OLD"
start new "$NEW" "$FERRY_BIN" "${FERRY_ARGS[@]}" --listen "127.0.0.1:$NEW"
# The chain's origin name is not loopback, so ferry sends it to the
# upstream; Squid resolves it through its own hosts_file.
start old-up "$OLD_UP" "$OLD_BIN" "${FERRY_ARGS[@]}" --listen "127.0.0.1:$OLD_UP" --upstream "http://127.0.0.1:$SQUID"
start new-up "$NEW_UP" "$FERRY_BIN" "${FERRY_ARGS[@]}" --listen "127.0.0.1:$NEW_UP" --upstream "http://127.0.0.1:$SQUID"

printf 'wrk.method = "GET"\nwrk.path = "http://127.0.0.1:%s/small"\nwrk.headers["Host"] = "127.0.0.1:%s"\n' \
  "$ORIGIN" "$ORIGIN" >"$DIR/direct.lua"
printf 'wrk.method = "GET"\nwrk.path = "http://localhost.bench:%s/small"\nwrk.headers["Host"] = "localhost.bench:%s"\n' \
  "$ORIGIN" "$ORIGIN" >"$DIR/chain.lua"

ROWS=(old new old-up new-up)
declare -A SCRIPT=([old]=direct [new]=direct [old-up]=chain [new-up]=chain)
declare -A PORT=([old]=$OLD [new]=$NEW [old-up]=$OLD_UP [new-up]=$NEW_UP)
for row in "${ROWS[@]}"; do
  timeout 60 wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WRK_WARMUP" -s "$DIR/${SCRIPT[$row]}.lua" \
    "http://127.0.0.1:${PORT[$row]}/" >/dev/null 2>&1 || true
done
for round in $(seq "$ROUNDS"); do
  for row in "${ROWS[@]}"; do
    out="$DIR/wrk-$row-$round.txt"
    c1=$(tree_cpu_ticks "${R[pid.$row]}")
    timeout 120 wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WRK_DURATION" --latency -s "$DIR/${SCRIPT[$row]}.lua" \
      "http://127.0.0.1:${PORT[$row]}/" >"$out" 2>&1 || true
    c2=$(tree_cpu_ticks "${R[pid.$row]}")
    wrk_parse "$out"
    [ -z "${W[non2xx]}" ] || die "$row: ${W[non2xx]} non-2xx responses"
    R[rps.$row]="${R[rps.$row]:-} ${W[rps]}"
    R[us.$row]="${R[us.$row]:-} $(per_req_us $((c2 - c1)) "${W[n]}")"
    log "round $round $row: ${W[rps]} req/s, p99 ${W[p99]} ms, $(per_req_us $((c2 - c1)) "${W[n]}") µs CPU/req"
  done
done

# shellcheck disable=SC2086  # the lists are space-separated numbers
{
  echo "## Side by side: $(basename "$OLD_BIN") at $(dirname "$OLD_BIN") vs $FERRY_BIN"
  echo
  echo "$(machine_line); wrk -t$WRK_THREADS -c$WRK_CONNS -d$WRK_DURATION, $ROUNDS interleaved rounds, medians"
  echo
  echo "| path | old req/s | new req/s | new/old | old CPU µs/req | new CPU µs/req |"
  echo "|---|---|---|---|---|---|"
  for pair in "direct:old:new" "via Squid:old-up:new-up"; do
    IFS=: read -r name o n <<<"$pair"
    ro=$(median 0 ${R[rps.$o]}); rn=$(median 0 ${R[rps.$n]})
    echo "| $name | $ro ($(range ${R[rps.$o]})) | $rn ($(range ${R[rps.$n]})) | $(ratio "$rn" "$ro") | $(median 1 ${R[us.$o]}) | $(median 1 ${R[us.$n]}) |"
  done
} | tee "$BENCH_DIR/out/compare-$(date +%Y%m%d-%H%M%S).md"
