#!/usr/bin/env bash
# Web pages benchmark: skillreg rendering the browse page, a search and a
# package page of a catalog of PACKAGES (default 10,000) skills, against
# nginx serving the SAME BYTES (each page as the daemon rendered it, saved to
# a file), measured with wrk in one run on this machine. The issue's target:
# browse page p99 <= 20 ms with 10,000 packages. Writes the results into
# BENCHMARKS.md (between the web-bench markers). Not run in CI.
#
#   bash bench/web-bench.sh
#
# Environment: PACKAGES (default 10000), DURATION (seconds, default 10),
# ROUNDS (default 3), THREADS (wrk -t, default 2), CONNECTIONS (wrk -c,
# default 16), SKILLREG_BIN and SEED_BIN (use these binaries instead of
# building target/release/skillreg and the mirror_bench_seed example).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The shared parsing, nginx and section helpers.
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
OUT="$ROOT/BENCHMARKS.md"
PACKAGES="${PACKAGES:-10000}"
DURATION="${DURATION:-10}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-16}"
ROUNDS="${ROUNDS:-3}"
WARMUP=2
MARK_START='<!-- web-bench:start -->'
MARK_END='<!-- web-bench:end -->'

NGINX="$(command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; } || true)"
[[ -n "$NGINX" ]] || die "missing nginx (apt-get install nginx)"
for tool in wrk curl python3 cmp; do
    command -v "$tool" >/dev/null 2>&1 || die "missing $tool"
done

if [[ -n "${SKILLREG_BIN:-}" && -n "${SEED_BIN:-}" ]]; then
    BIN="$SKILLREG_BIN"
    SEED="$SEED_BIN"
else
    log "cargo build --release (and the seed example)"
    (cd "$ROOT" && cargo build --release && cargo build --release --example mirror_bench_seed)
    BIN="$ROOT/target/release/skillreg"
    SEED="$ROOT/target/release/examples/mirror_bench_seed"
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/skillreg-web-bench.XXXXXX")"
SKILLREG_PID=""
NGINX_PID=""
trap stop_skillreg_and_nginx EXIT

log "seeding $PACKAGES skills"
seed_start=$(date +%s)
"$SEED" "$TMP/data" "$PACKAGES" 1 > /dev/null
log "seeded in $(( $(date +%s) - seed_start )) s"

start=$(date +%s)
start_skillreg "$BIN" "$TMP"
START_SECS=$(( $(date +%s) - start ))
log "skillreg at $BASE after $START_SECS s"

# The pages, and the same bytes as files for nginx.
# One package from the middle of the catalog (bench-04242 of 10,000).
PACKAGE="bench-$(printf '%05d' $(( PACKAGES * 4242 / 10000 )))"
PAGES=("browse:/" "search:/?q=bench-0042" "package:/packages/$PACKAGE")
mkdir -p "$TMP/www"
for entry in "${PAGES[@]}"; do
    name="${entry%%:*}"; path="${entry#*:}"
    curl -fsS "$BASE$path" -o "$TMP/www/$name.html"
done
grep -q 'bench-' "$TMP/www/browse.html" || die "the browse page lists no package"
NGINX_PORT="$(free_port)"
chmod -R a+rX "$TMP"
write_nginx_conf "$TMP" "$NGINX_PORT"
"$NGINX" -p "$TMP" -e "$TMP/nginx.err" -c "$TMP/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$NGINX_PORT/browse.html" 2>/dev/null && break
    sleep 0.1
done

