#!/usr/bin/env bash
# Sparse mirror benchmark: skillreg mirrors the dependency closure of one root
# crate (CRATES crates, default 300) from a synthetic crates.io-like sparse
# index on nginx, then re-syncs with nothing changed; real cargo resolves and
# fetches the same closure from the same nginx in the same run, as the peer.
# Writes BENCHMARKS.md between the sparse-mirror-bench markers. Not run in CI.
#
#   bash bench/sparse-mirror-bench.sh        # CRATES=50 for a quick try
#
# Environment: CRATES, SKILLREG_BIN (use this binary instead of building),
# SYNC_TIMEOUT (s, default 600), KEEP_TMP=1 (keep tree, data dir, logs), OUT.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_FILE="${OUT:-$ROOT/BENCHMARKS.md}"
# log, die, replace_section, write_nginx_conf, free_port, stop_pid.
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
OUT="$OUT_FILE"
CRATES="${CRATES:-300}"
SYNC_TIMEOUT="${SYNC_TIMEOUT:-600}"
MARK_START='<!-- sparse-mirror-bench:start -->'
MARK_END='<!-- sparse-mirror-bench:end -->'
[[ "$CRATES" =~ ^[1-9][0-9]*$ ]] || die "CRATES must be a positive number"

NGINX="$(command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; } || true)"
[[ -n "$NGINX" ]] || die "missing nginx (apt-get install nginx)"
for tool in curl python3 awk cargo; do
    command -v "$tool" >/dev/null 2>&1 || die "missing $tool"
done
# The real cargo, not rustup's proxy (it would look for toolchains in the fresh CARGO_HOME).
CARGO_BIN="$(rustup which cargo 2>/dev/null || command -v cargo)"

