#!/usr/bin/env bash
# `make lint`: formatting of every C++ file, clang-tidy on the changed ones.
#   usage: scripts/lint.sh BUILD_DIR     (BUILD_DIR holds compile_commands.json)
#
# 1. clang-format --dry-run -Werror (.clang-format) on all *.cpp/*.h under
#    src/, tests/unit/, tests/fuzz/ and bench/. To fix: the same file list
#    with `clang-format -i` (printed on failure).
# 2. clang-tidy (.clang-tidy) on the translation units under src/ changed
#    since a base commit, with the flags of the release build. Tests and
#    benchmarks are formatted but not tidied: clang-tidy 14 cannot parse
#    std::source_location with GCC 12's library (negotiate_auth_test.cpp),
#    and its findings there (copies in test loops) are noise. All of src/
#    takes ~15 CPU-minutes; changed files keep new code clean. The base,
#    first that applies:
#      - $FERRY_LINT_BASE (any revision), via its merge base with HEAD;
#      - the merge base with origin/main, when that is not HEAD itself (a
#        branch being reviewed);
#      - HEAD~1 (a fresh CI clone of main: the last commit is what is new);
#      - nothing (a single-commit or shallow clone): every translation unit.
#    Uncommitted and untracked files count as changed. A changed header is
#    checked through the .cpp of the same name, and through any changed .cpp
#    that includes it (HeaderFilterRegex).
set -uo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
build_dir=$1
cd "$(dirname "$0")/.."

mapfile -t sources < <(find src tests/unit tests/fuzz bench -type f \( -name '*.cpp' -o -name '*.h' \) | sort)
failed=0

echo "clang-format: ${#sources[@]} files"
if ! clang-format --dry-run -Werror --ferror-limit=1 "${sources[@]}"; then
  echo "clang-format: FAILED; fix with:" >&2
  echo "  find src tests/unit tests/fuzz bench -type f \\( -name '*.cpp' -o -name '*.h' \\) | xargs clang-format -i" >&2
  failed=1
fi

if [[ ! -f $build_dir/compile_commands.json ]]; then
  echo "clang-tidy: $build_dir/compile_commands.json missing (configure the build first)" >&2
  exit 1
fi

base=""
if [[ -n ${FERRY_LINT_BASE:-} ]]; then
  base=$(git merge-base HEAD "$FERRY_LINT_BASE") || { echo "FERRY_LINT_BASE=$FERRY_LINT_BASE: no merge base" >&2; exit 2; }
elif mb=$(git merge-base HEAD origin/main 2>/dev/null) && [[ $mb != "$(git rev-parse HEAD)" ]]; then
  base=$mb
elif git rev-parse -q --verify HEAD~1 >/dev/null; then
  base=$(git rev-parse HEAD~1)
fi

# Translation units clang-tidy checks: src/ files in the compilation database.
# CMake writes absolute paths, one "file" key per line.
root=$(pwd -P)
mapfile -t units < <(sed -n 's|^ *"file": "'"$root"'/\(.*\)",\{0,1\}$|\1|p' "$build_dir/compile_commands.json" | grep '^src/' | sort -u)

if [[ -z $base ]]; then
  echo "clang-tidy: no base commit; checking every translation unit"
  targets=("${units[@]}")
else
  mapfile -t changed < <({ git diff --name-only --diff-filter=d "$base" -- src;
                           git ls-files --others --exclude-standard -- src; } | sort -u)
  targets=()
  for unit in "${units[@]}"; do
    for f in "${changed[@]}"; do
      if [[ $f == "$unit" || ($f == *.h && ${f%.h}.cpp == "$unit") ]]; then
        targets+=("$unit")
        break
      fi
    done
  done
  echo "clang-tidy: ${#targets[@]} changed translation units since $(git rev-parse --short "$base")"
fi

if [[ ${#targets[@]} -gt 0 ]]; then
  # The database is the GCC build's: flags clang does not know are not findings.
  if ! clang-tidy -p "$build_dir" --quiet --extra-arg=-Wno-unknown-warning-option "${targets[@]}"; then
    echo "clang-tidy: FAILED" >&2
    failed=1
  fi
fi
exit $failed
