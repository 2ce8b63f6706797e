#!/usr/bin/env bash
# Crash-loop soak: tests/crash_loop.rs in a release build for CYCLES random
# SIGKILLs (default 200) on one data dir, with publishes, yanks, approvals and
# mirror syncs in flight. Writes the result (cycles, operations acknowledged,
# kills, any failure, duration, command, seed) into RELIABILITY.md's "Crash
# loop" section, between the crash-loop-results markers. Not run in CI (CI
# runs the same test with 20 cycles in a debug build).
#
#   bash bench/crash-loop.sh                 # 200 cycles
#   CYCLES=50 SEED=123 bash bench/crash-loop.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/RELIABILITY.md"
CYCLES="${CYCLES:-200}"
MARK_START='<!-- crash-loop-results: bench/crash-loop.sh rewrites from here to the end of the section -->'
MARK_END='<!-- /crash-loop-results -->'

cd "$ROOT"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
command=(cargo test --release --test crash_loop -- --nocapture)
env_line="CRASH_LOOP_CYCLES=$CYCLES${SEED:+ CRASH_LOOP_SEED=$SEED}"
printf '==> %s %s\n' "$env_line" "${command[*]}" >&2
cargo test --release --test crash_loop --no-run >&2
start=$(date +%s)
status=0
env CRASH_LOOP_CYCLES="$CYCLES" ${SEED:+CRASH_LOOP_SEED="$SEED"} "${command[@]}" >"$log" 2>&1 || status=$?
elapsed=$(( $(date +%s) - start ))
tail -n 5 "$log" >&2

result="$(grep -m1 '^crash loop result:' "$log" || true)"
seed="$(grep -m1 -o 'seed [0-9]*' "$log" | cut -d' ' -f2 || true)"
field() { printf '%s\n' "$result" | grep -o "$1=[^ ]*" | cut -d= -f2; }
if [ "$status" -eq 0 ] && [ -n "$result" ]; then
  outcome="passed: every restart was whole (fsck clean, acknowledged changes present, index = fresh render = static export, no temp file)"
  failure="none"
  rows="| cycles (kills) | $(field cycles) ($(field kills)) |
| operations acknowledged | $(field acknowledged) $(printf '%s\n' "$result" | grep -o '(publishes.*)') |"
else
  outcome="FAILED (exit $status)"
  failure="$(grep -m1 -A2 "panicked at" "$log" | tr '\n' ' ' | sed 's/|/\\|/g' | cut -c1-400)"
  rows="| cycles | $CYCLES asked |"
fi

block="$MARK_START
Last run of \`bench/crash-loop.sh\` ($(date -u +%Y-%m-%d), $(nproc) cores, release build): **$outcome**.

| what | value |
|---|---|
$rows
| failure | ${failure:-none} |
| duration | ${elapsed} s (the test's own count: $(field duration)) |
| seed | ${seed:-unknown} (\`CRASH_LOOP_SEED=${seed:-…}\` replays the kill moments) |
| command | \`$env_line ${command[*]}\` (what \`bash bench/crash-loop.sh\` runs) |
$MARK_END"

python3 - "$OUT" "$MARK_START" "$MARK_END" "$block" <<'PY'
import sys
path, start, end, block = sys.argv[1:]
try:
    text = open(path).read()
except FileNotFoundError:
    text = "# Reliability\n"
if start in text and end in text:
    a = text.index(start)
    b = text.index(end) + len(end)
    text = text[:a] + block + text[b:]
else:
    text = text.rstrip("\n") + "\n\n## Crash loop\n\n### Results\n\n" + block + "\n"
open(path, "w").write(text)
PY
printf '==> wrote the result to %s\n' "$OUT" >&2
exit "$status"
