#!/usr/bin/env bash
# Mirror benchmark: a downstream skillreg mirrors PACKAGES x VERSIONS skills
# from an upstream skillreg over loopback. Measures the full sync (wall time,
# run counts) and a no-change re-sync (wall time and the number of requests
# the upstream saw). Writes the results into BENCHMARKS.md (between the
# mirror-bench markers) at the repo root. Not run in CI.
#
#   bash bench/mirror-bench.sh                     # 10,000 packages x 3 versions
#   PACKAGES=200 bash bench/mirror-bench.sh        # a quick try
#
# Environment: PACKAGES (default 10000), VERSIONS (default 3), SKILLREG_BIN
# and SEED_BIN (use these binaries instead of building), SYNC_TIMEOUT
# (seconds to wait for the full sync, default 3600), STARTUP_TIMEOUT
# (seconds to wait for a daemon to listen, default 900), KEEP_TMP=1 (keep the
# temp dir with both data dirs and logs), OUT (write this file instead of
# BENCHMARKS.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$ROOT/BENCHMARKS.md}"
PACKAGES="${PACKAGES:-10000}"
VERSIONS="${VERSIONS:-3}"
SYNC_TIMEOUT="${SYNC_TIMEOUT:-3600}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-900}"
MARK_START='<!-- mirror-bench:start -->'
MARK_END='<!-- mirror-bench:end -->'
# Targets (issue: full sync <= 60 s; no-change re-sync <= 1 s and <= 3 requests).
TARGET_FULL_S=60
TARGET_RESYNC_S=1
TARGET_RESYNC_REQUESTS=3

# replace_section, start_daemon, cpu_secs, io_field, json_get, verdict,
# write_sync_py, stop_pid, log, die.
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

[[ "$PACKAGES" =~ ^[1-9][0-9]*$ ]] || die "PACKAGES must be a positive number"
[[ "$VERSIONS" =~ ^[1-9][0-9]*$ ]] || die "VERSIONS must be a positive number"

for tool in curl python3 awk; do
    command -v "$tool" >/dev/null 2>&1 || die "missing $tool"
done

# ---------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------

if [[ -n "${SKILLREG_BIN:-}" && -n "${SEED_BIN:-}" ]]; then
    BIN="$SKILLREG_BIN"
    SEED="$SEED_BIN"
    log "using $BIN and $SEED (SKILLREG_BIN and SEED_BIN set, not building)"
else
    command -v cargo >/dev/null 2>&1 || die "missing cargo"
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release)
    log "cargo build --release --example mirror_bench_seed"
    (cd "$ROOT" && cargo build --release --example mirror_bench_seed)
    BIN="${SKILLREG_BIN:-$ROOT/target/release/skillreg}"
    SEED="${SEED_BIN:-$ROOT/target/release/examples/mirror_bench_seed}"
fi
[[ -x "$BIN" ]] || die "$BIN not found or not executable"
[[ -x "$SEED" ]] || die "$SEED not found or not executable"

# ---------------------------------------------------------------------------
# Temp dir and cleanup
# ---------------------------------------------------------------------------

TMP="$(mktemp -d "${TMPDIR:-/tmp}/skillreg-mirror-bench.XXXXXX")"
UP_PID=""
DOWN_PID=""

