#!/usr/bin/env bash
# Agent-tool feeds benchmark: skillreg vs nginx serving the SAME BYTES of the
# Agent Skills well-known index and of one Claude Code marketplace zip,
# measured with wrk in one run on this machine. nginx serves the tree
# `skillreg export-static` wrote, which holds those files byte for byte.
# Writes the results into BENCHMARKS.md (between the feeds-bench markers).
# Not run in CI.
#
#   bash bench/feeds-bench.sh
#
# Environment: DURATION (seconds, default 10), ROUNDS (default 3), THREADS (wrk -t, default 2),
# CONNECTIONS (wrk -c, default 64), SKILLREG_BIN (use this binary instead of
# building target/release/skillreg).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The shared parsing, nginx and section helpers.
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
OUT="$ROOT/BENCHMARKS.md"
DURATION="${DURATION:-10}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-64}"
WARMUP=2
MARK_START='<!-- feeds-bench:start -->'
MARK_END='<!-- feeds-bench:end -->'

NGINX="$(command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; } || true)"
[[ -n "$NGINX" ]] || die "missing nginx (apt-get install nginx)"
for tool in wrk curl python3 cmp; do
    command -v "$tool" >/dev/null 2>&1 || die "missing $tool"
done

if [[ -n "${SKILLREG_BIN:-}" ]]; then
    BIN="$SKILLREG_BIN"
else
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release)
    BIN="$ROOT/target/release/skillreg"
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/skillreg-feeds-bench.XXXXXX")"
SKILLREG_PID=""
NGINX_PID=""
trap stop_skillreg_and_nginx EXIT

start_skillreg "$BIN" "$TMP"
TOKEN="$(head -n 1 "$TMP/data/admin.token" | tr -d '[:space:]')"
for example in hello-skill hello-plugin; do
    "$BIN" publish "$ROOT/examples/$example" --registry "$BASE" --token "$TOKEN" > /dev/null
done

NGINX_PORT="$(free_port)"
"$BIN" export-static --data "$TMP/data" --base-url "http://127.0.0.1:$NGINX_PORT" "$TMP/www" > /dev/null
chmod -R a+rX "$TMP"
write_nginx_conf "$TMP" "$NGINX_PORT"
"$NGINX" -p "$TMP" -e "$TMP/nginx.err" -c "$TMP/nginx.conf" &
NGINX_PID=$!

INDEX="/.well-known/agent-skills/index.json"
ZIP="/claude/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plugins"][0]["source"]["url"].split("/claude/",1)[1])' "$TMP/www/claude/marketplace.json")"
for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$NGINX_PORT$INDEX" 2>/dev/null && break
    sleep 0.1
done
for path in "$INDEX" "$ZIP"; do
    curl -fsS "$BASE$path" -o "$TMP/a"
    curl -fsS "http://127.0.0.1:$NGINX_PORT$path" -o "$TMP/b"
    cmp "$TMP/a" "$TMP/b" || die "skillreg and nginx serve different bytes at $path"
done
INDEX_BYTES="$(wc -c < "$TMP/www$INDEX" | tr -d ' ')"
ZIP_BYTES="$(wc -c < "$TMP/www$ZIP" | tr -d ' ')"
log "both serve the same bytes: index $INDEX_BYTES, zip $ZIP_BYTES"

measure() { # NAME URL
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "$2" > /dev/null
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$2" > "$TMP/wrk.$1"
    [[ -z "$(wrk_non2xx "$TMP/wrk.$1")" ]] || { cat "$TMP/wrk.$1" >&2; die "$1: error responses"; }
}
# The machine is noisy (wrk shares its 2 cores): ROUNDS rounds, the two
# servers alternating within each, and the median of each server's rounds.
ROUNDS="${ROUNDS:-3}"
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
rows=""
ratios=""
for target in index zip; do
    path="$INDEX"; [[ "$target" == zip ]] && path="$ZIP"
    s_all=""; n_all=""; s_p99=""; n_p99=""
    for round in $(seq "$ROUNDS"); do
        measure "skillreg-$target" "$BASE$path"
        measure "nginx-$target" "http://127.0.0.1:$NGINX_PORT$path"
        s_all+="$(wrk_rps "$TMP/wrk.skillreg-$target") "
        n_all+="$(wrk_rps "$TMP/wrk.nginx-$target") "
        s_p99+="$(wrk_pct "$TMP/wrk.skillreg-$target" 99) "
        n_p99+="$(wrk_pct "$TMP/wrk.nginx-$target" 99) "
        log "$target round $round: skillreg $(wrk_rps "$TMP/wrk.skillreg-$target"), nginx $(wrk_rps "$TMP/wrk.nginx-$target")"
    done
    s="$(echo "$s_all" | median)"
    n="$(echo "$n_all" | median)"
    r="$(awk -v a="$s" -v b="$n" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
    ok="$(awk -v r="$r" 'BEGIN { print (r + 0 >= 0.90 ? "met" : "NOT met") }')"
    rows+="| $target | $(printf '%.0f' "$s") | $(echo "$s_p99" | median) | $(printf '%.0f' "$n") | $(echo "$n_p99" | median) | $r ($ok) | ${s_all% } / ${n_all% } |"$'\n'
    ratios+="$target $r ($ok); "
done

{
    echo "## Agent-tool feeds: skillreg vs nginx"
    echo
    echo "- Date: $(date -u)"
    echo "- Machine: $(nproc) CPUs, $(uname -m)"
    echo "- Commit: \`$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)\`"
    echo "- Measured: \`GET $INDEX\` ($INDEX_BYTES bytes) and one Claude Code"
    echo "  marketplace zip (\`GET /claude/files/…\`, $ZIP_BYTES bytes, streamed from its blob"
    echo "  file); nginx serves the tree \`skillreg export-static\` wrote, byte-identical"
    echo "  (checked with \`cmp\`). Both on 127.0.0.1, wrk on the same machine, skillreg with"
    echo "  rate limiting off; no Accept-Encoding, so both send the identity bytes."
    echo "- Load: \`wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency\`, after a ${WARMUP} s warm-up each."
    echo
    echo "Medians of $ROUNDS rounds (the servers alternate within a round); the last"
    echo "column lists every round's requests/s, skillreg / nginx."
    echo
    echo "| file | skillreg req/s | skillreg p99 ms | nginx req/s | nginx p99 ms | ratio (target >= 0.90) | rounds |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
    printf '%s' "$rows"
    echo
    echo "How to reproduce: \`bash bench/feeds-bench.sh\`."
} > "$TMP/section.md"
replace_section "$OUT" "$TMP/section.md"
log "wrote $OUT: $ratios"
