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

# The shared helpers (log, die, wrk parsing, replace_section, nginx, ports).
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# Allow `source bench/index-bench.sh` to get the helpers without running.
if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    return 0
fi

# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------


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
