#!/usr/bin/env bash
# Sparse-index benchmark: skillreg vs nginx serving the SAME BYTES of one hot
# index file, measured with wrk in one run on this machine. Writes the
# results into BENCHMARKS.md (between the index-bench markers) at the repo
# root. Not run in CI.
#
#   bash bench/index-bench.sh              # 10 s per measured run
#   DURATION=30 bash bench/index-bench.sh
#
# Environment: DURATION (seconds, default 10), THREADS (wrk -t, default 2),
# CONNECTIONS (wrk -c, default 64), SKILLREG_BIN (use this binary instead of
# building target/release/skillreg).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/BENCHMARKS.md"
DURATION="${DURATION:-10}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-64}"
WARMUP=2
CRATE=bench-skill
INDEX_PATH="/index/be/nc/$CRATE"
MARK_START='<!-- index-bench:start -->'
MARK_END='<!-- index-bench:end -->'

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Parsing helpers (pure functions of their input; sourced by the self-test).
# ---------------------------------------------------------------------------

# to_ms VALUE: a wrk duration ("512.00us", "1.20ms", "1.01s", "2.00m",
# "1.00h") to milliseconds, printed with 3 decimals.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (match(v, /^[0-9]+(\.[0-9]+)?/) == 0) { exit 1 }
        n = substr(v, 1, RLENGTH); u = substr(v, RLENGTH + 1)
        if (u == "us")      f = 0.001
        else if (u == "ms") f = 1
        else if (u == "s")  f = 1000
        else if (u == "m")  f = 60000
        else if (u == "h")  f = 3600000
        else exit 1
        printf "%.3f\n", n * f
    }'
}

# wrk_rps FILE: the Requests/sec figure of a wrk output.
wrk_rps() {
    awk '$1 == "Requests/sec:" { print $2; found = 1 } END { exit !found }' "$1"
}

# wrk_pct FILE PCT: the latency at percentile PCT ("50", "99") of a wrk
# --latency output, in ms.
wrk_pct() {
    local raw
    raw="$(awk -v p="$2%" '
        /Latency Distribution/ { in_dist = 1; next }
        in_dist && $1 == p { print $2; found = 1; exit }
        END { exit !found }' "$1")" || return 1
    to_ms "$raw"
}

# wrk_non2xx FILE: wrk's "Non-2xx or 3xx responses" line, empty if none.
# Such a run measured error responses (404, 429 ...), not the index file.
wrk_non2xx() {
    grep -E 'Non-2xx or 3xx responses' "$1" | sed 's/^[[:space:]]*//' || true
}

# wrk_socket_errors FILE: wrk's "Socket errors" line (connect/read/write/
# timeout counts), empty if none. Reported next to the numbers.
wrk_socket_errors() {
    grep -E 'Socket errors' "$1" | sed 's/^[[:space:]]*//' || true
}

# replace_section FILE CONTENT_FILE: put CONTENT_FILE between the markers in
# FILE, leaving everything outside them alone. Creates FILE, or appends the
# markers, when they are missing.
replace_section() {
    local file="$1" content="$2" tmp
    if [[ ! -f "$file" ]]; then
        printf '# Benchmarks\n\n%s\n%s\n' "$MARK_START" "$MARK_END" > "$file"
    fi
    local starts ends
    starts="$(grep -cxF "$MARK_START" "$file" || true)"
    ends="$(grep -cxF "$MARK_END" "$file" || true)"
    if [[ "$starts" -eq 0 && "$ends" -eq 0 ]]; then
        printf '\n%s\n%s\n' "$MARK_START" "$MARK_END" >> "$file"
    elif [[ "$starts" -ne 1 || "$ends" -ne 1 ]]; then
        echo "error: $file must have exactly one '$MARK_START' and one '$MARK_END' line" >&2
        return 1
    fi
    tmp="$(mktemp "$file.XXXXXX")"
    awk -v s="$MARK_START" -v e="$MARK_END" -v cf="$content" '
        $0 == s && !done { print; while ((getline l < cf) > 0) print l; skip = 1; next }
        $0 == e && skip  { print; skip = 0; done = 1; next }
        !skip            { print }' "$file" > "$tmp"
    mv "$tmp" "$file"
}

