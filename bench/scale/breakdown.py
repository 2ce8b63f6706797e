"""Summarises `perf report --children --stdio -g none --sort symbol` output
of a daemon that was publishing (bench/scale-bench.sh): the inclusive share
of the steps of a publish, as a share of all samples and of the samples
under the registry's publish, then the heaviest skillreg functions.

    python3 breakdown.py PERF_REPORT_TXT

Steps are matched by substrings of demangled symbol names; a step whose
function was inlined or renamed shows as "not sampled". Names that the
snapshot, search or storage rework renames drop out here, and the top list
still shows where the time went.
"""
import re
import sys

STEPS = [
    ("publish (Registry::publish, total)", ["Registry>::publish", "Registry::publish"]),
    ("validate the bundle (bundle::validate)", ["bundle::validate"]),
    ("store the blob (BlobStore::put)", ["BlobStore::put"]),
    ("insert the version (Store::insert_version)", ["Store::insert_version", "Store::claim_and_insert_version"]),
    ("render and sign everything after the insert (render_and_sign)", ["render_and_sign"]),
    ("  render the package's index file (render_package)", ["render_package"]),
    ("  feeds: update the package (Feeds::package_changed)", ["Feeds::package_changed"]),
    ("  catalog: update the package (Catalog::package_changed)", ["Catalog::package_changed"]),
    ("  sign_snapshot (feeds, catalog, snapshot)", ["sign_snapshot"]),
    ("    feeds: re-render the documents (Feeds::publish)", ["Feeds::publish"]),
    ("    catalog: clone the map (Catalog::publish)", ["Catalog::publish"]),
    ("    snapshot + timestamp re-sign (Signing::publish)", ["Signing::publish"]),
    ("  static export (Exporter::packages_changed)", ["packages_changed"]),
    ("gzip of prepared index files and documents (Prepared::new)", ["index::Prepared::new"]),
    ("ed25519 signing (any caller)", ["ed25519_dalek::signing::SigningKey::sign", "SigningKey as signature::Signer"]),
    ("JSON serialisation (any caller)", ["serde_json::ser::"]),
    ("sha256 (any caller)", ["sha2::sha256::compress", "sha2::sha256::x86::"]),
]

LINE = re.compile(r"^\s*([0-9.]+)%\s+([0-9.]+)%\s+(?:\S+\s+)?\[[.k]\]\s+(.*)$")


def main():
    rows = []
    with open(sys.argv[1], errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if m:
                # Drop the IPC columns perf appends ("-  -").
                sym = re.sub(r"(\s+-)+\s*$", "", m.group(3)).strip()
                rows.append((float(m.group(1)), float(m.group(2)), sym))
    if not rows:
        print("(perf report had no samples)")
        return
    samples = re.search(r"^# Samples: (\S+)", open(sys.argv[1], errors="replace").read(), re.M)

    def best(needles):
        hits = [r for r in rows if any(n in r[2] for n in needles)]
        return max(hits, default=None, key=lambda r: r[0])

    total = best(STEPS[0][1])
    base = total[0] if total else None
    out = [f"{samples.group(1) if samples else '?'} samples of the daemon's threads",
           f"{'step':<66} {'% all':>6} {'% publish':>9}"]
    for label, needles in STEPS:
        hit = best(needles)
        if hit is None:
            out.append(f"{label:<66} {'not sampled':>16}")
            continue
        share = f"{100 * hit[0] / base:.1f}" if base else "?"
        out.append(f"{label:<66} {hit[0]:>6.1f} {share:>9}")
    out.append("")
    out.append("heaviest skillreg functions (inclusive % of all samples):")
    ours = [r for r in rows if r[2].startswith(("skillreg::", "<skillreg::"))]
    for children, _self, sym in sorted(ours, reverse=True)[:15]:
        out.append(f"  {children:5.1f}%  {sym[:110]}")
    out.append("heaviest functions by self time (% of all samples):")
    for children, self_, sym in sorted(rows, key=lambda r: -r[1])[:10]:
        out.append(f"  {self_:5.1f}%  {sym[:110]}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
