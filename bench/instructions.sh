#!/usr/bin/env bash
# Instructions per small keep-alive GET, for ferry builds side by side:
# ferry runs under `valgrind --tool=callgrind` and serves LONG (3,200) then
# SHORT (200) GETs from one Python client on one connection; (total of the
# long run − total of the short run) / (LONG − SHORT) cancels start-up and
# shutdown. Direct (client → ferry → nginx) and through an open Squid
# (client → ferry → Squid → nginx). Instruction counts do not depend on who
# else uses the cores, so they tell apart differences that req/s on a
# shared machine cannot (a run's counts still move by a few hundred with
# thread scheduling and heap layout: take the median of REPS).
#
#   bash bench/instructions.sh FERRY_BIN...
#
# Knobs: REPS (3), LONG (3200), SHORT (200), INSN_PATHS ("direct squid"),
# KEEP=1 copies the last repetition's callgrind files to bench/out/ (for
# callgrind_annotate --inclusive=yes).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
[ $# -ge 1 ] || { echo "usage: $0 FERRY_BIN..." >&2; exit 2; }
BINS=()
for b in "$@"; do BINS+=("$(realpath "$b")"); done
FERRY_CONNECT_BENCH=/bin/true bench_init insn "${BINS[0]}"
REPS=${REPS:-3}
LONG=${LONG:-3200}
SHORT=${SHORT:-200}
INSN_PATHS=${INSN_PATHS:-direct squid}
require_cmds "make bench installs it" valgrind nginx squid python3
bench_start
mkdir -p "$BENCH_DIR/out"

read -r ORIGIN SQUID PORT <<<"$(free_ports 3)"
write_origin small
start_origin
[[ " $INSN_PATHS " == *" squid "* ]] && start_open_squid "$SQUID"

cat >"$DIR/client.py" <<'EOF2'
import socket, sys
port, n, origin = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
req = f"GET http://{origin}/small HTTP/1.1\r\nHost: {origin}\r\n\r\n".encode()
buf = b""
for _ in range(n):
    s.sendall(req)
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = buf[:end].decode().lower()
            length = int(head.split("content-length:")[1].split("\r\n")[0])
            if len(buf) >= end + 4 + length:
                if not head.startswith("http/1.1 200"): raise SystemExit("not a 200: " + head[:40])
                buf = buf[end + 4 + length:]
                break
        data = s.recv(65536)
        if not data: raise SystemExit("closed early")
        buf += data
EOF2

# BIN NAME REQUESTS ORIGIN ARGS...: sets COUNT to the instructions callgrind counted.
count() {
  local bin=$1 name=$2 n=$3 origin=$4
  shift 4
  valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.$name.$n" "$bin" "${FERRY_ARGS[@]}" \
    --listen "127.0.0.1:$PORT" "$@" >"$DIR/vg.$name.$n.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_port "$PORT" "vg.$name.$n" "$pid"
  python3 "$DIR/client.py" "$PORT" "$n" "$origin" || die "$name: client failed"
  kill -TERM "$pid"
  wait "$pid" || true
  COUNT=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$DIR/vg.$name.$n.log")
  [ -n "$COUNT" ] || die "$name: no instruction count in $DIR/vg.$name.$n.log"
}

ROWS=()
for path in $INSN_PATHS; do
  for i in "${!BINS[@]}"; do
    bin=${BINS[$i]}
    args=()
    origin=127.0.0.1:$ORIGIN
    # The chain's origin name is not loopback: ferry sends it to the upstream.
    [ "$path" = squid ] && origin=localhost.bench:$ORIGIN && args=(--upstream "http://127.0.0.1:$SQUID")
    runs=()
    for _ in $(seq "$REPS"); do
      count "$bin" "$i.$path" "$SHORT" "$origin" "${args[@]}"
      short=$COUNT
      count "$bin" "$i.$path" "$LONG" "$origin" "${args[@]}"
      runs+=($(((COUNT - short) / (LONG - SHORT))))
      log "$bin $path: ${runs[-1]}"
    done
    ROWS+=("| $bin | $path | $(median 0 "${runs[@]}") | ${runs[*]} |")
  done
done

{
  echo "## Instructions per request (callgrind, ($LONG − $SHORT GETs) / $((LONG - SHORT)), median of $REPS)"
  echo
  echo "$(machine_line) valgrind $(valgrind --version | sed 's/valgrind-//')"
  echo
  echo "| binary | path | instructions/request | runs |"
  echo "|---|---|---:|---|"
  printf '%s\n' "${ROWS[@]}"
} | tee "$BENCH_DIR/out/instructions-$(date +%Y%m%d-%H%M%S).md"
if [ "${KEEP:-0}" = 1 ]; then cp "$DIR"/cg.* "$BENCH_DIR/out/"; fi
