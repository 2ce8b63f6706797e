#!/usr/bin/env bash
# Shell helpers shared by the benchmarks in bench/ (sourced, never run):
# logging, wrk output parsing, the BENCHMARKS.md section writer, a throwaway
# nginx, free ports, starting and stopping daemons, /proc figures and the
# sync trigger of the mirror benchmarks. Each function says which globals it
# reads; none runs anything when sourced.
#
#   ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
#   source "$ROOT/bench/lib.sh"

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

# stop_pid PID: SIGTERM, up to 10 s for it to exit, then SIGKILL.
stop_pid() {
    local pid="$1"
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do
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


# find_nginx: the nginx binary's path, or nothing when it is not installed.
find_nginx() {
    # Debian puts nginx in /usr/sbin, which is not on non-root users' PATH.
    command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; } || true
}

# ---------------------------------------------------------------------------
# Daemons and processes
# ---------------------------------------------------------------------------

# start_daemon NAME DATA CONFIG LOGSPEC: starts `$BIN serve` in the
# background (stdout $TMP/NAME.out, stderr $TMP/NAME.err, SKILLREG_LOG set to
# LOGSPEC); sets START_PID at once and, once it prints its "listening on"
# line, START_URL and START_SECS (seconds from exec to that line). Waits up
# to STARTUP_TIMEOUT seconds (default 900). Reads BIN, TMP.
start_daemon() {
    local name="$1" data="$2" config="$3" logspec="$4" t0 first
    t0="$(date +%s.%N)"
    SKILLREG_LOG="$logspec" "$BIN" serve --config "$config" --data "$data" \
        --listen 127.0.0.1:0 > "$TMP/$name.out" 2> "$TMP/$name.err" &
    START_PID=$!
    START_URL=""
    local deadline=$((SECONDS + ${STARTUP_TIMEOUT:-900}))
    while ((SECONDS < deadline)); do
        if [[ -s "$TMP/$name.out" ]] && [[ "$(wc -l < "$TMP/$name.out")" -ge 1 ]]; then
            first="$(head -n 1 "$TMP/$name.out")"
            if [[ "$first" =~ ^listening\ on\ (http://[^[:space:]]+)$ ]]; then
                START_URL="${BASH_REMATCH[1]%/}"
                break
            fi
            die "unexpected first line from $name: $first"
        fi
        if ! kill -0 "$START_PID" 2>/dev/null; then
            tail -n 50 "$TMP/$name.err" >&2
            die "$name exited before listening"
        fi
        sleep 0.05
    done
    [[ -n "$START_URL" ]] || { tail -n 50 "$TMP/$name.err" >&2; die "$name did not listen within ${STARTUP_TIMEOUT:-900} s"; }
    START_SECS="$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')"
}

# admin_token DATA: the bootstrap admin token the daemon wrote to
# DATA/admin.token (waits up to 10 s for it).
admin_token() {
    for _ in $(seq 100); do
        [[ -s "$1/admin.token" ]] && break
        sleep 0.1
    done
    [[ -s "$1/admin.token" ]] || die "no admin token at $1/admin.token"
    head -n 1 "$1/admin.token" | tr -d '[:space:]'
}

# cpu_secs PID: user+system CPU seconds the process has used so far.
cpu_secs() {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' "/proc/$1/stat"
}

# rss_mib PID: the process's resident set size now, in MiB.
rss_mib() {
    awk '$1 == "VmRSS:" { printf "%.1f\n", $2 / 1024 }' "/proc/$1/status"
}

# io_field PID FIELD: a counter from /proc/PID/io (0 when unreadable).
io_field() {
    awk -v f="$2:" '$1 == f { print $2; found = 1 } END { if (!found) print 0 }' "/proc/$1/io" 2>/dev/null || echo 0
}

# secs_since T0: seconds (3 decimals) since T0, a `date +%s.%N` value.
secs_since() {
    awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }'
}

# json_get JSON_FILE EXPR: a Python expression over the file's JSON (`d`).
json_get() {
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# verdict VALUE LIMIT: "met" when VALUE <= LIMIT, else "NOT met".
verdict() {
    awk -v v="$1" -v l="$2" 'BEGIN { print (v + 0 <= l + 0 ? "met" : "NOT met") }'
}

# write_sync_py FILE: a Python script that triggers a sync of source `up`
# and polls until its run finishes:
#   python3 FILE BASE TOKEN POLL_SECONDS TIMEOUT_SECONDS
# prints the run (as /admin/v1/sync-runs shows it) plus wall_seconds, the
# time from sending the trigger to seeing the finished run. On timeout it
# prints the run as last seen with "timed_out": true and exits 2.
write_sync_py() {
    cat > "$1" <<'PY'
"""Triggers a sync of source `up` and polls until its run finishes.
Prints the run (as /admin/v1/sync-runs shows it) plus wall_seconds, the time
from sending the trigger to seeing the finished run."""
import json, sys, time, urllib.error, urllib.request

base, token, interval, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])

def call(method, path, body=None):
    req = urllib.request.Request(base + path, data=body, method=method,
                                 headers={"Authorization": token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {path}: HTTP {e.code}: {e.read()[:500]!r}")

t0 = time.monotonic()
status, started = call("POST", "/admin/v1/sync", b'{"source":"up"}')
if status != 202:
    sys.exit(f"POST /admin/v1/sync answered {status}: {started}")
run_id = started["run"]
while True:
    _, runs = call("GET", "/admin/v1/sync-runs")
    run = next((r for r in runs["runs"] if r["id"] == run_id), None)
    if run is None:
        sys.exit(f"run {run_id} is not in /admin/v1/sync-runs")
    if run["status"] != "running":
        break
    if time.monotonic() - t0 > timeout:
        run["wall_seconds"] = round(time.monotonic() - t0, 3)
        run["timed_out"] = True
        run["detail"] = run.get("detail", [])[:20]
        json.dump(run, sys.stdout)
        print(f"run {run_id} did not finish within {timeout:.0f} s", file=sys.stderr)
        sys.exit(2)
    time.sleep(interval)
run["wall_seconds"] = round(time.monotonic() - t0, 3)
run["detail"] = run.get("detail", [])[:20]
json.dump(run, sys.stdout)
PY
}

# machine_line: "N CPUs, ARCH, MODEL" for a report.
machine_line() {
    local model
    model="$(awk -F: '/^model name/ { sub(/^[ \t]+/, "", $2); print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
    [[ -n "$model" ]] || model="$(lscpu 2>/dev/null | awk -F: '/^Model name/ { sub(/^[ \t]+/, "", $2); print $2; exit }' || true)"
    printf '%s CPUs, %s, %s\n' "$(nproc)" "$(uname -m)" "${model:-unknown}"
}
