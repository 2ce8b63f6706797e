#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 20) on a copy of its
# committed seed corpus (so nothing is written into the repository), and
# fails on the first crash, timeout or out-of-memory. Used by .ci/run
# (20 s each) and bench/fuzz-long.sh (30 min each).
#
#   fuzz/run-all.sh [SECONDS] [TARGET...]
#
# Needs cargo-fuzz and the nightly toolchain (.ci/run installs both).
# Crash inputs are kept in $FUZZ_ARTIFACTS (default: a temp dir, printed).
set -euo pipefail
cd "$(dirname "$0")"
# The bundled SQLite's two function-local `aiOff` arrays trip
# AddressSanitizer's ODR check, a known false positive.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_odr_violation=0}"
seconds="${1:-20}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  # Every bin but the seed generator.
  mapfile -t targets < <(cargo +nightly fuzz list --fuzz-dir . | grep -vx seed)
fi
work="$(mktemp -d)"
artifacts="${FUZZ_ARTIFACTS:-$work/artifacts}"
mkdir -p "$artifacts"
cleanup() { if [ -z "${FUZZ_KEEP:-}" ]; then rm -rf "$work/corpus"; fi; }
trap cleanup EXIT
cargo +nightly fuzz build -O --fuzz-dir .
for t in "${targets[@]}"; do
  mkdir -p "$work/corpus/$t" "$artifacts/$t"
  if [ -d "corpus/$t" ]; then cp -r "corpus/$t/." "$work/corpus/$t/"; fi
  echo "fuzz: $t for ${seconds}s"
  if ! cargo +nightly fuzz run -O --fuzz-dir . "$t" "$work/corpus/$t" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="$artifacts/$t/" -print_final_stats=1 2>"$work/$t.log"; then
    tail -40 "$work/$t.log" >&2
    echo "fuzz: $t FAILED; the input is in $artifacts/$t/" >&2
    exit 1
  fi
  grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)|^Done ' "$work/$t.log" || true
  echo "fuzz: $t ok, corpus $(find "$work/corpus/$t" -type f | wc -l) inputs"
done
