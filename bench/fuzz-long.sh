#!/usr/bin/env bash
# The full-length fuzzing runs issue 13 asks for: each target for 30
# minutes (or MINUTES), on a copy of its seed corpus, with the limits of
# the short CI runs. Not run in CI (8 targets × 30 min = 4 hours).
# Record the results in RELIABILITY.md ("Fuzzing").
#
#   bash bench/fuzz-long.sh              # every target, 30 min each
#   MINUTES=60 bash bench/fuzz-long.sh transfer_archive
#
# Crash inputs are kept in fuzz/artifacts/ (ignored by git); set
# FUZZ_ARTIFACTS to keep them elsewhere.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MINUTES="${MINUTES:-30}"
export FUZZ_ARTIFACTS="${FUZZ_ARTIFACTS:-$ROOT/fuzz/artifacts}"
exec "$ROOT/fuzz/run-all.sh" "$((MINUTES * 60))" "$@"
