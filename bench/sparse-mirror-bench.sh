#!/usr/bin/env bash
# Sparse mirror benchmark: skillreg mirrors, from a synthetic crates.io-like
# sparse index on nginx, the dependency closure of one root crate (CRATES
# crates, default 300), then re-syncs with nothing changed; real cargo
# fetches the same closure from the same nginx in the same run as the peer.
# Writes the results into BENCHMARKS.md (between the sparse-mirror-bench
# markers). Not run in CI.
#
#   bash bench/sparse-mirror-bench.sh
#   CRATES=50 KEEP_TMP=1 bash bench/sparse-mirror-bench.sh
#
# Environment: CRATES (default 300), SKILLREG_BIN (use this binary instead of
# building target/release/skillreg), SYNC_TIMEOUT (seconds, default 600),
# KEEP_TMP=1 (keep the temp dir: tree, data dir, logs), OUT (write this file
# instead of BENCHMARKS.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# log, die, replace_section, write_nginx_conf, free_port, stop_pid.
# shellcheck source=bench/index-bench.sh
source "$ROOT/bench/index-bench.sh"
OUT="${OUT:-$ROOT/BENCHMARKS.md}"
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
# The real cargo, not rustup's proxy (which would look for toolchains under
# the fresh CARGO_HOME).
CARGO_BIN="$(rustup which cargo 2>/dev/null || command -v cargo)"

if [[ -n "${SKILLREG_BIN:-}" ]]; then
    BIN="$SKILLREG_BIN"
else
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release --bin skillreg)
    BIN="$ROOT/target/release/skillreg"
