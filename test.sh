#!/usr/bin/env bash
# The test command: installs what the suite needs when it is missing, then
# runs `cargo test` (arguments are passed on, e.g. `./test.sh --test mirror`).
#
# Needed beyond the Rust toolchain:
#   nginx  (Debian package) serves exported trees and git repositories
#   git    (Debian package) is what marketplace sources run, and the tests too
# `cargo test` alone works wherever these are present.
set -euo pipefail
cd "$(dirname "$0")"

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

missing=()
have nginx || missing+=(nginx)
have git || missing+=(git)

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

exec cargo test "$@"
