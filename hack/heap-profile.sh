#!/usr/bin/env bash
# Runs the operator under heaptrack, for `superset-operator-bench --operator hack/heap-profile.sh`.
# The operator keeps this script's process (exec), so the bench still signals and measures it;
# heaptrack's interpreter runs detached and writes heaptrack.operator.<pid>.zst in
# $HEAP_PROFILE_DIR (default: the current directory). Read it with `heaptrack_print -f FILE`.
# Needs the heaptrack and zstd packages. A release build with line tables gives readable
# stacks: CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo build --release -p superset-operator
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
operator="${HEAP_PROFILE_OPERATOR:-${CARGO_TARGET_DIR:-$root/target}/release/superset-operator}"
out_dir="${HEAP_PROFILE_DIR:-$PWD}"
heaptrack_lib="$(dirname "$(readlink -f "$(command -v heaptrack)")")/../lib/heaptrack"

pipe="$(mktemp -u)"
mkfifo "$pipe"
out="$out_dir/heaptrack.operator.$$.zst"
setsid bash -c "'$heaptrack_lib/libexec/heaptrack_interpret' < '$pipe' | zstd -q -c > '$out'; rm -f '$pipe'" \
    </dev/null >/dev/null 2>&1 &
exec env LD_PRELOAD="$heaptrack_lib/libheaptrack_preload.so" DUMP_HEAPTRACK_OUTPUT="$pipe" \
    "$operator" "$@"