measure() { # NAME URL
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "$2" > /dev/null
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$2" > "$TMP/wrk.$1"
    [[ -z "$(wrk_non2xx "$TMP/wrk.$1")" ]] || { cat "$TMP/wrk.$1" >&2; die "$1: error responses"; }
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# Misses: every request asks for a page never asked for before (a random
# page and a parameter the page ignores, which still makes a new cache key),
# so every request renders: the worst case, no cache at all.
cat > "$TMP/pages.lua" <<'LUA'
request = function()
    return wrk.format("GET", "/?sort=recent&page=" .. math.random(1, 200) .. "&nocache=" .. math.random(1, 1000000000))
end
LUA
rows=""
summary=""
for entry in "${PAGES[@]}"; do
    name="${entry%%:*}"; path="${entry#*:}"
    bytes="$(wc -c < "$TMP/www/$name.html" | tr -d ' ')"
    s_all=""; n_all=""; s_p99=""; n_p99=""; s_p50=""
    for round in $(seq "$ROUNDS"); do
        measure "skillreg-$name" "$BASE$path"
        measure "nginx-$name" "http://127.0.0.1:$NGINX_PORT/$name.html"
        s_all+="$(wrk_rps "$TMP/wrk.skillreg-$name") "
        n_all+="$(wrk_rps "$TMP/wrk.nginx-$name") "
        s_p99+="$(wrk_pct "$TMP/wrk.skillreg-$name" 99) "
        s_p50+="$(wrk_pct "$TMP/wrk.skillreg-$name" 50) "
        n_p99+="$(wrk_pct "$TMP/wrk.nginx-$name" 99) "
        log "$name round $round: skillreg $(wrk_rps "$TMP/wrk.skillreg-$name") req/s p99 $(wrk_pct "$TMP/wrk.skillreg-$name" 99) ms, nginx $(wrk_rps "$TMP/wrk.nginx-$name")"
    done
    s="$(echo "$s_all" | median)"
    n="$(echo "$n_all" | median)"
    p99="$(echo "$s_p99" | median)"
    r="$(awk -v a="$s" -v b="$n" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
    target="—"
    if [[ "$name" == browse ]]; then
        target="$(awk -v p="$p99" 'BEGIN { print (p + 0 <= 20 ? "met" : "NOT met") }')"
    fi
    rows+="| $name (\`$path\`) | $bytes | $(printf '%.0f' "$s") | $(echo "$s_p50" | median) | $p99 | $target | $(printf '%.0f' "$n") | $(echo "$n_p99" | median) | $r | ${s_all% } / ${n_all% } |"$'\n'
    summary+="$name p99 $p99 ms, ratio $r; "
done

u_rps=""; u_p99=""; u_p50=""
for round in $(seq "$ROUNDS"); do
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$TMP/pages.lua" "$BASE/" > "$TMP/wrk.uncached"
    [[ -z "$(wrk_non2xx "$TMP/wrk.uncached")" ]] || { cat "$TMP/wrk.uncached" >&2; die "uncached: error responses"; }
    u_rps+="$(wrk_rps "$TMP/wrk.uncached") "
    u_p99+="$(wrk_pct "$TMP/wrk.uncached" 99) "
    u_p50+="$(wrk_pct "$TMP/wrk.uncached" 50) "
    log "browse, rendered for every request, round $round: $(wrk_rps "$TMP/wrk.uncached") req/s p99 $(wrk_pct "$TMP/wrk.uncached" 99) ms"
done
u_p99m="$(echo "$u_p99" | median)"
rows+="| browse, rendered for every request (\`/?sort=recent&page=N&nocache=R\`) | — | $(printf '%.0f' "$(echo "$u_rps" | median)") | $(echo "$u_p50" | median) | $u_p99m | $(awk -v p="$u_p99m" 'BEGIN { print (p + 0 <= 20 ? "met" : "NOT met") }') | — | — | — | ${u_rps% } |"$'\n'
summary+="uncached browse p99 $u_p99m ms; "

{
    echo "## Web pages: skillreg vs nginx, $PACKAGES packages"
    echo
    echo "- Date: $(date -u)"
    echo "- Machine: $(nproc) CPUs, $(uname -m)"
    echo "- Commit: \`$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)\`"
    echo "- Catalog: $PACKAGES skills, one version each (\`examples/mirror_bench_seed.rs\`); the daemon"
    echo "  started in $START_SECS s (rendering and signing every index file and zip)."
    echo "- Measured: skillreg serving each page (content kept 5 s per catalog, then rendered"
    echo "  again by one request while the others get the old content: the catalog query over"
    echo "  every package and the template; the package page also reads its file list and its"
    echo "  SKILL.md from the bundle); nginx serving the bytes skillreg rendered, saved as files."
    echo "  The last row asks for a new page each time, so every request renders. Both on"
    echo "  127.0.0.1, wrk on the same machine, skillreg with rate limiting off."
    echo "- Load: \`wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency\`, after a ${WARMUP} s warm-up each."
    echo
    echo "Medians of $ROUNDS rounds (the servers alternate within a round); the last column"
    echo "lists every round's requests/s, skillreg / nginx. Target: browse p99 <= 20 ms."
    echo
    echo "| page | bytes | skillreg req/s | skillreg p50 ms | skillreg p99 ms | target | nginx req/s | nginx p99 ms | ratio | rounds |"
    echo "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |"
    printf '%s' "$rows"
    echo
    echo "How to reproduce: \`bash bench/web-bench.sh\`."
} > "$TMP/section.md"
replace_section "$OUT" "$TMP/section.md"
log "wrote $OUT: $summary"
