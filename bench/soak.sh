#!/usr/bin/env bash
# Soak: DURATION seconds (default 1800) of index and download load with wrk
# against one daemon, while a publisher adds a version every PUBLISH_EVERY
# seconds and the daemon mirrors a second daemon (an upstream that gains a
# version before each sync) every SYNC_EVERY seconds. The daemon's RSS and
# open file descriptors are sampled every SAMPLE_EVERY seconds. It passes
# when wrk saw no error response and no socket error (rate limits are off:
# any refusal would be a fault), every publish and sync succeeded, and RSS
# and descriptors grew under 10 % from the first tenth of the run (after a
# warm-up) to its last tenth. Writes the result into RELIABILITY.md between
# the soak markers. Not run in CI.
#
#   bash bench/soak.sh                  # 30 minutes
#   DURATION=300 bash bench/soak.sh     # a shorter run (say so when quoting it)
#
# Environment: DURATION, CONNECTIONS (per wrk, default 32), PUBLISH_EVERY
# (default 5), SYNC_EVERY (default 30), SAMPLE_EVERY (default 5),
# SKILLREG_BIN (use this binary instead of building target/release/skillreg),
# SAMPLES_OUT (also keep the RSS/descriptor samples, `seconds,rss_kib,fds`,
# in this file), NO_WRITE=1 (print the result, leave RELIABILITY.md alone:
# for experiments).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

OUT="$ROOT/RELIABILITY.md"
DURATION="${DURATION:-1800}"
CONNECTIONS="${CONNECTIONS:-32}"
PUBLISH_EVERY="${PUBLISH_EVERY:-5}"
SYNC_EVERY="${SYNC_EVERY:-30}"
SAMPLE_EVERY="${SAMPLE_EVERY:-5}"
MARK_START='<!-- soak:start -->'
MARK_END='<!-- soak:end -->'

command -v wrk >/dev/null 2>&1 || {
    if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing wrk"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
    else
        die "missing wrk; install it first, e.g.: sudo apt-get install -y wrk"
    fi
}
for tool in curl python3 awk; do
    command -v "$tool" >/dev/null 2>&1 || die "missing $tool"
done

if [[ -n "${SKILLREG_BIN:-}" ]]; then
    BIN="$SKILLREG_BIN"
else
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release)
    BIN="$ROOT/target/release/skillreg"
fi

