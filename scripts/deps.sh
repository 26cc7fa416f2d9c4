#!/usr/bin/env bash
# Installs what `make test` needs and this machine lacks, so that the README's
# two commands are all the set-up a fresh Debian machine needs:
#   - Debian packages: curl (the README's curl walkthrough runs as a test),
#     chromium (the browser test), redis-server (the Redis engine's tests start
#     their own redis-server processes on loopback ports);
#   - the client's npm packages (playwright-core), pinned by package-lock.json.
# As root it installs them with apt-get; otherwise it prints the one command to
# run and fails. A missing dependency makes the tests fail, never skip.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(curl ca-certificates chromium redis-server)
commands=(curl chromium redis-server redis-cli node npm go)

missing=()
if command -v dpkg >/dev/null 2>&1; then
  for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "deps: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "deps: make test needs Debian packages that are missing; run:" >&2
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi
for c in "${commands[@]}"; do
  if ! command -v "$c" >/dev/null 2>&1; then
    echo "deps: $c is required but missing (Debian: apt-get install ${packages[*]}; Go 1.26 and Node 20)" >&2
    exit 1
  fi
done
