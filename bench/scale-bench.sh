#!/usr/bin/env bash
# Scale benchmark (issue 14 item 5): one skillreg holding PACKAGES skills x
# VERSIONS versions (default 100,000 x 3), measured only through HTTP and the
# CLI, so it keeps working when the snapshot format, search and storage
# change underneath:
#   1. publish latency p50/p99 at 10 packages and at PACKAGES packages;
#   2. metadata bytes a fresh `skillreg install` downloads, and the requests
#      a warm client makes with nothing changed (counted by an nginx proxy);
#   3. search p99 under 64 connections with downloads running alongside;
#   4. an index hit under `auth_required` against nginx serving the same bytes;
#   5. start-up time (until /healthz answers) and RSS;
#   6. a full mirror by a second daemon with a `registry` source, and a
#      no-change re-sync;
# plus a perf profile of publishes at PACKAGES. Writes its section of
# BENCHMARKS.md (between the scale-bench markers). Not run in CI.
#
#   bash bench/scale-bench.sh                  # 100,000 packages
#   PACKAGES=10000 bash bench/scale-bench.sh   # a faster validation run
#
# Environment: PACKAGES (default 100000), VERSIONS (3), PUBLISHES (100 per
# size), PROFILE_PUBLISHES (20; 0 or no perf: no profile), SEED_BATCH (1000
# versions per transaction), DURATION (search load, s, default 10),
# INDEX_DURATION (s per round, default 5), ROUNDS (index rounds, default 3),
# MIRROR=0 (skip the mirror), SYNC_TIMEOUT (full mirror, s, default 900),
# STARTUP_TIMEOUT (s, default 900), SKILLREG_BIN and SEED_BIN (use these
# instead of building), KEEP_TMP=1, OUT (instead of BENCHMARKS.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_FILE="${OUT:-$ROOT/BENCHMARKS.md}"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
OUT="$OUT_FILE"
PACKAGES="${PACKAGES:-100000}"
VERSIONS="${VERSIONS:-3}"
PUBLISHES="${PUBLISHES:-100}"
PROFILE_PUBLISHES="${PROFILE_PUBLISHES:-20}"
SEED_BATCH="${SEED_BATCH:-1000}"
DURATION="${DURATION:-10}"
INDEX_DURATION="${INDEX_DURATION:-5}"
ROUNDS="${ROUNDS:-3}"
MIRROR="${MIRROR:-1}"
SYNC_TIMEOUT="${SYNC_TIMEOUT:-900}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-900}"
SMALL=10
MARK_START='<!-- scale-bench:start -->'
MARK_END='<!-- scale-bench:end -->'
# Targets (issue 14).
T_PUB_P50_MS=20        # and within 2x of the 10-package p50
T_INSTALL_KB=50
T_WARM_REQUESTS=2
T_SEARCH_P99_MS=10
T_INDEX_RATIO=0.9
T_START_S=3
T_RSS_MB=150
T_MIRROR_S=300
T_RESYNC_S=1
T_RESYNC_REQUESTS=3

for v in PACKAGES VERSIONS PUBLISHES SEED_BATCH DURATION INDEX_DURATION ROUNDS; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number"
done
((PACKAGES >= 10)) || die "PACKAGES must be at least 10"
NGINX="$(find_nginx)"
[[ -n "$NGINX" ]] || die "missing nginx (apt-get install nginx)"
for tool in wrk curl python3 cmp awk timeout; do
    command -v "$tool" >/dev/null 2>&1 || die "missing $tool"
done
PERF="$(command -v perf 2>/dev/null || true)"

if [[ -n "${SKILLREG_BIN:-}" && -n "${SEED_BIN:-}" ]]; then
    BIN="$SKILLREG_BIN"
    SEED="$SEED_BIN"
else
    log "cargo build --release --bin skillreg --example mirror_bench_seed"
    (cd "$ROOT" && cargo build --release --bin skillreg --example mirror_bench_seed)
    BIN="$ROOT/target/release/skillreg"
    SEED="$ROOT/target/release/examples/mirror_bench_seed"