BIN="${SKILLREG_BIN:-$ROOT/target/release/skillreg}"
[[ -n "${SKILLREG_BIN:-}" ]] || { log "cargo build --release"; (cd "$ROOT" && cargo build --release --bin skillreg); }
[[ -x "$BIN" ]] || die "$BIN not found or not executable"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/skillreg-sparse-mirror-bench.XXXXXX")"
SKILLREG_PID=""; NGINX_PID=""
cleanup() {
    local rc=$?
    set +e
    stop_pid "$SKILLREG_PID"
    stop_pid "$NGINX_PID"
    if [[ "${KEEP_TMP:-0}" == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT; trap 'exit 130' INT; trap 'exit 143' TERM

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
json_get() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
cpu_secs() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' "/proc/$1/stat"; }
log_lines() { wc -l < "$TMP/access.log" | tr -d ' '; }

# --- The upstream: a synthetic sparse index tree, served by nginx ---

cat > "$TMP/gen.py" <<'PY'
"""Writes a crates.io-like sparse index of N crates forming one closure from
bench-root (index files at cargo's paths, config.json, .crate files) and
prints facts about it as JSON."""
import gzip, hashlib, io, json, os, random, sys, tarfile
www, n, port = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(20261201)
syl = "ar bo ci du el fa go hi ju ka lo mi nu or pa qu ri su ta vo".split()
names = ["bench-root", "q", "qz", "qzx", "Bench-Mixed-Case", "bench_under_score"][:n]
while len(names) < n:
    names.append(f"{rng.choice(syl)}{rng.choice(syl)}-{len(names)}")
edges = {i: [] for i in range(n)}  # i -> [(j, kind, target, optional)]
def add(i, j, tree):  # tree edges are mostly plain; the root's are never optional
    r, t = rng.random(), (0.10, 0.20, 0.28 if i else 0.20) if tree else (0.2, 0.4, 0.6)
    edges[i].append((j, "build" if r < t[0] else "normal", "cfg(windows)" if t[0] <= r < t[1] else None, t[1] <= r < t[2]))
for j in range(1, n):  # a tree, so every crate has a dependent; then extra edges down the DAG
    add((j - 1) // 2, j, True)
for i in range(n - 1):
    j = rng.randrange(i + 1, n)
    if rng.random() < 0.5 and j not in [e[0] for e in edges[i]]:
        add(i, j, False)
def path_for(s):
    s = s.lower()
    return {1: f"1/{s}", 2: f"2/{s}", 3: f"3/{s[0]}/{s}"}.get(len(s), f"{s[:2]}/{s[2:4]}/{s}")
def dep(name, req, kind="normal", target=None, optional=False):
    return {"name": name, "req": req, "features": [], "optional": optional, "default_features": True,
            "target": target, "kind": kind}
def crate_file(name, vers, deps):
    manifest = (f'[package]\nname = "{name}"\nversion = "{vers}"\nedition = "2021"\nlicense = "MIT"\n'
                f'description = "Synthetic crate {name} for skillreg\'s sparse mirror benchmark."\n')
    for sect in ("dependencies", "build-dependencies", "target.'cfg(windows)'.dependencies", "dev-dependencies"):
        lines = [f'{json.dumps(d["name"])} = {{ version = {json.dumps(d["req"])}, optional = {str(d["optional"]).lower()} }}'
                 for d in deps if sect == ("dev-dependencies" if d["kind"] == "dev" else "build-dependencies"
                 if d["kind"] == "build" else "target.'cfg(windows)'.dependencies" if d["target"] else "dependencies")]
        manifest += f"\n[{sect}]\n" + "\n".join(lines) + "\n" if lines else ""
    lib = f"//! {name} {vers}\n" + "".join(f"pub fn f{k}(x: u64) -> u64 {{ x.wrapping_mul({rng.randrange(1 << 32)}) ^ {k} }}\n"
                                           for k in range(rng.randrange(20, 400)))
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for rel, text in (("Cargo.toml", manifest), ("src/lib.rs", lib)):
            info = tarfile.TarInfo(f"{name}-{vers}/{rel}")
            info.size, info.mode, info.mtime = len(text.encode()), 0o644, 1700000000
            tar.addfile(info, io.BytesIO(text.encode()))
    return buf.getvalue()
meta = {"versions": 0, "crate_bytes": 0, "yanked": 0, "dev_deps": 0,
        "edges": {"normal": 0, "build": 0, "cfg(windows)": 0, "optional": 0}}
for i, name in enumerate(names):
    minor = 0 if i == 0 else rng.randrange(4)  # the needed version is 1.minor.0
    deps = [dep(names[j], rng.choice(["^1", "1.0", "1", ">=1.0.0, <2.0.0"]), kind, target, opt)
            for j, kind, target, opt in edges[i]]
    for _, kind, target, opt in edges[i]:
        meta["edges"]["optional" if opt else target or kind] += 1
    if i == 0 or rng.random() < 0.15:  # dev-dependencies on crates that do not exist
        deps.append(dep(f"bench-absent-{i}", "^1", "dev"))
        meta["dev_deps"] += 1
    # Versions nothing needs: older ones (one depending on a crate that does not
    # exist), a newer major, a newer yanked minor.
    versions = [("0.8.0", [], False)] * (i == 0) + [("0.9.0", [dep("bench-gone", "^1")], False), (f"1.{minor}.0", deps, False)]
    versions += [(f"1.{minor + 1}.0", deps, True)] * (rng.random() < 0.2) + [("2.0.0", [], False)] * (i > 0 and rng.random() < 0.3)
    lines = []
    os.makedirs(f"{www}/crates/{name}", exist_ok=True)
    for vers, vdeps, yanked in versions:
        data = crate_file(name, vers, vdeps)
        with open(f"{www}/crates/{name}/{name}-{vers}.crate", "wb") as f:
            f.write(data)
        lines.append(json.dumps({"name": name, "vers": vers, "deps": vdeps, "cksum": hashlib.sha256(data).hexdigest(),
                                 "features": {}, "yanked": yanked}, separators=(",", ":")))
        meta["versions"], meta["crate_bytes"], meta["yanked"] = meta["versions"] + 1, meta["crate_bytes"] + len(data), meta["yanked"] + yanked
    os.makedirs(os.path.dirname(f"{www}/index/{path_for(name)}"), exist_ok=True)
    with open(f"{www}/index/{path_for(name)}", "w") as f:
        f.write("\n".join(lines) + "\n")
with open(f"{www}/index/config.json", "w") as f:
    json.dump({"dl": f"http://127.0.0.1:{port}/crates/{{crate}}/{{crate}}-{{version}}.crate"}, f)
seen, todo = {0}, [0]  # what cargo resolves: no feature enables an optional dependency
while todo:
    for j, _, _, opt in edges[todo.pop()]:
        if not opt and j not in seen:
            seen.add(j)
            todo.append(j)
meta["cargo_closure"] = len(seen)
json.dump(meta, sys.stdout)
PY

NGINX_PORT="$(free_port)"
log "generating $CRATES crates"
python3 "$TMP/gen.py" "$TMP/www" "$CRATES" "$NGINX_PORT" > "$TMP/meta.json"
write_nginx_conf "$TMP" "$NGINX_PORT"
sed -i "s|^    access_log off;|    log_format bench '\$status \$request_method \$uri \$msec \$http_if_none_match';\n    access_log $TMP/access.log bench;|" "$TMP/nginx.conf"
chmod 0755 "$TMP"; chmod -R a+rX "$TMP/www"  # nginx's workers run as nobody under root
"$NGINX" -p "$TMP" -e "$TMP/nginx.err" -c "$TMP/nginx.conf" &
NGINX_PID=$!
INDEX_URL="http://127.0.0.1:$NGINX_PORT/index/"
for _ in $(seq 100); do
    curl -fsS -o /dev/null "${INDEX_URL}config.json" 2>/dev/null && break
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$TMP/nginx.err" >&2; die "nginx exited"; }
    sleep 0.1
done
curl -fsS -o /dev/null "${INDEX_URL}be/nc/bench-root" || die "nginx does not serve the index"

# Summarises access-log lines FROM..TO (1-based) into JSON.
cat > "$TMP/tally.py" <<'PY'
import collections, json, sys
lines = open(sys.argv[1]).read().splitlines()[int(sys.argv[2]) - 1:int(sys.argv[3])]
st, kinds, cond, ts = collections.Counter(), collections.Counter(), 0, [0]
for l in lines:
    status, _, uri, msec, inm = l.split(" ", 4)
    ts.append(float(msec))
    st[status] += 1
    kinds["config.json" if uri.endswith("/config.json") else ".crate" if uri.endswith(".crate") else "index files"] += 1
    cond += inm != "-"
json.dump({"total": len(lines), "statuses": st, "kinds": kinds, "conditional": cond,
           "span": round(ts[-1] - (ts[1:] or [0])[0], 3),
           "text": ", ".join(f"{v} {k}" for k, v in kinds.most_common()) + "; status " +
                   ", ".join(f"{k} ×{v}" for k, v in sorted(st.items()))}, sys.stdout)
PY
tally() { python3 "$TMP/tally.py" "$TMP/access.log" "$(($1 + 1))" "$2" > "$TMP/$3.json"; }

# --- skillreg: full mirror, then a no-change re-sync ---

printf '[rate_limit]\nper_ip_per_second = 0\nper_token_per_second = 0\n\n[[sources]]\nname = "up"\nkind = "sparse"\nurl = "%s"
crates = ["bench-root"]\ninterval = "0"\nauto_approve = false\n' "$INDEX_URL" > "$TMP/skillreg.toml"
"$BIN" serve --config "$TMP/skillreg.toml" --data "$TMP/data" --listen 127.0.0.1:0 \
    > "$TMP/serve.out" 2> "$TMP/serve.err" &
SKILLREG_PID=$!
BASE=""
for _ in $(seq 600); do  # its first line, complete, is "listening on URL"
    [[ "$(wc -l < "$TMP/serve.out")" -ge 1 ]] && break
    kill -0 "$SKILLREG_PID" 2>/dev/null || { cat "$TMP/serve.err" >&2; die "skillreg exited"; }
    sleep 0.1
done
[[ "$(head -n 1 "$TMP/serve.out")" =~ ^listening\ on\ (http://[^[:space:]]+)$ ]] && BASE="${BASH_REMATCH[1]%/}"
[[ -n "$BASE" && -s "$TMP/data/admin.token" ]] || die "skillreg did not start (or wrote no admin token)"
TOKEN="$(head -n 1 "$TMP/data/admin.token" | tr -d '[:space:]')"
log "skillreg at $BASE, nginx at $INDEX_URL"

cat > "$TMP/sync.py" <<'PY'
"""POSTs a sync of source `up`, polls until its run ends; prints the run with
wall_seconds (from sending the POST to seeing the run finished)."""
import json, sys, time, urllib.request
base, token, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
def call(method, path, body=None):
    req = urllib.request.Request(base + path, data=body, method=method,
                                 headers={"Authorization": token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status, json.load(r)
t0 = time.monotonic()
status, started = call("POST", "/admin/v1/sync", b'{"source":"up"}')
assert status == 202, (status, started)
while True:
    run = next((r for r in call("GET", "/admin/v1/sync-runs")[1]["runs"] if r["id"] == started["run"]), None)
    if run is None or run["status"] != "running":
        break
    if time.monotonic() - t0 > timeout:
        sys.exit(f"run {started['run']} did not finish within {timeout:.0f} s")
    time.sleep(0.01)
run["wall_seconds"] = round(time.monotonic() - t0, 3)
json.dump(run, sys.stdout)
PY
COUNTS='", ".join(f"{k} {d.get(k)}" for k in ("discovered", "added", "pending", "updated", "unchanged", "skipped", "rejected", "failed"))'
LAST_DETAIL='(d.get("detail") or ["-"])[-1]'
RUN_TIMES='str(d["started_at"]) + " → " + str(d["finished_at"])'

# sync_step NAME: one run (POST, poll), its nginx requests and CPU seconds.
sync_step() {
    local l0 c0
    l0="$(log_lines)"; c0="$(cpu_secs "$SKILLREG_PID")"
    python3 "$TMP/sync.py" "$BASE" "$TOKEN" "$SYNC_TIMEOUT" > "$TMP/$1.json" || die "the $1 run did not finish"
    sleep 0.2  # nginx logs a request as it ends
    printf -v "CPU_$1" '%s' "$(secs "$c0" "$(cpu_secs "$SKILLREG_PID")")"
    tally "$l0" "$(log_lines)" "$1-req"
    log "$1: $(json_get "$TMP/$1.json" 'd["status"]') in $(json_get "$TMP/$1.json" 'd["wall_seconds"]') s ($(json_get "$TMP/$1.json" "$COUNTS")); nginx: $(json_get "$TMP/$1-req.json" 'd["text"]')"
}
sync_step full
sync_step resync
FULL_STATUS="$(json_get "$TMP/full.json" 'd["status"]')"
FULL_SECS="$(json_get "$TMP/full.json" 'd["wall_seconds"]')"
FULL_ADDED="$(json_get "$TMP/full.json" 'd["added"]')"
FULL_FAILED="$(json_get "$TMP/full.json" 'd["failed"]')"
FULL_DL="$(json_get "$TMP/full-req.json" 'd["kinds"].get(".crate", 0)')"
RE_STATUS="$(json_get "$TMP/resync.json" 'd["status"]')"
RE_SECS="$(json_get "$TMP/resync.json" 'd["wall_seconds"]')"
RE_REQ="$(json_get "$TMP/resync-req.json" 'd["total"]')"
RE_COND="$(json_get "$TMP/resync-req.json" 'd["conditional"]')"
RE_304="$(json_get "$TMP/resync-req.json" 'd["statuses"].get("304", 0)')"

# --- The peer: cargo resolving and fetching the same closure from the same nginx ---

mkdir -p "$TMP/cargo-home" "$TMP/peer/src"
printf '[source.crates-io]\nreplace-with = "up"\n\n[source.up]\nregistry = "sparse+%s"\n\n[net]\nretry = 0\n' \
    "$INDEX_URL" > "$TMP/cargo-home/config.toml"
printf '[package]\nname = "peer"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nbench-root = "1"\n' \
    > "$TMP/peer/Cargo.toml"
: > "$TMP/peer/src/lib.rs"
peer_cargo() {
    (cd "$TMP/peer" && env -u RUSTFLAGS -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET CARGO_HOME="$TMP/cargo-home" \
        CARGO_TARGET_DIR="$TMP/peer/target" CARGO_TERM_COLOR=never CARGO_HTTP_MULTIPLEXING=false \
        "$CARGO_BIN" "$@" >> "$TMP/cargo.log" 2>&1) || { tail -n 30 "$TMP/cargo.log" >&2; die "cargo $* failed"; }
}
# cargo_step NAME ARGS...: times one cargo command and tallies its requests.
cargo_step() {
    local name="$1" l0 t0; shift
    l0="$(log_lines)"; t0="$(now)"
    peer_cargo "$@"
    printf -v "T_$name" '%s' "$(secs "$t0" "$(now)")"
    sleep 0.2
    tally "$l0" "$(log_lines)" "cargo-$name-req"
}
log "cargo, cold (fresh CARGO_HOME): generate-lockfile, then fetch"
cargo_step lock generate-lockfile
cargo_step fetch fetch
CARGO_LOCKED="$(grep -c '^source = ' "$TMP/peer/Cargo.lock" || true)"
log "cargo, warm: rm Cargo.lock, generate-lockfile, fetch"
rm "$TMP/peer/Cargo.lock"
cargo_step relock generate-lockfile
cargo_step refetch fetch
COLD="$(awk -v a="$T_lock" -v b="$T_fetch" 'BEGIN { printf "%.3f", a + b }')"
WARM="$(awk -v a="$T_relock" -v b="$T_refetch" 'BEGIN { printf "%.3f", a + b }')"
RATIO="$(awk -v a="$FULL_SECS" -v b="$COLD" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
RE_RATIO="$(awk -v a="$RE_SECS" -v b="$T_relock" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
log "cargo cold $COLD s (resolve $T_lock s, fetch $T_fetch s), warm $WARM s; skillreg/cargo $RATIO"

# --- Report ---

verdict() { if [[ "$1" == 1 ]]; then echo met; else echo "NOT met"; fi; }
ok() { python3 -c "print(int(bool($1)))"; }
T1="$(verdict "$(ok "'$FULL_STATUS' == 'completed' and $FULL_ADDED == $CRATES and $FULL_FAILED == 0")")"
T2="$(verdict "$(ok "$RE_REQ <= $CRATES and $RE_COND == $RE_REQ and $RE_304 == $RE_REQ")")"
T3="$(verdict "$(ok "'$RE_STATUS' == 'completed' and $RE_SECS <= 1")")"
CPU_MODEL="$(awk -F: '/^model name/ { sub(/^[ \t]+/, "", $2); print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock 2>/dev/null)" ]] \
    || COMMIT="$COMMIT (with uncommitted changes in src/)"
M() { json_get "$TMP/meta.json" "$1"; }
R() { json_get "$TMP/$1-req.json" "$2"; }
PER_CRATE="$(awk -v a="$FULL_SECS" -v n="$CRATES" -v b="$COLD" -v m="$CARGO_LOCKED" 'BEGIN { printf "skillreg %.1f ms, cargo %.1f ms", 1000 * a / n, (m > 0 ? 1000 * b / m : 0) }')"
ENV_PREFIX=""; [[ "$CRATES" == 300 ]] || ENV_PREFIX="CRATES=$CRATES "
cat > "$TMP/section.md" <<EOF
## Sparse mirror: a $CRATES-crate closure over loopback

- Date: $(date -u)
- Machine: $(nproc) CPUs (\`nproc\`), $(uname -m), ${CPU_MODEL:-unknown}
- Commit: \`$COMMIT\`; $("$CARGO_BIN" --version); nginx $("$NGINX" -v 2>&1 | sed 's/^nginx version: nginx\///')
- Command: \`SKILLREG_BIN=… ${ENV_PREFIX}bash bench/sparse-mirror-bench.sh\` (\`KEEP_TMP=1\` keeps the tree, data dir and logs)
- Upstream: a synthetic crates.io-like sparse index on nginx (ETags on, requests counted from its access
  log): $CRATES crates forming one closure from \`bench-root\`, $(M 'd["versions"]') versions in all ($(M 'd["yanked"]') yanked; the other
  extras are 0.x/2.x versions no requirement matches), $(M 'round(d["crate_bytes"] / 1048576, 1)') MiB of \`.crate\`s; dependency edges
  $(M '", ".join(f"{v} {k}" for k, v in d["edges"].items())'), and $(M 'd["dev_deps"]') dev-dependencies on crates that do not exist.
- skillreg: the release daemon, one \`[[sources]] kind = "sparse"\` with \`crates = ["bench-root"]\`,
  \`auto_approve = false\`, \`interval = "0"\`; each run started with \`POST /admin/v1/sync\` and timed until
  \`GET /admin/v1/sync-runs\` (polled every 10 ms) shows it finished.
- cargo (the peer): a fresh \`CARGO_HOME\` replacing crates-io with \`sparse+$INDEX_URL\`, a project with
  \`bench-root = "1"\`. Cold: \`cargo generate-lockfile\` (index files), then \`cargo fetch\` (the \`.crate\`s).
  Warm: \`rm Cargo.lock\`, \`cargo generate-lockfile\` (revalidates its cached index files), \`cargo fetch\`.
  cargo leaves out optional dependencies no feature enables, so it resolves fewer crates; it keeps
  build and \`cfg(windows)\` ones (a lockfile is for every target).

| step | result |
| --- | --- |
| **skillreg full mirror** | **$FULL_SECS s** ($FULL_STATUS; daemon CPU $CPU_full s) |
| full mirror counts | $(json_get "$TMP/full.json" "$COUNTS") |
| full mirror nginx requests | $(R full 'd["total"]') ($(R full 'd["text"]')) |
| **skillreg no-change re-sync** | **$RE_SECS s** from the POST to the finished run (the run's own times, 1 s resolution: $(json_get "$TMP/resync.json" "$RUN_TIMES"); daemon CPU $CPU_resync s) |
| re-sync counts | $(json_get "$TMP/resync.json" "$COUNTS"); detail ends \`$(json_get "$TMP/resync.json" "$LAST_DETAIL")\` |
| re-sync nginx requests | **$RE_REQ** ($(R resync 'd["text"]'); $RE_COND conditional; first to last $(R resync 'd["span"]') s) |
| **cargo cold** (generate-lockfile + fetch) | **$COLD s** ($T_lock s + $T_fetch s); $CARGO_LOCKED crates locked, $(R cargo-fetch 'd["kinds"].get(".crate", 0)') \`.crate\`s downloaded (expected $(M 'd["cargo_closure"]')) |
| cargo cold nginx requests | resolve $(R cargo-lock 'd["total"]') ($(R cargo-lock 'd["text"]')); fetch $(R cargo-fetch 'd["total"]') ($(R cargo-fetch 'd["text"]')) |
| cargo warm (generate-lockfile + fetch) | $WARM s ($T_relock s + $T_refetch s); requests $(R cargo-relock 'd["total"]') ($(R cargo-relock 'd["text"]')) + $(R cargo-refetch 'd["total"]') |
| **skillreg full mirror / cargo cold** | **$RATIO** (per crate: $PER_CRATE) |
| skillreg re-sync / cargo warm generate-lockfile | $RE_RATIO |

Targets:
- full mirror adds the whole closure ($CRATES versions), 0 failed: $T1 (added $FULL_ADDED, failed $FULL_FAILED, $FULL_DL \`.crate\`s downloaded)
- no-change re-sync <= $CRATES requests, all conditional and 304: $T2 ($RE_REQ requests, $RE_304 × 304)
- no-change re-sync <= 1 s: $T3 ($RE_SECS s)

\`updated\` counts index files that came back with a new body (all of them on the first run). Per
crate, skillreg does more than cargo: it validates each \`.crate\` and stores it (blob, verbatim index
line, pending review), fetching and storing one crate at a time. One run of each step; on this
2-core machine, shared with other work, repeated runs of the full mirror and of cargo vary by tens of percent.
EOF
replace_section "$OUT" "$TMP/section.md"
log "wrote $OUT"
echo "full $FULL_SECS s ($T1); re-sync $RE_SECS s, $RE_REQ requests ($T2, $T3); cargo cold $COLD s, ratio $RATIO" >&2
