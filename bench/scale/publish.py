"""Publishes COUNT skill versions to a skillreg over its HTTP API (cargo's
`PUT /api/v1/crates/new` framing, the wire format `skillreg publish` sends)
on one keep-alive connection, one after another, and prints a JSON summary:
the latency of each publish (from sending the request to reading the whole
response) and its percentiles. Used by bench/scale-bench.sh.

    python3 publish.py BASE TOKEN PACKAGES COUNT FIRST_VERSION

Publish i (0-based) is version 2.0.(FIRST_VERSION + i) of the existing skill
bench-NNNNN with NNNNN = (i * STRIDE) % PACKAGES, STRIDE a prime that spreads
the publishes over the whole catalogue (with 10 packages, each gets every
tenth publish). The bundle is a tar.gz holding one SKILL.md, as
examples/mirror_bench_seed.rs makes them. Exits non-zero on any refusal.
"""
import gzip
import http.client
import io
import json
import struct
import sys
import tarfile
import time
import urllib.parse

STRIDE = 7919


def skill_md(name, version):
    return (
        f"---\nname: {name}\ndescription: Benchmark skill {name} at {version}, "
        f"published by bench/scale-bench.sh.\nlicense: MIT\nmetadata:\n"
        f'  version: "{version}"\n---\n# {name} {version}\n\nA tiny skill for the scale benchmark.\n'
    ).encode()


def bundle(name, version):
    text = skill_md(name, version)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("SKILL.md")
        info.size, info.mode, info.mtime = len(text), 0o644, 0
        tar.addfile(info, io.BytesIO(text))
    return gzip.compress(raw.getvalue(), mtime=0)


def body(name, version):
    meta = json.dumps({"name": name, "vers": version, "kind": "skill", "deps": []}).encode()
    tarball = bundle(name, version)
    return struct.pack("<I", len(meta)) + meta + struct.pack("<I", len(tarball)) + tarball


def pct(sorted_ms, p):
    """Nearest-rank percentile."""
    k = max(0, min(len(sorted_ms) - 1, int(round(p / 100 * len(sorted_ms) + 0.5)) - 1))
    return sorted_ms[k]


def main():
    base, token, packages, count, first = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    latencies = []
    for i in range(count):
        name = f"bench-{(i * STRIDE) % packages:05d}"
        version = f"2.0.{first + i}"
        payload = body(name, version)
        t0 = time.perf_counter()
        conn.request("PUT", "/api/v1/crates/new", body=payload,
                     headers={"Authorization": token, "Content-Type": "application/octet-stream"})
        response = conn.getresponse()
        answer = response.read()
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status != 200:
            sys.exit(f"publishing {name}@{version}: HTTP {response.status}: {answer[:500]!r}")
        latencies.append(round(elapsed, 3))
    ms = sorted(latencies)
    json.dump({
        "count": len(ms),
        "p50_ms": pct(ms, 50),
        "p90_ms": pct(ms, 90),
        "p99_ms": pct(ms, 99),
        "max_ms": ms[-1],
        "mean_ms": round(sum(ms) / len(ms), 3),
        "latencies_ms": latencies,
    }, sys.stdout)


if __name__ == "__main__":
    main()