# write_nginx_conf DIR PORT: a minimal static-file nginx.conf at DIR/nginx.conf
# serving DIR/www on 127.0.0.1:PORT, with every path nginx writes (pid, logs,
# temp dirs) inside DIR so that it also runs without root. Run it with
#   nginx -p DIR -e DIR/nginx.err -c DIR/nginx.conf
# (-e: nginx opens its compiled-in error log before reading the config).
write_nginx_conf() {
    local dir="$1" port="$2"
    mkdir -p "$dir/nginx-temp"
    cat > "$dir/nginx.conf" <<EOF
# Minimal static file server; everything lives in $dir so that it also runs
# without root.
daemon off;
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/nginx.err warn;

events {
    worker_connections 1024;
}

http {
    access_log off;
    default_type text/plain;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65s;
    # The default (1000) would make wrk reconnect every 1000 requests.
    keepalive_requests 1000000;
    # Keep the hot file's descriptor open, as a tuned production nginx would,
    # so the peer is not handicapped by an open() per request.
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 60s;

    client_body_temp_path $dir/nginx-temp/client_body;
    proxy_temp_path       $dir/nginx-temp/proxy;
    fastcgi_temp_path     $dir/nginx-temp/fastcgi;
    uwsgi_temp_path       $dir/nginx-temp/uwsgi;
    scgi_temp_path        $dir/nginx-temp/scgi;

    server {
        listen 127.0.0.1:$port;
        root $dir/www;
    }
}
EOF
}