fi
[[ -x "$BIN" ]] || die "$BIN not found or not executable"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/skillreg-sparse-mirror-bench.XXXXXX")"
SKILLREG_PID=""
NGINX_PID=""
cleanup() {
    local rc=$?
    set +e
    stop_pid "$SKILLREG_PID"
    stop_pid "$NGINX_PID"
    if [[ "${KEEP_TMP:-0}" == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
json_get() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
cpu_secs() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' "/proc/$1/stat"; }
log_lines() { wc -l < "$TMP/access.log" | tr -d ' '; }

# ---------------------------------------------------------------------------
# The upstream: a synthetic sparse index tree, served by nginx
# ---------------------------------------------------------------------------

cat > "$TMP/gen.py" <<'PY'
"""Writes a crates.io-like sparse index of N crates forming one closure from
bench-root: index files at cargo's paths, .crate files, and meta.json."""
import gzip, hashlib, io, json, os, random, sys, tarfile
www, n, port = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(20261201)
syl = "ar bo ci du el fa go hi ju ka lo mi nu or pa qu ri su ta vo".split()
names = ["bench-root", "q", "qz", "qzx", "Bench-Mixed-Case", "bench_under_score"][:n]
while len(names) < n:
    names.append(f"{rng.choice(syl)}{rng.choice(syl)}-{len(names)}")
edges = {i: [] for i in range(n)}  # i -> [(j, kind, target, optional)]
def add(i, j, tree):
    r, t = rng.random(), (0.10, 0.20, 0.28 if i else 0.20) if tree else (0.2, 0.4, 0.6)
    e = ("build", None, False) if r < t[0] else ("normal", "cfg(windows)", False) if r < t[1] \
        else ("normal", None, True) if r < t[2] else ("normal", None, False)
    edges[i].append((j,) + e)
for j in range(1, n):  # a tree (each crate has a dependent), then extra edges
    add((j - 1) // 2, j, True)
for i in range(n - 1):
    j = rng.randrange(i + 1, n)
    if rng.random() < 0.5 and j not in [e[0] for e in edges[i]]:
        add(i, j, False)
def path_for(name):
    s = name.lower()
    return {1: f"1/{s}", 2: f"2/{s}", 3: f"3/{s[0]}/{s}"}.get(len(s), f"{s[:2]}/{s[2:4]}/{s}")
def crate_bytes(name, vers, deps):
    toml = {"dependencies": [], "build-dependencies": [], "target.'cfg(windows)'.dependencies": [], "dev-dependencies": []}
    for d in deps:
        sect = "dev-dependencies" if d["kind"] == "dev" else "build-dependencies" if d["kind"] == "build" \
            else "target.'cfg(windows)'.dependencies" if d["target"] else "dependencies"
        toml[sect].append(f'{json.dumps(d["name"])} = {{ version = {json.dumps(d["req"])}{", optional = true" if d["optional"] else ""} }}')
    manifest = (f'[package]\nname = "{name}"\nversion = "{vers}"\nedition = "2021"\nlicense = "MIT"\n'
                f'description = "Synthetic crate {name} for skillreg\'s sparse mirror benchmark."\n')
    manifest += "".join(f"\n[{s}]\n" + "\n".join(v) + "\n" for s, v in toml.items() if v)
    lib = f"//! {name} {vers}\n" + "".join(f"pub fn f{k}(x: u64) -> u64 {{ x.wrapping_mul({rng.randrange(1 << 32)}) ^ {k} }}\n"
                                           for k in range(rng.randrange(20, 400)))
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for rel, text in (("Cargo.toml", manifest), ("src/lib.rs", lib)):
            data = text.encode()
            info = tarfile.TarInfo(f"{name}-{vers}/{rel}")
            info.size, info.mode, info.mtime = len(data), 0o644, 1700000000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
def dep(name, req, kind="normal", target=None, optional=False):
    return {"name": name, "req": req, "features": [], "optional": optional, "default_features": True,
            "target": target, "kind": kind}
reqs = ["^1", "1.0", "1", ">=1.0.0, <2.0.0"]
meta = {"crates": n, "versions": 0, "crate_bytes": 0, "yanked": 0, "dev_deps": 0,
        "edges": {"normal": 0, "build": 0, "cfg(windows)": 0, "optional": 0}}
for i, name in enumerate(names):
    minor = 0 if i == 0 else rng.randrange(4)
    deps = [dep(names[j], rng.choice(reqs), kind, target, opt) for j, kind, target, opt in edges[i]]
    for _, kind, target, opt in edges[i]:
        meta["edges"]["optional" if opt else target or kind] += 1
    if i == 0 or rng.random() < 0.15:  # dev-dependencies on crates that do not exist
        deps.append(dep(f"bench-absent-{i}", "^1", "dev"))
        meta["dev_deps"] += 1
    versions = [("0.9.0", [dep("bench-gone", "^1")], False), (f"1.{minor}.0", deps, False)]
    if i == 0:
        versions.insert(0, ("0.8.0", [], False))
    if rng.random() < 0.2:
        versions.append((f"1.{minor + 1}.0", deps, True))
    if i and rng.random() < 0.3:
        versions.append(("2.0.0", [], False))
    lines = []
    os.makedirs(f"{www}/crates/{name}", exist_ok=True)
    for vers, vdeps, yanked in versions:
        data = crate_bytes(name, vers, vdeps)
        with open(f"{www}/crates/{name}/{name}-{vers}.crate", "wb") as f:
            f.write(data)
        lines.append(json.dumps({"name": name, "vers": vers, "deps": vdeps, "cksum": hashlib.sha256(data).hexdigest(),
                                 "features": {}, "yanked": yanked}, separators=(",", ":")))
        meta["versions"] += 1
        meta["crate_bytes"] += len(data)
        meta["yanked"] += yanked
    path = f"{www}/index/{path_for(name)}"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
with open(f"{www}/index/config.json", "w") as f:
    json.dump({"dl": f"http://127.0.0.1:{port}/crates/{{crate}}/{{crate}}-{{version}}.crate"}, f)
seen, todo = {0}, [0]  # what cargo resolves: no optional dependency is enabled
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
sed -i "s|^    access_log off;|    log_format bench '\$status \$request_method \$uri \$http_if_none_match';\n    access_log $TMP/access.log bench;|" "$TMP/nginx.conf"
chmod 0755 "$TMP"
chmod -R a+rX "$TMP/www"
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
st, kinds, cond = collections.Counter(), collections.Counter(), 0
for l in lines:
    status, _, uri, inm = l.split(" ", 3)
    st[status] += 1
    kinds["config.json" if uri.endswith("/config.json") else ".crate" if uri.endswith(".crate") else "index files"] += 1
    cond += inm != "-"
json.dump({"total": len(lines), "statuses": st, "kinds": kinds, "conditional": cond,
           "text": ", ".join(f"{v} {k}" for k, v in kinds.most_common()) + "; status " +
                   ", ".join(f"{k} ×{v}" for k, v in sorted(st.items()))}, sys.stdout)
PY
tally() { python3 "$TMP/tally.py" "$TMP/access.log" "$(($1 + 1))" "$2" > "$TMP/$3.json"; }

# ---------------------------------------------------------------------------
# skillreg: full mirror, then a no-change re-sync
# ---------------------------------------------------------------------------

cat > "$TMP/skillreg.toml" <<EOF
[rate_limit]
per_ip_per_second = 0
per_token_per_second = 0

[[sources]]
name = "up"
kind = "sparse"
url = "$INDEX_URL"
crates = ["bench-root"]
interval = "0"
auto_approve = false
EOF
"$BIN" serve --config "$TMP/skillreg.toml" --data "$TMP/data" --listen 127.0.0.1:0 \
    > "$TMP/serve.out" 2> "$TMP/serve.err" &
SKILLREG_PID=$!
BASE=""
for _ in $(seq 600); do
    if [[ "$(wc -l < "$TMP/serve.out")" -ge 1 ]]; then
        first="$(head -n 1 "$TMP/serve.out")"
        [[ "$first" =~ ^listening\ on\ (http://[^[:space:]]+)$ ]] || die "unexpected: $first"
        BASE="${BASH_REMATCH[1]%/}"
        break
    fi
    kill -0 "$SKILLREG_PID" 2>/dev/null || { cat "$TMP/serve.err" >&2; die "skillreg exited"; }
    sleep 0.1
done
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
COUNTS='", ".join(f"{k} {d[k]}" for k in ("discovered", "added", "pending", "updated", "unchanged", "rejected", "failed"))'
LAST_DETAIL='(d.get("detail") or ["-"])[-1]'

log "full mirror"
L0="$(log_lines)"; C0="$(cpu_secs "$SKILLREG_PID")"
python3 "$TMP/sync.py" "$BASE" "$TOKEN" "$SYNC_TIMEOUT" > "$TMP/full.json" || die "the full mirror did not finish"
sleep 0.2  # nginx logs a request as it ends
L1="$(log_lines)"; C1="$(cpu_secs "$SKILLREG_PID")"
tally "$L0" "$L1" full-req
FULL_STATUS="$(json_get "$TMP/full.json" 'd["status"]')"
FULL_SECS="$(json_get "$TMP/full.json" 'd["wall_seconds"]')"
FULL_ADDED="$(json_get "$TMP/full.json" 'd["added"]')"
FULL_FAILED="$(json_get "$TMP/full.json" 'd["failed"]')"
FULL_COUNTS="$(json_get "$TMP/full.json" "$COUNTS")"
FULL_REQ="$(json_get "$TMP/full-req.json" 'd["total"]')"
FULL_DL="$(json_get "$TMP/full-req.json" 'd["kinds"].get(".crate", 0)')"
log "full mirror: $FULL_STATUS in $FULL_SECS s ($FULL_COUNTS); nginx saw $FULL_REQ requests"

log "no-change re-sync"
L2="$(log_lines)"; C2="$(cpu_secs "$SKILLREG_PID")"
python3 "$TMP/sync.py" "$BASE" "$TOKEN" "$SYNC_TIMEOUT" > "$TMP/resync.json" || die "the re-sync did not finish"
sleep 0.2
L3="$(log_lines)"; C3="$(cpu_secs "$SKILLREG_PID")"
tally "$L2" "$L3" re-req
RE_STATUS="$(json_get "$TMP/resync.json" 'd["status"]')"
RE_SECS="$(json_get "$TMP/resync.json" 'd["wall_seconds"]')"
RE_RUN="$(json_get "$TMP/resync.json" 'str(d["started_at"]) + " → " + str(d["finished_at"])')"
RE_COUNTS="$(json_get "$TMP/resync.json" "$COUNTS")"
RE_REQ="$(json_get "$TMP/re-req.json" 'd["total"]')"
RE_COND="$(json_get "$TMP/re-req.json" 'd["conditional"]')"
RE_304="$(json_get "$TMP/re-req.json" 'd["statuses"].get("304", 0)')"
log "re-sync: $RE_STATUS in $RE_SECS s ($RE_COUNTS); nginx saw $RE_REQ requests, $RE_304 answered 304"

# ---------------------------------------------------------------------------
# The peer: cargo resolving and fetching the same closure from the same nginx
# ---------------------------------------------------------------------------

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
    tally "$l0" "$(log_lines)" "cargo-$name"
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
creq() { json_get "$TMP/cargo-$1.json" "$2"; }
log "cargo cold $COLD s (resolve $T_lock s, fetch $T_fetch s), warm $WARM s; skillreg/cargo $RATIO"

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

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
{
    echo "## Sparse mirror: a $CRATES-crate closure over loopback"
    echo
    echo "- Date: $(date -u)"
    echo "- Machine: $(nproc) CPUs (nproc), $(uname -m), ${CPU_MODEL:-unknown}"
    echo "- Commit: \`$COMMIT\`; cargo: \`$("$CARGO_BIN" --version)\`; nginx: \`$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')\`"
    echo "- Upstream: a synthetic crates.io-like sparse index on nginx (ETags on, access log"
    echo "  counted): $CRATES crates forming one closure from \`bench-root\`, $(M 'd["versions"]') versions in all"
    echo "  ($(M 'd["yanked"]') yanked; the rest of the extras are 0.x/2.x versions no requirement matches),"
    echo "  $(M 'round(d["crate_bytes"] / 1048576, 1)') MiB of \`.crate\`s; dependency edges $(M '", ".join(f"{v} {k}" for k, v in d["edges"].items())'),"
    echo "  plus $(M 'd["dev_deps"]') dev-dependencies on crates that do not exist."
    echo "- skillreg: the release daemon with \`[[sources]] kind = \"sparse\"\`, \`crates = [\"bench-root\"]\`,"
    echo "  \`auto_approve = false\`, \`interval = \"0\"\`; each run started with \`POST /admin/v1/sync\` and"
    echo "  timed until \`GET /admin/v1/sync-runs\` (polled every 10 ms) shows it finished."
    echo "- cargo (the peer): a fresh \`CARGO_HOME\` replacing crates-io with \`sparse+$INDEX_URL\`"
    echo "  and a project with \`bench-root = \"1\"\`. Cold: \`cargo generate-lockfile\` (index files) then"
    echo "  \`cargo fetch\` (the \`.crate\`s). Warm: \`rm Cargo.lock\`, \`cargo generate-lockfile\` again"
    echo "  (cargo revalidates its cached index files) and \`cargo fetch\` (all cached)."
    echo "  cargo leaves out optional dependencies no feature enables, so it resolves fewer"
    echo "  crates; it keeps build and \`cfg(windows)\` ones (a lockfile is for every target)."
    echo
    echo "| step | result |"
    echo "| --- | --- |"
    echo "| **skillreg full mirror** | **$FULL_SECS s** ($FULL_STATUS; CPU $(secs "$C0" "$C1") s) |"
    echo "| full mirror counts | $FULL_COUNTS |"
    echo "| full mirror nginx requests | $FULL_REQ ($(json_get "$TMP/full-req.json" 'd["text"]')) |"
    echo "| **skillreg no-change re-sync** | **$RE_SECS s** from the POST to the finished run (run $RE_RUN, unix seconds; CPU $(secs "$C2" "$C3") s) |"
    echo "| re-sync counts | $RE_COUNTS; detail ends \`$(json_get "$TMP/resync.json" "$LAST_DETAIL")\` |"
    echo "| re-sync nginx requests | **$RE_REQ** ($(json_get "$TMP/re-req.json" 'd["text"]'); $RE_COND conditional) |"
    echo "| **cargo cold** (generate-lockfile + fetch) | **$COLD s** ($T_lock s + $T_fetch s); $CARGO_LOCKED crates locked, $(creq fetch 'd["kinds"].get(".crate", 0)') \`.crate\`s downloaded (expected $(M 'd["cargo_closure"]')) |"
    echo "| cargo cold nginx requests | resolve: $(creq lock 'd["total"]') ($(creq lock 'd["text"]')); fetch: $(creq fetch 'd["total"]') ($(creq fetch 'd["text"]')) |"
    echo "| cargo warm (generate-lockfile + fetch) | $WARM s ($T_relock s + $T_refetch s); requests: $(creq relock 'd["total"]') ($(creq relock 'd["text"]')) + $(creq refetch 'd["total"]') |"
    echo "| skillreg full mirror / cargo cold | **$RATIO** |"
    echo "| skillreg re-sync / cargo warm generate-lockfile | $RE_RATIO |"
    echo
    echo "Targets:"
    echo "- full mirror adds the whole closure ($CRATES versions), 0 failed: $T1 (added $FULL_ADDED, failed $FULL_FAILED, $FULL_DL \`.crate\`s downloaded)"
    echo "- no-change re-sync <= $CRATES requests, all conditional and 304: $T2 ($RE_REQ requests, $RE_304 × 304)"
    echo "- no-change re-sync <= 1 s: $T3 ($RE_SECS s)"
    echo
    echo "\`updated\` counts index files that came back with a new body (all of them on the"
    echo "first run). skillreg does more than cargo per crate: it follows optional deps,"
    echo "validates each \`.crate\` and stores it (blob, verbatim index line, pending review)."
    echo
    echo "How to reproduce: \`bash bench/sparse-mirror-bench.sh\` (\`CRATES=50\` for a quick try,"
    echo "\`KEEP_TMP=1\` keeps the tree, data dir and logs)."
} > "$TMP/section.md"
replace_section "$OUT" "$TMP/section.md"
log "wrote $OUT"
echo "full $FULL_SECS s ($T1); re-sync $RE_SECS s, $RE_REQ requests ($T2, $T3); cargo cold $COLD s, ratio $RATIO" >&2