fi
[[ -x "$BIN" && -x "$SEED" ]] || die "$BIN or $SEED is missing"
SCALE="$ROOT/bench/scale"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/skillreg-scale-bench.XXXXXX")"
PIDS=()
cleanup() {
    local rc=$? pid
    set +e
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    if [[ "${KEEP_TMP:-0}" == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
write_sync_py "$TMP/sync.py"

# daemon_config FILE [EXTRA]: rate limits off, the background fsck off (it
# would re-hash every blob while we measure), then EXTRA.
daemon_config() {
    printf 'fsck_interval = "0"\n%s\n[rate_limit]\nper_ip_per_second = 0\nper_token_per_second = 0\n' \
        "${2:-}" > "$1"
}

# start_measured NAME DATA CONFIG: start_daemon, then waits for /healthz;
# sets HEALTHZ_SECS (exec to the first 200 from /healthz).
start_measured() {
    local t0
    t0="$(date +%s.%N)"
    start_daemon "$1" "$2" "$3" "info"
    PIDS+=("$START_PID")
    for _ in $(seq 600); do
        curl -fsS -o /dev/null "$START_URL/healthz" 2>/dev/null && break
        sleep 0.01
    done
    curl -fsS -o /dev/null "$START_URL/healthz" || die "$1 does not answer /healthz"
    HEALTHZ_SECS="$(secs_since "$t0")"
}

# publish_run BASE TOKEN PACKAGES COUNT FIRST OUTFILE
publish_run() {
    timeout 1800 python3 "$SCALE/publish.py" "$@" > "$TMP/pub.json" \
        || die "publishing failed"
    mv "$TMP/pub.json" "$6"
}

fmt() { awk -v v="$1" -v d="${2:-2}" 'BEGIN { printf "%.*f", d, v }'; }
pf() { # VALUE LIMIT [ge]: PASS when VALUE <= LIMIT (>= with ge)
    awk -v v="$1" -v l="$2" -v ge="${3:-}" 'BEGIN {
        ok = (ge == "ge") ? (v + 0 >= l + 0) : (v + 0 <= l + 0); print (ok ? "PASS" : "FAIL") }'
}
ROWS=()
row() { ROWS+=("| $1 | $2 | $3 | **$4** |"); log "$1: $2 (target $3): $4"; }

# ---------------------------------------------------------------------------
# 1a. Publish latency at 10 packages
# ---------------------------------------------------------------------------

log "seeding $SMALL packages x $VERSIONS versions"
"$SEED" "$TMP/small" "$SMALL" "$VERSIONS" > /dev/null 2> "$TMP/seed-small.err" \
    || { cat "$TMP/seed-small.err" >&2; die "seeding failed"; }
daemon_config "$TMP/small.toml"
start_measured small "$TMP/small" "$TMP/small.toml"
SMALL_PID="$START_PID"
log "publishing $PUBLISHES versions at $SMALL packages"
publish_run "$START_URL" "$(admin_token "$TMP/small")" "$SMALL" "$PUBLISHES" 0 "$TMP/pub-small.json"
stop_pid "$SMALL_PID"
P10_50="$(json_get "$TMP/pub-small.json" 'd["p50_ms"]')"
P10_99="$(json_get "$TMP/pub-small.json" 'd["p99_ms"]')"

# ---------------------------------------------------------------------------
# Seed PACKAGES x VERSIONS, start (5), publish latency at N (1b), profile
# ---------------------------------------------------------------------------

BIG="$TMP/big"
log "seeding $PACKAGES packages x $VERSIONS versions (--batch $SEED_BATCH)"
SEED_T0="$(date +%s.%N)"
"$SEED" "$BIG" "$PACKAGES" "$VERSIONS" --batch "$SEED_BATCH" > "$TMP/seed.out" 2> "$TMP/seed.err" \
    || { cat "$TMP/seed.err" >&2; die "seeding failed"; }
SEED_SECS="$(secs_since "$SEED_T0")"
SEED_LINE="$(grep '^seeded ' "$TMP/seed.out")"
log "seeded in $SEED_SECS s"

daemon_config "$TMP/big.toml"
start_measured big "$BIG" "$TMP/big.toml"
BIG_PID="$START_PID"
BIG_URL="$START_URL"
START1_LISTEN="$START_SECS"
START1_HEALTHZ="$HEALTHZ_SECS"
RSS_START="$(rss_mib "$BIG_PID")"
TOKEN="$(admin_token "$BIG")"
log "big daemon at $BIG_URL: /healthz after $START1_HEALTHZ s, RSS $RSS_START MiB"
"$BIN" key export-root --data "$BIG" > "$TMP/root.json"
curl -fsS "$BIG_URL/index/_skillreg/timestamp.json" -o "$TMP/timestamp.json"
SNAPSHOT_BYTES="$(python3 -c 'import base64, json, sys; e = json.load(open(sys.argv[1])); print(json.loads(base64.b64decode(e["payload"]))["snapshot"]["length"])' "$TMP/timestamp.json" 2>/dev/null || echo "?")"

log "publishing $PUBLISHES versions at $PACKAGES packages"
CPU0="$(cpu_secs "$BIG_PID")"
publish_run "$BIG_URL" "$TOKEN" "$PACKAGES" "$PUBLISHES" 0 "$TMP/pub-big.json"
# The daemon's CPU per publish next to the wall time: the rest is waiting
# (fsync, locks), which perf's CPU samples do not see.
PUB_CPU_MS="$(awk -v a="$CPU0" -v b="$(cpu_secs "$BIG_PID")" -v n="$PUBLISHES" 'BEGIN { printf "%.1f", (b - a) * 1000 / n }')"
PUB_MEAN="$(json_get "$TMP/pub-big.json" 'd["mean_ms"]')"
PN_50="$(json_get "$TMP/pub-big.json" 'd["p50_ms"]')"
PN_99="$(json_get "$TMP/pub-big.json" 'd["p99_ms"]')"
PUB_RATIO="$(awk -v a="$PN_50" -v b="$P10_50" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"

PROFILE_TEXT="(no profile: perf is not installed or PROFILE_PUBLISHES=0)"
if [[ -n "$PERF" && "$PROFILE_PUBLISHES" -gt 0 ]]; then
    log "profiling $PROFILE_PUBLISHES more publishes with perf"
    "$PERF" record -q -F 499 --call-graph dwarf,32768 -p "$BIG_PID" -o "$TMP/perf.data" \
        > "$TMP/perf.out" 2>&1 &
    PERF_PID=$!
    sleep 1
    publish_run "$BIG_URL" "$TOKEN" "$PACKAGES" "$PROFILE_PUBLISHES" "$PUBLISHES" "$TMP/pub-prof.json"
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    if timeout 600 "$PERF" report -i "$TMP/perf.data" --children --stdio --no-inline -g none \
            --percent-limit 0.3 --sort symbol > "$TMP/perf.txt" 2> "$TMP/perf-report.err"; then
        PROFILE_TEXT="$(python3 "$SCALE/breakdown.py" "$TMP/perf.txt")"
    else
        PROFILE_TEXT="(perf report failed: $(head -c 300 "$TMP/perf-report.err"))"
    fi
fi

# ---------------------------------------------------------------------------
# 2. A fresh and a warm `skillreg install`, through an nginx proxy
# ---------------------------------------------------------------------------

PROXY_PORT="$(free_port)"
mkdir -p "$TMP/proxy/temp"
cat > "$TMP/proxy/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $TMP/proxy/nginx.pid;
error_log $TMP/proxy/error.log warn;
events { worker_connections 1024; }
http {
    log_format scale '\$request_method \$request_uri \$status \$body_bytes_sent';
    access_log $TMP/proxy/access.log scale;
    client_body_temp_path $TMP/proxy/temp/client;
    proxy_temp_path $TMP/proxy/temp/proxy;
    fastcgi_temp_path $TMP/proxy/temp/fastcgi;
    uwsgi_temp_path $TMP/proxy/temp/uwsgi;
    scgi_temp_path $TMP/proxy/temp/scgi;
    client_max_body_size 64m;
    upstream skillreg { server ${BIG_URL#http://}; keepalive 32; }
    server {
        listen 127.0.0.1:$PROXY_PORT;
        location / {
            proxy_pass http://skillreg;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$http_host;
            proxy_read_timeout 600s;
        }
    }
}
EOF
"$NGINX" -p "$TMP/proxy" -e "$TMP/proxy/error.log" -c "$TMP/proxy/nginx.conf" &
PIDS+=($!)
PROXY="http://127.0.0.1:$PROXY_PORT"
for _ in $(seq 100); do curl -fsS -o /dev/null "$PROXY/healthz" 2>/dev/null && break; sleep 0.1; done
curl -fsS -o /dev/null "$PROXY/healthz" || die "the nginx proxy does not answer"
log_lines() { wc -l < "$TMP/proxy/access.log" | tr -d ' '; }
# tally FROM TO NAME: the proxy log's lines FROM+1..TO summarised in NAME.json.
tally() {
    sed -n "$(($1 + 1)),$2p" "$TMP/proxy/access.log" | python3 -c '
import json, sys
lines = [l.split() for l in sys.stdin if l.strip()]
meta = [l for l in lines if not l[1].endswith("/download")]
json.dump({"requests": len(lines), "bytes": sum(int(l[3]) for l in lines),
           "meta_requests": len(meta), "meta_bytes": sum(int(l[3]) for l in meta),
           "lines": [" ".join(l) for l in lines[:40]],
           "statuses": sorted({l[2] for l in lines})}, sys.stdout)' > "$TMP/$3.json"
}

PKG="bench-$(printf '%05d' $((PACKAGES * 4242 / 10000)))"
mkdir -p "$TMP/client/project"
install_once() { # NAME
    local from
    from="$(log_lines)"
    XDG_STATE_HOME="$TMP/client/state" XDG_CACHE_HOME="$TMP/client/cache" HOME="$TMP/client" \
        timeout 600 "$BIN" install "$PKG" --registry "$PROXY" --trust-root "$TMP/root.json" \
        --dir "$TMP/client/project" > "$TMP/$1.out" 2>&1 \
        || { cat "$TMP/$1.out" >&2; die "skillreg install ($1) failed"; }
    sleep 0.2
    tally "$from" "$(log_lines)" "$1"
}
log "fresh install of $PKG"
T0="$(date +%s.%N)"; install_once install-cold; COLD_SECS="$(secs_since "$T0")"
log "warm install, nothing changed"
T0="$(date +%s.%N)"; install_once install-warm; WARM_SECS="$(secs_since "$T0")"
COLD_KB="$(json_get "$TMP/install-cold.json" 'round(d["meta_bytes"] / 1000, 1)')"
COLD_REQ="$(json_get "$TMP/install-cold.json" 'd["requests"]')"
COLD_LINES="$(json_get "$TMP/install-cold.json" '"\n".join(d["lines"])')"
WARM_REQ="$(json_get "$TMP/install-warm.json" 'd["requests"]')"
WARM_LINES="$(json_get "$TMP/install-warm.json" '"\n".join(d["lines"])')"

# ---------------------------------------------------------------------------
# 3. Search p99 under 64 connections, downloads alongside
# ---------------------------------------------------------------------------

curl -fsS "$BIG_URL/api/v1/crates?q=$PKG&per_page=10" -o "$TMP/search.json"
grep -q "\"$PKG\"" "$TMP/search.json" || die "searching for $PKG does not find it"
export PACKAGES VERSIONS
log "search under load: wrk -c64 search + wrk -c8 downloads for ${DURATION}s"
wrk -t1 -c8 -d"$((DURATION + 4))s" -s "$SCALE/download.lua" "$BIG_URL" > "$TMP/wrk.download" &
DL_WRK=$!
sleep 2
wrk -t2 -c64 -d"${DURATION}s" --latency -s "$SCALE/search.lua" "$BIG_URL" > "$TMP/wrk.search"
wait "$DL_WRK" || true
[[ -z "$(wrk_non2xx "$TMP/wrk.search")" ]] || { cat "$TMP/wrk.search" >&2; die "search answered errors"; }
[[ -z "$(wrk_non2xx "$TMP/wrk.download")" ]] || { cat "$TMP/wrk.download" >&2; die "downloads answered errors"; }
S_P50="$(wrk_pct "$TMP/wrk.search" 50)"
S_P99="$(wrk_pct "$TMP/wrk.search" 99)"
S_RPS="$(wrk_rps "$TMP/wrk.search")"
D_RPS="$(wrk_rps "$TMP/wrk.download")"

# ---------------------------------------------------------------------------
# 6. Full mirror through the proxy, and a no-change re-sync
# ---------------------------------------------------------------------------

MIRROR_ROW_FULL="skipped (MIRROR=0)"; MIRROR_ROW_RE="skipped"; FULL_PF="n/a"; RE_PF="n/a"; REQ_PF="n/a"
FULL_SECS=""; RE_SECS=""; RE_REQ=""; RE_LINES=""
if [[ "$MIRROR" == 1 ]]; then
    cat > "$TMP/down.toml" <<EOF
fsck_interval = "0"

[rate_limit]
per_ip_per_second = 0
per_token_per_second = 0

[[sources]]
name = "up"
kind = "registry"
url = "$PROXY"
root_key = "$TMP/root.json"
interval = "0"
auto_approve = false
EOF
    start_daemon down "$TMP/down" "$TMP/down.toml" "info"
    DOWN_PID="$START_PID"; PIDS+=("$DOWN_PID")
    DOWN_URL="$START_URL"
    DTOKEN="$(admin_token "$TMP/down")"
    log "full mirror of $((PACKAGES * VERSIONS)) versions (timeout ${SYNC_TIMEOUT}s)"
    from="$(log_lines)"
    rc=0
    python3 "$TMP/sync.py" "$DOWN_URL" "$DTOKEN" 0.5 "$SYNC_TIMEOUT" > "$TMP/full.json" || rc=$?
    [[ -s "$TMP/full.json" ]] || die "the full sync failed"
    tally "$from" "$(log_lines)" mirror-full
    FULL_SECS="$(json_get "$TMP/full.json" 'd["wall_seconds"]')"
    FULL_STATUS="$(json_get "$TMP/full.json" 'd["status"]')"
    FULL_COUNTS="$(json_get "$TMP/full.json" '", ".join(f"{k} {d.get(k)}" for k in ("discovered", "added", "unchanged", "skipped", "failed"))')"
    FULL_REQ="$(json_get "$TMP/mirror-full.json" 'd["requests"]')"
    if [[ "$rc" -ne 0 ]]; then
        MIRROR_ROW_FULL="did not finish within ${SYNC_TIMEOUT} s ($FULL_COUNTS so far, $FULL_REQ requests)"
        FULL_PF=FAIL
        MIRROR_ROW_RE="not run (the full sync did not finish)"
    else
        MIRROR_ROW_FULL="$FULL_SECS s ($FULL_STATUS; $FULL_COUNTS; $FULL_REQ upstream requests)"
        FULL_PF="$(pf "$FULL_SECS" "$T_MIRROR_S")"
        [[ "$FULL_STATUS" == completed ]] || FULL_PF=FAIL
        log "no-change re-sync"
        from="$(log_lines)"
        python3 "$TMP/sync.py" "$DOWN_URL" "$DTOKEN" 0.01 120 > "$TMP/resync.json" || die "the re-sync failed"
        sleep 0.2
        tally "$from" "$(log_lines)" mirror-resync
        RE_SECS="$(json_get "$TMP/resync.json" 'd["wall_seconds"]')"
        RE_REQ="$(json_get "$TMP/mirror-resync.json" 'd["requests"]')"
        RE_LINES="$(json_get "$TMP/mirror-resync.json" '"\n".join(d["lines"])')"
        MIRROR_ROW_RE="$RE_SECS s, $RE_REQ requests ($(json_get "$TMP/resync.json" 'd["status"]'))"
        RE_PF="$(pf "$RE_SECS" "$T_RESYNC_S")"
        REQ_PF="$(pf "$RE_REQ" "$T_RESYNC_REQUESTS")"
    fi
    stop_pid "$DOWN_PID"
fi
RSS_PEAK="$(awk '$1 == "VmHWM:" { printf "%.1f\n", $2 / 1024 }' "/proc/$BIG_PID/status")"
RSS_END="$(rss_mib "$BIG_PID")"
stop_pid "$BIG_PID"

# ---------------------------------------------------------------------------
# 4. An index hit under auth_required vs nginx; 5. a second (warm) start
# ---------------------------------------------------------------------------

RTOKEN="$("$BIN" token create --data "$BIG" --role reader --name scale-reader)"
daemon_config "$TMP/auth.toml" "auth_required = true"
start_measured auth "$BIG" "$TMP/auth.toml"
AUTH_PID="$START_PID"; AUTH_URL="$START_URL"
START2_HEALTHZ="$HEALTHZ_SECS"
RSS_START2="$(rss_mib "$AUTH_PID")"
IPATH="/index/${PKG:0:2}/${PKG:2:2}/$PKG"
code="$(curl -s -o /dev/null -w '%{http_code}' "$AUTH_URL$IPATH")"
[[ "$code" == 401 ]] || die "GET $IPATH without a token answered $code, not 401: auth_required is off"
mkdir -p "$TMP/www$(dirname "$IPATH")"
curl -fsS -H "Authorization: $RTOKEN" "$AUTH_URL$IPATH" -o "$TMP/www$IPATH"
NGINX_PORT="$(free_port)"
write_nginx_conf "$TMP" "$NGINX_PORT"
chmod -R a+rX "$TMP/www"; chmod a+rx "$TMP"
"$NGINX" -p "$TMP" -e "$TMP/nginx.err" -c "$TMP/nginx.conf" &
PIDS+=($!)
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$NGINX_PORT$IPATH" 2>/dev/null && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$NGINX_PORT$IPATH" -o "$TMP/body.nginx"
cmp "$TMP/www$IPATH" "$TMP/body.nginx" || die "nginx does not serve the same bytes"
INDEX_BYTES="$(wc -c < "$TMP/body.nginx" | tr -d ' ')"
RATIOS=(); IDX_ROUNDS=()
for round in $(seq "$ROUNDS"); do
    wrk -t2 -c64 -d"${INDEX_DURATION}s" --latency -H "Authorization: $RTOKEN" "$AUTH_URL$IPATH" > "$TMP/wrk.auth"
    wrk -t2 -c64 -d"${INDEX_DURATION}s" --latency "http://127.0.0.1:$NGINX_PORT$IPATH" > "$TMP/wrk.nginx"
    for f in auth nginx; do
        [[ -z "$(wrk_non2xx "$TMP/wrk.$f")" ]] || { cat "$TMP/wrk.$f" >&2; die "$f answered errors"; }
    done
    a="$(wrk_rps "$TMP/wrk.auth")"; n="$(wrk_rps "$TMP/wrk.nginx")"
    r="$(awk -v a="$a" -v b="$n" 'BEGIN { printf "%.2f", a / b }')"
    RATIOS+=("$r")
    IDX_ROUNDS+=("round $round: skillreg $(fmt "$a" 0)/s p99 $(wrk_pct "$TMP/wrk.auth" 99) ms, nginx $(fmt "$n" 0)/s p99 $(wrk_pct "$TMP/wrk.nginx" 99) ms, ratio $r")
    log "${IDX_ROUNDS[-1]}"
done
RATIO="$(printf '%s\n' "${RATIOS[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')"
stop_pid "$AUTH_PID"

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

PUB_PF="$(pf "$PN_50" "$T_PUB_P50_MS")"
[[ "$(pf "$PUB_RATIO" 2)" == PASS ]] || PUB_PF=FAIL
row "1. publish p50 / p99 at $SMALL packages" "$(fmt "$P10_50") / $(fmt "$P10_99") ms" "reference" "—"
row "1. publish p50 / p99 at $PACKAGES packages" "$(fmt "$PN_50") / $(fmt "$PN_99") ms ($PUB_RATIO× the $SMALL-package p50)" "p50 <= $T_PUB_P50_MS ms and <= 2×" "$PUB_PF"
row "2. metadata a fresh install downloads" "$COLD_KB kB in $COLD_REQ requests (bundle excluded; $(fmt "$COLD_SECS") s)" "<= $T_INSTALL_KB kB" "$(pf "$COLD_KB" "$T_INSTALL_KB")"
row "2. requests of a warm install, nothing changed" "$WARM_REQ ($(fmt "$WARM_SECS") s)" "<= $T_WARM_REQUESTS" "$(pf "$WARM_REQ" "$T_WARM_REQUESTS")"
row "3. search p99 (64 connections, downloads alongside)" "$(fmt "$S_P99") ms (p50 $(fmt "$S_P50") ms, $(fmt "$S_RPS" 0) searches/s; $(fmt "$D_RPS" 0) downloads/s alongside)" "<= $T_SEARCH_P99_MS ms" "$(pf "$S_P99" "$T_SEARCH_P99_MS")"
row "4. auth_required index hit / nginx, requests/s" "$RATIO (median of $ROUNDS)" ">= $T_INDEX_RATIO" "$(pf "$RATIO" "$T_INDEX_RATIO" ge)"
row "5. start-up until /healthz, fresh data dir" "$(fmt "$START1_HEALTHZ") s (listening after $START1_LISTEN s)" "<= $T_START_S s" "$(pf "$START1_HEALTHZ" "$T_START_S")"
row "5. start-up until /healthz, restart" "$(fmt "$START2_HEALTHZ") s" "<= $T_START_S s" "$(pf "$START2_HEALTHZ" "$T_START_S")"
row "5. RSS after start-up" "$RSS_START MiB (restart: $RSS_START2 MiB)" "<= $T_RSS_MB MB" "$(pf "$RSS_START" "$T_RSS_MB")"
row "5. RSS peak over the run (VmHWM)" "$RSS_PEAK MiB (at the end: $RSS_END MiB)" "<= $T_RSS_MB MB" "$(pf "$RSS_PEAK" "$T_RSS_MB")"
row "6. full mirror of $((PACKAGES * VERSIONS)) versions" "$MIRROR_ROW_FULL" "<= $T_MIRROR_S s" "$FULL_PF"
row "6. no-change re-sync" "$MIRROR_ROW_RE" "<= $T_RESYNC_S s and <= $T_RESYNC_REQUESTS requests" "$RE_PF / $REQ_PF"

COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
DIRTY=""
[[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock 2>/dev/null)" ]] \
    || DIRTY=" (with uncommitted changes in src/)"
# The knobs that differ from their defaults, so the command reproduces the run.
ENV_PREFIX=""
for kv in PACKAGES=100000 VERSIONS=3 PUBLISHES=100 PROFILE_PUBLISHES=20 SEED_BATCH=1000 \
        DURATION=10 INDEX_DURATION=5 ROUNDS=3 MIRROR=1 SYNC_TIMEOUT=900; do
    k="${kv%%=*}"
    [[ "${!k}" == "${kv#*=}" ]] || ENV_PREFIX+="$k=${!k} "
done
{
    echo "## Scale: $PACKAGES packages × $VERSIONS versions"
    echo
    echo "- Date: $(date -u)"
    echo "- Machine: $(machine_line)"
    echo "- Commit: \`$COMMIT\`$DIRTY"
    echo "- Command: \`${ENV_PREFIX}bash bench/scale-bench.sh\`"
    echo "- Setup: release daemons on 127.0.0.1, rate limits and the background fsck off,"
    echo "  clients (python, wrk, \`skillreg install\`) on the same 2-core machine. Seeded with"
    echo "  \`mirror_bench_seed --batch $SEED_BATCH\` in $(fmt "$SEED_SECS" 1) s; signed snapshot $SNAPSHOT_BYTES bytes."
    echo "  Publishes: $PUBLISHES sequential \`PUT /api/v1/crates/new\` of a new version of an"
    echo "  existing skill, one keep-alive connection, timed request to response. Install and"
    echo "  mirror requests and bytes are counted by an nginx proxy's access log"
    echo "  (\`\$body_bytes_sent\`) in front of the daemon; search and index loads go direct."
    echo
    echo "| figure | value | target | result |"
    echo "| --- | --- | --- | --- |"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "Where a publish's time goes at $PACKAGES packages: the daemon used $PUB_CPU_MS ms of CPU per"
    echo "publish against a mean wall time of $(fmt "$PUB_MEAN") ms (the rest is waiting: fsyncs, locks)."
    echo "The CPU part, by perf ($PROFILE_PUBLISHES more publishes, \`perf record --call-graph dwarf\`,"
    echo "inclusive share of the samples, and of those under \`Registry::publish\`):"
    echo
    echo '```'
    echo "$PROFILE_TEXT"
    echo '```'
    echo
    echo "<details><summary>Requests: fresh install, warm install, no-change re-sync; index rounds</summary>"
    echo
    echo '```'
    echo "# fresh install of $PKG"
    echo "$COLD_LINES"
    echo "# warm install"
    echo "$WARM_LINES"
    echo "# no-change re-sync"
    echo "${RE_LINES:-(not run)}"
    echo "# index under auth_required ($INDEX_BYTES bytes, wrk -t2 -c64 -d${INDEX_DURATION}s)"
    printf '%s\n' "${IDX_ROUNDS[@]}"
    echo '```'
    echo
    echo "Seed: \`$SEED_LINE\`"
    echo
    echo "</details>"
} > "$TMP/section.md"
replace_section "$OUT" "$TMP/section.md"
log "wrote $OUT"
printf '%s\n' "${ROWS[@]}" >&2
