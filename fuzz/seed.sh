#!/usr/bin/env bash
# Regenerates fuzz/corpus/: seeds copied from the test suite's own inputs
# (tests/fixtures, the shared marketplace fixture when present) and the
# seeds that need code (signed archives, tarballs: src/bin/seed.rs).
# Usage: fuzz/seed.sh   (SKILLREG_SHARED_FIXTURES names the shared fixtures)
set -euo pipefail
cd "$(dirname "$0")"
root="$PWD/.."
corpus="$PWD/corpus"
shared="${SKILLREG_SHARED_FIXTURES:-$root/../../shared/fixtures}"

# The seed generator is built with the fuzz build (cargo fuzz build); the
# bundled SQLite trips a known AddressSanitizer ODR false positive.
cargo +nightly fuzz build -O --fuzz-dir . seed >/dev/null
ASAN_OPTIONS=detect_odr_violation=0 target/x86_64-unknown-linux-gnu/release/seed "$corpus"

# index_line: every sparse index file of the upstream fixture, as is.
mkdir -p "$corpus/index_line"
for f in "$root"/tests/fixtures/sparse/upstream/index/*/*/*; do
  cp "$f" "$corpus/index_line/$(basename "$f")"
done

# SKILL.md, plugin.json and marketplace.json from the shared fixture.
mkdir -p "$corpus/skill_frontmatter" "$corpus/plugin_json" "$corpus/marketplace_json"
if [ -d "$shared" ]; then
  find "$shared" -name SKILL.md | sort | while read -r f; do
    cp "$f" "$corpus/skill_frontmatter/$(echo "${f#"$shared"/}" | tr '/' '_')"
  done
  find "$shared" -name plugin.json | sort | while read -r f; do
    cp "$f" "$corpus/plugin_json/$(echo "${f#"$shared"/}" | tr '/' '_')"
  done
  find "$shared" -name marketplace.json | sort | while read -r f; do
    cp "$f" "$corpus/marketplace_json/$(echo "${f#"$shared"/}" | tr '/' '_')"
  done
fi
# The literals of the unit tests' fixtures (src/bundle/tests.rs and the
# marketplace reader's tests), small enough to write here.
printf -- '---\nname: hello\ndescription: Says hello\n---\n# Hello\n' > "$corpus/skill_frontmatter/minimal.md"
printf -- '---\nname: deps\ndescription: d\nmetadata:\n  version: "1.0.0"\n  dependencies: "other@^1, third"\n---\n' > "$corpus/skill_frontmatter/deps.md"
printf '{"name":"demo","version":"1.0.0","dependencies":["audit-logger",{"name":"secrets-vault","version":"~2.1.0"}],"commands":["./commands/x.md"]}' > "$corpus/plugin_json/deps.json"
printf '{"name":"local","owner":{"name":"o"},"plugins":[{"name":"demo","source":"./plugins/demo"},{"name":"bare","source":"./plugins/bare","description":"no manifest","strict":false,"skills":["./skills/solo"]},{"name":"remote","source":{"source":"github","repo":"o/r"}}]}' > "$corpus/marketplace_json/local.json"
du -sh "$corpus"