cleanup() {
    local rc=$?
    set +e
    stop_pid "$DOWN_PID"
    stop_pid "$UP_PID"
    if [[ "${KEEP_TMP:-0}" == 1 ]]; then
        log "kept $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# request_lines FILE: how many request lines the upstream has logged.
request_lines() {
    grep -c 'skillreg::server::routes: request ' "$1" || true
}

write_sync_py "$TMP/sync.py"

cat > "$TMP/requests.py" <<'PY'
"""Summarises the upstream's request log lines from line FROM (1-based) to
TO: counts by kind and status, and for the full sync the rate of bundle
downloads per tenth of the run (to see whether it slows down as it goes)."""
import collections, datetime, json, re, sys

path, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pat = re.compile(r"^(\S+)\s+DEBUG skillreg::server::routes: request .*?method=(\S+) path=(\S+) status=(\d+)")
kinds, statuses, paths, downloads = collections.Counter(), collections.Counter(), [], []
first = last = None
n = 0
with open(path, errors="replace") as f:
    for line in f:
        m = pat.match(line)
        if not m:
            continue
        n += 1
        if n < start or n > end:
            continue
        ts, method, p, status = m.groups()
        t = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
        first = t if first is None else first
        last = t
        if p.startswith("/index/_skillreg/sig/"):
            kind = "index-file statements"
        elif p.startswith("/index/_skillreg/"):
            kind = "root/timestamp/snapshot"
        elif p == "/index/config.json":
            kind = "config.json"
        elif p.startswith("/index/"):
            kind = "index files"
        elif p.endswith("/download"):
            kind = "bundle downloads"
            downloads.append(t)
        else:
            kind = "other"
        kinds[kind] += 1
        statuses[status] += 1
        paths.append(f"{method} {p} {status}")
deciles = []
if len(downloads) >= 100:
    step = len(downloads) // 10
    for i in range(10):
        chunk = downloads[i * step:(i + 1) * step] if i < 9 else downloads[i * step:]
        span = chunk[-1] - chunk[0]
        deciles.append(round((len(chunk) - 1) / span, 1) if span > 0 else None)
json.dump({
    "total": sum(kinds.values()),
    "kinds": kinds,
    "statuses": statuses,
    "paths": paths if len(paths) <= 50 else [],
    "span_seconds": round(last - first, 3) if first is not None else 0,
    "download_rate_by_tenth": deciles,
}, sys.stdout)
PY


# ---------------------------------------------------------------------------
# Seed the upstream
# ---------------------------------------------------------------------------

UP="$TMP/upstream"
DOWN="$TMP/downstream"
TOTAL_VERSIONS=$((PACKAGES * VERSIONS))

log "seeding $PACKAGES packages x $VERSIONS versions into $UP"
SEED_T0="$(date +%s.%N)"
"$SEED" "$UP" "$PACKAGES" "$VERSIONS" > "$TMP/seed.out" 2> "$TMP/seed.err" || { cat "$TMP/seed.err" >&2; die "seeding failed"; }
SEED_SECS="$(awk -v a="$SEED_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
SEED_LINE="$(grep '^seeded ' "$TMP/seed.out")"
log "seeded in $SEED_SECS s ($SEED_LINE)"

cat > "$TMP/upstream.toml" <<'EOF'
[rate_limit]
per_ip_per_second = 0
per_token_per_second = 0
EOF

log "starting the upstream (renders and signs $PACKAGES index files at start)"
# Every request is logged at debug level by skillreg::server::routes; only
# that target is raised, so the upstream is not slowed by other debug output.
start_daemon upstream "$UP" "$TMP/upstream.toml" "info,skillreg::server::routes=debug"
UP_PID="$START_PID"
UP_URL="$START_URL"
UP_START_SECS="$START_SECS"
log "upstream at $UP_URL after $UP_START_SECS s"

"$BIN" key export-root --data "$UP" > "$TMP/root.json" 2> "$TMP/export-root.err" \
    || { cat "$TMP/export-root.err" >&2; die "skillreg key export-root failed"; }

# The snapshot's size (every re-sync fetches and verifies it).
curl -fsS "$UP_URL/index/_skillreg/timestamp.json" -o "$TMP/timestamp.json"
SNAPSHOT_BYTES="$(python3 -c 'import base64, json, sys; e = json.load(open(sys.argv[1])); print(json.loads(base64.b64decode(e["payload"]))["snapshot"]["length"])' "$TMP/timestamp.json")"

# ---------------------------------------------------------------------------
# The downstream
# ---------------------------------------------------------------------------

cat > "$TMP/downstream.toml" <<EOF
[rate_limit]
per_ip_per_second = 0
per_token_per_second = 0

[[sources]]
name = "up"
kind = "registry"
url = "$UP_URL"
root_key = "$TMP/root.json"
interval = "0"
auto_approve = false
EOF

log "starting the downstream"
start_daemon downstream "$DOWN" "$TMP/downstream.toml" "info"
DOWN_PID="$START_PID"
DOWN_URL="$START_URL"
log "downstream at $DOWN_URL"
for _ in $(seq 100); do
    [[ -s "$DOWN/admin.token" ]] && break
    sleep 0.1
done
[[ -s "$DOWN/admin.token" ]] || die "no admin token at $DOWN/admin.token"
TOKEN="$(head -n 1 "$DOWN/admin.token" | tr -d '[:space:]')"

# ---------------------------------------------------------------------------
# Full sync
# ---------------------------------------------------------------------------

log "full sync of $TOTAL_VERSIONS versions"
REQ0="$(request_lines "$TMP/upstream.err")"
UP_CPU0="$(cpu_secs "$UP_PID")"
DOWN_CPU0="$(cpu_secs "$DOWN_PID")"
DOWN_WB0="$(io_field "$DOWN_PID" write_bytes)"
python3 "$TMP/sync.py" "$DOWN_URL" "$TOKEN" 0.2 "$SYNC_TIMEOUT" > "$TMP/full.json" \
    || die "the full sync did not finish"
UP_CPU1="$(cpu_secs "$UP_PID")"
DOWN_CPU1="$(cpu_secs "$DOWN_PID")"
DOWN_WB1="$(io_field "$DOWN_PID" write_bytes)"
REQ1="$(request_lines "$TMP/upstream.err")"
python3 "$TMP/requests.py" "$TMP/upstream.err" "$((REQ0 + 1))" "$REQ1" > "$TMP/full-requests.json"

FULL_STATUS="$(json_get "$TMP/full.json" 'd["status"]')"
FULL_SECS="$(json_get "$TMP/full.json" 'd["wall_seconds"]')"
FULL_STARTED="$(json_get "$TMP/full.json" 'd["started_at"]')"
FULL_FINISHED="$(json_get "$TMP/full.json" 'd["finished_at"]')"
FULL_COUNTS="$(json_get "$TMP/full.json" '", ".join(f"{k} {d[k]}" for k in ("discovered", "added", "pending", "updated", "unchanged", "rejected", "skipped", "failed"))')"
FULL_ADDED="$(json_get "$TMP/full.json" 'd["added"]')"
FULL_REQUESTS="$(json_get "$TMP/full-requests.json" 'd["total"]')"
FULL_KINDS="$(json_get "$TMP/full-requests.json" '", ".join(f"{v} {k}" for k, v in sorted(d["kinds"].items(), key=lambda kv: -kv[1]))')"
FULL_NON200="$(json_get "$TMP/full-requests.json" 'sum(v for k, v in d["statuses"].items() if k != "200")')"
FULL_DECILES="$(json_get "$TMP/full-requests.json" '" / ".join("?" if r is None else f"{r:.0f}" for r in d["download_rate_by_tenth"]) or "n/a"')"
UP_CPU="$(awk -v a="$UP_CPU0" -v b="$UP_CPU1" 'BEGIN { printf "%.1f", b - a }')"
DOWN_CPU="$(awk -v a="$DOWN_CPU0" -v b="$DOWN_CPU1" 'BEGIN { printf "%.1f", b - a }')"
DOWN_WMB="$(awk -v a="$DOWN_WB0" -v b="$DOWN_WB1" 'BEGIN { printf "%.0f", (b - a) / 1048576 }')"
VPS="$(awk -v n="$FULL_ADDED" -v s="$FULL_SECS" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')"
log "full sync: $FULL_STATUS in $FULL_SECS s ($FULL_COUNTS); upstream saw $FULL_REQUESTS requests"
[[ "$FULL_STATUS" == completed ]] || log "warning: the full sync $FULL_STATUS: $(json_get "$TMP/full.json" 'd.get("error")')"
[[ "$FULL_ADDED" -eq "$TOTAL_VERSIONS" ]] || log "warning: added $FULL_ADDED of $TOTAL_VERSIONS versions"

# ---------------------------------------------------------------------------
# No-change re-sync
# ---------------------------------------------------------------------------

log "no-change re-sync"
REQ2="$(request_lines "$TMP/upstream.err")"
UP_CPU2="$(cpu_secs "$UP_PID")"
DOWN_CPU2="$(cpu_secs "$DOWN_PID")"
python3 "$TMP/sync.py" "$DOWN_URL" "$TOKEN" 0.01 600 > "$TMP/resync.json" \
    || die "the re-sync did not finish"
UP_CPU3="$(cpu_secs "$UP_PID")"
DOWN_CPU3="$(cpu_secs "$DOWN_PID")"
REQ3="$(request_lines "$TMP/upstream.err")"
python3 "$TMP/requests.py" "$TMP/upstream.err" "$((REQ2 + 1))" "$REQ3" > "$TMP/resync-requests.json"

RE_STATUS="$(json_get "$TMP/resync.json" 'd["status"]')"
RE_SECS="$(json_get "$TMP/resync.json" 'd["wall_seconds"]')"
RE_COUNTS="$(json_get "$TMP/resync.json" '", ".join(f"{k} {d[k]}" for k in ("discovered", "added", "updated", "unchanged", "failed"))')"
RE_REQUESTS="$(json_get "$TMP/resync-requests.json" 'd["total"]')"
RE_PATHS="$(json_get "$TMP/resync-requests.json" '"\n".join(d["paths"]) or "(more than 50)"')"
RE_UP_CPU="$(awk -v a="$UP_CPU2" -v b="$UP_CPU3" 'BEGIN { printf "%.2f", b - a }')"
RE_DOWN_CPU="$(awk -v a="$DOWN_CPU2" -v b="$DOWN_CPU3" 'BEGIN { printf "%.2f", b - a }')"
log "re-sync: $RE_STATUS in $RE_SECS s ($RE_COUNTS); upstream saw $RE_REQUESTS requests"

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

FULL_OK="$(verdict "$FULL_SECS" "$TARGET_FULL_S")"
RE_OK="$(verdict "$RE_SECS" "$TARGET_RESYNC_S")"
REQ_OK="$(verdict "$RE_REQUESTS" "$TARGET_RESYNC_REQUESTS")"
[[ "$FULL_STATUS" == completed ]] || FULL_OK="NOT met (run $FULL_STATUS)"
[[ "$RE_STATUS" == completed ]] || RE_OK="NOT met (run $RE_STATUS)"

CPU_MODEL="$(awk -F: '/^model name/ { sub(/^[ \t]+/, "", $2); print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
[[ -n "$CPU_MODEL" ]] || CPU_MODEL="$(lscpu 2>/dev/null | awk -F: '/^Model name/ { sub(/^[ \t]+/, "", $2); print $2; exit }' || true)"
[[ -n "$CPU_MODEL" ]] || CPU_MODEL="unknown"
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
DIRTY=""
[[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock 2>/dev/null)" ]] \
    || DIRTY=" (with uncommitted changes in src/)"
ENV_PREFIX=""
[[ "$PACKAGES" == 10000 && "$VERSIONS" == 3 ]] || ENV_PREFIX="PACKAGES=$PACKAGES VERSIONS=$VERSIONS "

{
    echo "## Mirror: $PACKAGES packages × $VERSIONS versions over loopback"
    echo
    echo "- Date: $(date -u)"
    echo "- Machine: $(nproc) CPUs, $(uname -m), $CPU_MODEL"
    echo "- Commit: \`$COMMIT\`$DIRTY"
    echo "- Setup: an upstream skillreg seeded with $PACKAGES skills × $VERSIONS versions"
    echo "  ($TOTAL_VERSIONS bundles, one small \`SKILL.md\` each) and a downstream skillreg"
    echo "  with one \`[[sources]] kind = \"registry\"\` source pinned to the upstream's root,"
    echo "  \`auto_approve = false\`, \`interval = \"0\"\`; both on 127.0.0.1, rate limits off,"
    echo "  same machine. Syncs are started with \`POST /admin/v1/sync\` and timed until"
    echo "  \`GET /admin/v1/sync-runs\` shows the run finished (polled every 0.2 s for the"
    echo "  full sync, 0.01 s for the re-sync). Requests are counted from the upstream's"
    echo "  per-request debug log (\`SKILLREG_LOG=info,skillreg::server::routes=debug\`)."
    echo
    echo "| step | result |"
    echo "| --- | --- |"
    echo "| seed upstream (\`examples/mirror_bench_seed.rs\`, store + blobs directly) | $SEED_SECS s |"
    echo "| upstream start (renders and signs $PACKAGES index files) | $UP_START_SECS s; snapshot $SNAPSHOT_BYTES bytes |"
    echo "| **full sync** | **$FULL_SECS s** ($FULL_STATUS; run $FULL_STARTED → $FULL_FINISHED) |"
    echo "| full sync counts | $FULL_COUNTS |"
    echo "| full sync upstream requests | $FULL_REQUESTS ($FULL_KINDS; $FULL_NON200 not 200) |"
    echo "| full sync throughput | $VPS versions/s; CPU: downstream $DOWN_CPU s, upstream $UP_CPU s; downstream wrote $DOWN_WMB MiB |"
    echo "| full sync downloads/s by tenth of the run | $FULL_DECILES |"
    echo "| **no-change re-sync** | **$RE_SECS s**, **$RE_REQUESTS upstream requests** ($RE_STATUS; $RE_COUNTS) |"
    echo "| re-sync CPU | downstream $RE_DOWN_CPU s, upstream $RE_UP_CPU s |"
    echo
    echo "Targets:"
    echo "- full sync <= $TARGET_FULL_S s: $FULL_OK ($FULL_SECS s)"
    echo "- no-change re-sync <= $TARGET_RESYNC_S s: $RE_OK ($RE_SECS s)"
    echo "- no-change re-sync <= $TARGET_RESYNC_REQUESTS requests: $REQ_OK ($RE_REQUESTS requests)"
    echo
    echo "Seed detail: \`$SEED_LINE\`"
    echo
    echo "How to reproduce: \`${ENV_PREFIX}bash bench/mirror-bench.sh\` (\`PACKAGES=200 bash bench/mirror-bench.sh\`"
    echo "for a quick try; \`KEEP_TMP=1\` keeps both data dirs and logs)."
    echo
    echo "<details><summary>Requests of the no-change re-sync</summary>"
    echo
    echo '```'
    echo "$RE_PATHS"
    echo '```'
    echo
    echo "</details>"
} > "$TMP/section.md"

replace_section "$OUT" "$TMP/section.md"
log "wrote $OUT"
echo "full sync $FULL_SECS s ($FULL_OK); re-sync $RE_SECS s ($RE_OK), $RE_REQUESTS requests ($REQ_OK)" >&2