# free_port: an unused TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# stop_pid PID: SIGTERM, up to 5 s for it to exit, then SIGKILL.
stop_pid() {
    local pid="$1"
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# start_skillreg BIN DIR: `BIN serve` in the background with rate limiting
# off, config DIR/skillreg.toml, data DIR/data (kept if it exists), on a
# free port; sets SKILLREG_PID and BASE (its URL) once it listens (up to
# 600 s: a large seeded data directory is rendered and signed at start).
start_skillreg() {
    local bin="$1" dir="$2" first
    printf '[rate_limit]\nper_ip_per_second = 0\nper_token_per_second = 0\n' > "$dir/skillreg.toml"
    "$bin" serve --config "$dir/skillreg.toml" --data "$dir/data" --listen 127.0.0.1:0 \
        > "$dir/serve.out" 2> "$dir/serve.err" &
    SKILLREG_PID=$!
    BASE=""
    for _ in $(seq 6000); do
        if [[ "$(wc -l < "$dir/serve.out")" -ge 1 ]]; then
            first="$(head -n 1 "$dir/serve.out")"
            [[ "$first" =~ ^listening\ on\ (http://[^[:space:]]+)$ ]] || die "unexpected: $first"
            BASE="${BASH_REMATCH[1]%/}"
            return 0
        fi
        kill -0 "$SKILLREG_PID" 2>/dev/null || { cat "$dir/serve.err" >&2; die "skillreg exited"; }
        sleep 0.1
    done
    die "skillreg did not listen"
}

# stop_skillreg_and_nginx: the EXIT trap of a benchmark that ran both in
# $TMP: stops them, removes $TMP, keeps the exit status.
stop_skillreg_and_nginx() {
    local rc=$?
    set +e
    stop_pid "$SKILLREG_PID"
    stop_pid "$NGINX_PID"
    rm -rf "$TMP"
    exit "$rc"
}

# Allow `source bench/index-bench.sh` to get the helpers without running.
if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    return 0
fi

# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------

find_nginx() {
    # Debian puts nginx in /usr/sbin, which is not on non-root users' PATH.
    command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; } || true
}

missing=()
[[ -n "$(find_nginx)" ]] || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if ((${#missing[@]})); then
    if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        die "missing ${missing[*]}; install them first, e.g.: sudo apt-get install -y ${missing[*]}"
    fi
fi
for tool in curl python3 cmp awk; do
    command -v "$tool" >/dev/null 2>&1 || die "missing $tool"
done
NGINX="$(find_nginx)"

# ---------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------

if [[ -n "${SKILLREG_BIN:-}" ]]; then
    BIN="$SKILLREG_BIN"
    log "using $BIN (SKILLREG_BIN set, not building)"
else
    command -v cargo >/dev/null 2>&1 || die "missing cargo"
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release)
    BIN="$ROOT/target/release/skillreg"
fi
[[ -x "$BIN" ]] || die "$BIN not found or not executable"

# ---------------------------------------------------------------------------
# Temp dir and cleanup
# ---------------------------------------------------------------------------

TMP="$(mktemp -d "${TMPDIR:-/tmp}/skillreg-index-bench.XXXXXX")"
SKILLREG_PID=""
NGINX_PID=""

cleanup() {
    local rc=$?
    set +e
    stop_pid "$SKILLREG_PID"
    # nginx's master forwards the TERM to its workers; QUIT would wait for
    # keep-alive connections.
    stop_pid "$NGINX_PID"
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# skillreg
# ---------------------------------------------------------------------------

cat > "$TMP/skillreg.toml" <<'EOF'
[rate_limit]
per_ip_per_second = 0
per_token_per_second = 0
EOF

log "starting skillreg"
"$BIN" serve --config "$TMP/skillreg.toml" --data "$TMP/data" --listen 127.0.0.1:0 \
    > "$TMP/serve.out" 2> "$TMP/serve.err" &
SKILLREG_PID=$!

BASE=""
for _ in $(seq 300); do
    # Wait for a complete first line (with its newline), not a partial write.
    if [[ -s "$TMP/serve.out" ]] && [[ "$(wc -l < "$TMP/serve.out")" -ge 1 ]]; then
        first="$(head -n 1 "$TMP/serve.out")"
        if [[ "$first" =~ ^listening\ on\ (http://[^[:space:]]+)$ ]]; then
            BASE="${BASH_REMATCH[1]%/}"
            break
        fi
        die "unexpected first line from skillreg serve: $first"
    fi
    if ! kill -0 "$SKILLREG_PID" 2>/dev/null; then
        cat "$TMP/serve.err" >&2
        die "skillreg serve exited before listening"
    fi
    sleep 0.1
done
[[ -n "$BASE" ]] || { cat "$TMP/serve.err" >&2; die "skillreg did not print 'listening on' within 30 s"; }
log "skillreg at $BASE"

for _ in $(seq 50); do
    [[ -s "$TMP/data/admin.token" ]] && break
    sleep 0.1
done
[[ -s "$TMP/data/admin.token" ]] || die "no admin token at $TMP/data/admin.token"
TOKEN="$(head -n 1 "$TMP/data/admin.token" | tr -d '[:space:]')"

SKILL_DIR="$TMP/$CRATE"
mkdir -p "$SKILL_DIR"
for patch in 0 1 2 3 4 5 6 7 8 9; do
    version="1.0.$patch"
    cat > "$SKILL_DIR/SKILL.md" <<EOF
---
name: $CRATE
description: A skill used by the index benchmark.
metadata:
  version: "$version"
---
# Bench skill
EOF
    if ! "$BIN" publish "$SKILL_DIR" --registry "$BASE" --token "$TOKEN" \
            > "$TMP/publish.log" 2>&1; then
        cat "$TMP/publish.log" >&2
        die "publishing $CRATE $version failed"
    fi
done
log "published $CRATE 1.0.0 .. 1.0.9"

# ---------------------------------------------------------------------------
# nginx, serving a copy of the very bytes skillreg serves
# ---------------------------------------------------------------------------

mkdir -p "$TMP/www${INDEX_PATH%/*}"
INDEX_FILE="$TMP/www$INDEX_PATH"
curl -fsS "$BASE$INDEX_PATH" -o "$INDEX_FILE"
lines="$(wc -l < "$INDEX_FILE")"
[[ "$lines" -eq 10 ]] || log "warning: index file has $lines lines, expected 10"
BODY_BYTES="$(wc -c < "$INDEX_FILE" | tr -d ' ')"

# When run as root, nginx's workers drop to 'nobody', which must be able to
# reach the file; mktemp -d makes a 0700 directory. (The skillreg data dir
# keeps its own permissions.)
chmod 0755 "$TMP" "$TMP/www"
find "$TMP/www" -type d -exec chmod 0755 {} +
chmod 0644 "$INDEX_FILE"

NGINX_PORT="$(free_port)"
write_nginx_conf "$TMP" "$NGINX_PORT"

log "starting nginx on 127.0.0.1:$NGINX_PORT"
"$NGINX" -p "$TMP" -e "$TMP/nginx.err" -c "$TMP/nginx.conf" &
NGINX_PID=$!
NGINX_URL="http://127.0.0.1:$NGINX_PORT$INDEX_PATH"
for _ in $(seq 100); do
    curl -fsS -o /dev/null "$NGINX_URL" 2>/dev/null && break
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$TMP/nginx.err" >&2; die "nginx exited"; }
    sleep 0.1
done

SKILLREG_URL="$BASE$INDEX_PATH"
curl -fsS "$SKILLREG_URL" -o "$TMP/body.skillreg"
curl -fsS "$NGINX_URL" -o "$TMP/body.nginx" || { cat "$TMP/nginx.err" >&2; die "nginx does not serve $INDEX_PATH"; }
cmp "$TMP/body.skillreg" "$TMP/body.nginx" || die "skillreg and nginx bodies differ"
log "both serve the same $BODY_BYTES bytes"

# ---------------------------------------------------------------------------
# Measure
# ---------------------------------------------------------------------------

WRK_CMD="wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency URL"

run_wrk() { # NAME URL
    local name="$1" url="$2"
    log "$name: warm-up ${WARMUP}s"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "$url" > /dev/null
    log "$name: measuring ${DURATION}s"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url" > "$TMP/wrk.$name"
    local bad
    bad="$(wrk_non2xx "$TMP/wrk.$name")"
    if [[ -n "$bad" ]]; then
        cat "$TMP/wrk.$name" >&2
        die "$name: $bad; the run did not measure the index file"
    fi
}

run_wrk skillreg "$SKILLREG_URL"
run_wrk nginx "$NGINX_URL"

S_RPS="$(wrk_rps "$TMP/wrk.skillreg")"
S_P50="$(wrk_pct "$TMP/wrk.skillreg" 50)"
S_P99="$(wrk_pct "$TMP/wrk.skillreg" 99)"
N_RPS="$(wrk_rps "$TMP/wrk.nginx")"
N_P50="$(wrk_pct "$TMP/wrk.nginx" 50)"
N_P99="$(wrk_pct "$TMP/wrk.nginx" 99)"

RATIO="$(awk -v a="$S_RPS" -v b="$N_RPS" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
RATIO_OK="$(awk -v r="$RATIO" 'BEGIN { print (r + 0 >= 0.80 ? "met" : "NOT met") }')"
P99_OK="$(awk -v p="$S_P99" 'BEGIN { print (p + 0 <= 3.0 ? "met" : "NOT met") }')"

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

CPU_MODEL="$(awk -F: '/^model name/ { sub(/^[ \t]+/, "", $2); print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
[[ -n "$CPU_MODEL" ]] || CPU_MODEL="$(lscpu 2>/dev/null | awk -F: '/^Model name/ { sub(/^[ \t]+/, "", $2); print $2; exit }' || true)"
[[ -n "$CPU_MODEL" ]] || CPU_MODEL="unknown"
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"

fmt2() { awk -v v="$1" 'BEGIN { printf "%.2f", v }'; }
fmt_rps() { awk -v v="$1" 'BEGIN { printf "%.0f", v }'; }

{
    echo "## Sparse index: skillreg vs nginx"
    echo
    echo "- Date: $(date -u)"
    echo "- Machine: $(nproc) CPUs, $(uname -m), $CPU_MODEL"
    echo "- Commit: \`$COMMIT\`"
    echo "- Measured: \`GET $INDEX_PATH\`, the sparse-index file of one crate"
    echo "  with 10 versions, $BODY_BYTES bytes; nginx serves a byte-identical copy"
    echo "  (checked with \`cmp\`) from disk. Both on 127.0.0.1, wrk on the same"
    echo "  machine, skillreg with rate limiting off."
    echo "- Load: \`$WRK_CMD\`, after a ${WARMUP} s warm-up run against each server."
    echo
    echo "| server | requests/s | p50 ms | p99 ms |"
    echo "| --- | ---: | ---: | ---: |"
    echo "| skillreg | $(fmt_rps "$S_RPS") | $(fmt2 "$S_P50") | $(fmt2 "$S_P99") |"
    echo "| nginx | $(fmt_rps "$N_RPS") | $(fmt2 "$N_P50") | $(fmt2 "$N_P99") |"
    echo
    for name in skillreg nginx; do
        errs="$(wrk_socket_errors "$TMP/wrk.$name")"
        [[ -z "$errs" ]] || printf '**%s had %s** (timeouts are requests slower than wrk'"'"'s 2 s limit).\n\n' "$name" "$errs"
    done
    echo "skillreg/nginx requests/s: **$RATIO**."
    echo
    echo "Targets:"
    echo "- skillreg/nginx requests/s >= 0.80: $RATIO_OK ($RATIO)"
    echo "- skillreg p99 <= 3 ms: $P99_OK ($(fmt2 "$S_P99") ms)"
    echo
    echo "How to reproduce: \`bash bench/index-bench.sh\` (\`DURATION=30\` for longer runs)."
    echo
    echo "<details><summary>Raw wrk output</summary>"
    echo
    echo '```'
    echo "# skillreg"
    cat "$TMP/wrk.skillreg"
    echo "# nginx"
    cat "$TMP/wrk.nginx"
    echo '```'
    echo
    echo "</details>"
} > "$TMP/section.md"

replace_section "$OUT" "$TMP/section.md"
log "wrote $OUT"
sed -n '/^| server/,/^| nginx/p' "$TMP/section.md" >&2
echo "ratio $RATIO ($RATIO_OK), skillreg p99 $(fmt2 "$S_P99") ms ($P99_OK)" >&2