COMMIT="$(cd "$ROOT" && git rev-parse --short HEAD)"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/skillreg-soak.XXXXXX")"
PIDS=()
cleanup() {
    local rc=$?
    set +e
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# serve NAME CONFIG: starts a daemon in $TMP/NAME; sets PID and URL.
serve() {
    local name="$1" dir="$TMP/$1"
    mkdir -p "$dir"
    printf '%s\n' "$2" > "$dir/skillreg.toml"
    "$BIN" serve --config "$dir/skillreg.toml" --data "$dir/data" --listen 127.0.0.1:0 \
        > "$dir/serve.out" 2> "$dir/serve.err" &
    PID=$!
    PIDS+=("$PID")
    URL=""
    for _ in $(seq 300); do
        if [[ "$(wc -l < "$dir/serve.out")" -ge 1 ]]; then
            URL="$(head -n 1 "$dir/serve.out" | sed 's/^listening on //')"
            return 0
        fi
        kill -0 "$PID" 2>/dev/null || { cat "$dir/serve.err" >&2; die "$name exited"; }
        sleep 0.1
    done
    die "$name did not listen"
}

# publish_version BASE TOKEN NAME VERSION: one skill version, or fail.
publish_version() {
    local dir="$TMP/src-$3"
    mkdir -p "$dir"
    printf -- '---\nname: %s\ndescription: A skill the soak publishes.\nmetadata:\n  version: "%s"\n---\n# %s\n' \
        "$3" "$4" "$3" > "$dir/SKILL.md"
    "$BIN" publish "$dir" --registry "$1" --token "$2" > "$TMP/publish.log" 2>&1
}

NOLIMIT=$'[rate_limit]\nper_ip_per_second = 0\nper_token_per_second = 0'

log "starting the upstream and publishing its first versions"
serve upstream "$NOLIMIT"
UP="$URL"
UP_TOKEN="$(tr -d '[:space:]' < "$TMP/upstream/data/admin.token")"
publish_version "$UP" "$UP_TOKEN" soak-upstream 0.0.1
"$BIN" key export-root --data "$TMP/upstream/data" > "$TMP/upstream-root.json"

log "starting the daemon under load"
serve registry "fsck_interval = \"60s\"
$NOLIMIT
[[sources]]
name = \"upstream\"
kind = \"registry\"
url = \"$UP\"
root_key = \"$TMP/upstream-root.json\"
auto_approve = true
interval = \"0\""
BASE="$URL"
DPID="$PID"
TOKEN="$(tr -d '[:space:]' < "$TMP/registry/data/admin.token")"
for i in $(seq 0 9); do
    publish_version "$BASE" "$TOKEN" "soak-$i" 0.0.1 || { cat "$TMP/publish.log" >&2; die "publish failed"; }
done
INDEX="$BASE/index/so/ak/soak-0"
DOWNLOAD="$BASE/api/v1/crates/soak-1/0.0.1/download"
curl -fsS -o /dev/null "$INDEX" && curl -fsS -o /dev/null "$DOWNLOAD" || die "nothing to load"

log "soaking for ${DURATION} s (wrk: index and download, ${CONNECTIONS} connections each)"
wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$INDEX" > "$TMP/wrk-index.txt" 2>&1 &
WRK1=$!
wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$DOWNLOAD" > "$TMP/wrk-download.txt" 2>&1 &
WRK2=$!

published=0; publish_failures=0; syncs=0; sync_failures=0; n=1
start=$(date +%s); next_publish=$start; next_sync=$((start + SYNC_EVERY)); next_sample=$start
: > "$TMP/samples.csv"
while kill -0 "$WRK1" 2>/dev/null || kill -0 "$WRK2" 2>/dev/null; do
    now=$(date +%s)
    if ((now >= next_sample)); then
        rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DPID/status")
        fds=$(ls "/proc/$DPID/fd" | wc -l)
        echo "$((now - start)),$rss,$fds" >> "$TMP/samples.csv"
        next_sample=$((now + SAMPLE_EVERY))
    fi
    if ((now >= next_publish)); then
        n=$((n + 1))
        if publish_version "$BASE" "$TOKEN" "soak-$((n % 10))" "0.1.$n"; then
            published=$((published + 1))
        else
            publish_failures=$((publish_failures + 1)); cat "$TMP/publish.log" >&2
        fi
        next_publish=$((now + PUBLISH_EVERY))
    fi
    if ((now >= next_sync)); then
        publish_version "$UP" "$UP_TOKEN" soak-upstream "0.0.$((syncs + 2))" || true
        run=$(curl -fsS -X POST -H "Authorization: $TOKEN" -d '{"source":"upstream"}' \
            "$BASE/admin/v1/sync" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run"])') || run=""
        status="failed"
        for _ in $(seq 300); do
            [[ -n "$run" ]] || break
            status=$(curl -fsS -H "Authorization: $TOKEN" "$BASE/admin/v1/sync-runs" | python3 -c "
import json,sys
runs=[r for r in json.load(sys.stdin)['runs'] if r['id']==$run]
print(runs[0]['status'] if runs else 'missing')")
            [[ "$status" == running ]] || break
            sleep 0.2
        done
        if [[ "$status" == completed ]]; then syncs=$((syncs + 1)); else
            sync_failures=$((sync_failures + 1)); log "sync run $run ended $status"; fi
        next_sync=$(($(date +%s) + SYNC_EVERY))
    fi
    sleep 0.5
done
wait "$WRK1" "$WRK2" || true
curl -fsS -H "Authorization: $TOKEN" "$BASE/metrics" > "$TMP/metrics.txt"
kill -0 "$DPID" || die "the daemon died during the soak"

# growth FILE COLUMN: percent change of the column's median from the first
# tenth of the samples after the first minute to the last tenth.
growth() {
    python3 - "$1" "$2" <<'PY'
import sys, statistics
rows = [list(map(int, l.split(','))) for l in open(sys.argv[1]) if l.strip()]
col = int(sys.argv[2])
warm = [r for r in rows if r[0] >= 60] or rows
k = max(1, len(warm) // 10)
first = statistics.median(r[col] for r in warm[:k])
last = statistics.median(r[col] for r in warm[-k:])
print(f"{first:.0f} {last:.0f} {100.0 * (last - first) / first:.1f}")
PY
}
[[ -z "${SAMPLES_OUT:-}" ]] || cp "$TMP/samples.csv" "$SAMPLES_OUT"
read -r rss_first rss_last rss_growth < <(growth "$TMP/samples.csv" 1)
read -r fds_first fds_last fds_growth < <(growth "$TMP/samples.csv" 2)
rss_max=$(awk -F, '$2 > m { m = $2 } END { print m }' "$TMP/samples.csv")
requests=$(awk '/^skillreg_http_requests_total/ { s += $2 } END { printf "%d", s }' "$TMP/metrics.txt")
errors=""
for f in index download; do
    e="$(wrk_non2xx "$TMP/wrk-$f.txt")$(wrk_socket_errors "$TMP/wrk-$f.txt")"
    [[ -z "$e" ]] || errors+="$f: $e; "
done
verdict=pass
[[ -z "$errors" ]] || verdict=fail
((publish_failures == 0 && sync_failures == 0)) || verdict=fail
awk -v g="$rss_growth" 'BEGIN { exit !(g < 10) }' || verdict=fail
awk -v g="$fds_growth" 'BEGIN { exit !(g < 10) }' || verdict=fail

content="$TMP/section.md"
{
    echo "## Soak"
    echo
    echo "\`DURATION=$DURATION bash bench/soak.sh\` on $(nproc) cores, $(date -u +%Y-%m-%d) (checkout at commit $COMMIT when the run started):"
    echo "wrk on an index file and on a download, ${CONNECTIONS} connections each, for ${DURATION} s;"
    echo "a publish every ${PUBLISH_EVERY} s, a mirror sync of a second daemon every ${SYNC_EVERY} s, the background fsck every 60 s."
    echo
    echo "| | result |"
    echo "|---|---|"
    echo "| verdict | **$verdict** |"
    echo "| index requests/s (p50, p99) | $(wrk_rps "$TMP/wrk-index.txt") ($(wrk_pct "$TMP/wrk-index.txt" 50) ms, $(wrk_pct "$TMP/wrk-index.txt" 99) ms) |"
    echo "| download requests/s (p50, p99) | $(wrk_rps "$TMP/wrk-download.txt") ($(wrk_pct "$TMP/wrk-download.txt" 50) ms, $(wrk_pct "$TMP/wrk-download.txt" 99) ms) |"
    echo "| requests the daemon counted (\`skillreg_http_requests_total\`) | $requests |"
    echo "| error responses and socket errors | ${errors:-none} |"
    echo "| publishes (failed) | $published ($publish_failures) |"
    echo "| sync runs completed (failed) | $syncs ($sync_failures) |"
    echo "| RSS, first tenth → last tenth (max) | ${rss_first} KiB → ${rss_last} KiB, ${rss_growth} % (${rss_max} KiB) |"
    echo "| open descriptors, first tenth → last tenth | ${fds_first} → ${fds_last}, ${fds_growth} % |"
} > "$content"
if [[ -n "${NO_WRITE:-}" ]]; then
    cat "$content"
else
    replace_section "$OUT" "$content"
fi
log "soak: $verdict (RSS ${rss_growth} %, fds ${fds_growth} %, errors: ${errors:-none})"
[[ "$verdict" == pass ]]
