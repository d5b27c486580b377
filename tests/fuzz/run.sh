#!/usr/bin/env bash
# Runs every ferry fuzzer for a while on a scratch copy of its seed corpus.
#   usage: tests/fuzz/run.sh BUILD_DIR SECONDS
# Prints one line per fuzzer; exits non-zero if any fuzzer crashed (the
# crashing inputs and the log are kept and their paths printed).
set -uo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
fi
build_dir=$1
seconds=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# One fuzzer per seed corpus directory (corpus/<fuzzer>/): a fuzzer that is
# missing from the build is then reported, not silently skipped.
mapfile -t fuzzers < <(cd "$here/corpus" && ls -1)

# The fuzzers live in BUILD_DIR/tests/fuzz (CMake layout) or BUILD_DIR itself.
find_binary() {
  local name=$1
  for candidate in "$build_dir/tests/fuzz/$name" "$build_dir/$name"; do
    [[ -x $candidate ]] && { echo "$candidate"; return 0; }
  done
  return 1
}

failed=0
for name in "${fuzzers[@]}"; do
  if ! bin=$(find_binary "$name"); then
    echo "$name: MISSING (not built in $build_dir)"
    failed=1
    continue
  fi
  work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-$name.XXXXXX")
  mkdir -p "$work/corpus" "$work/artifacts"
  if [[ -d $here/corpus/$name ]]; then
    cp -R "$here/corpus/$name/." "$work/corpus/"
  fi
  log=$work/fuzz.log
  "$bin" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
    "$work/corpus" >"$log" 2>&1
  rc=$?
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  corpus_size=$(find "$work/corpus" -type f | wc -l)
  if [[ $rc -eq 0 ]]; then
    echo "$name: OK (${runs:-?} runs in ${seconds}s, corpus $corpus_size files)"
    rm -rf "$work"
  else
    echo "$name: FAILED (exit $rc) — log $log, inputs $work/artifacts/"
    grep -m1 -E 'ERROR: |invariant failed|runtime error' "$log" | sed 's/^/    /'
    failed=1
  fi
done
exit $failed
