#!/usr/bin/env bash
# Installs what is missing for Overlord on a machine that has only Node and npm:
# Bun and pnpm (pinned, into ./.tools, no global install), then the workspace's packages.
# `--test` also installs the system packages the test suite needs: Chromium for the browser tests, and
# MariaDB's server for the MySQL and PlanetScale engines (the tests start their own on a private data dir
# and port; the system service is never used).
# Source it (`. scripts/bootstrap.sh`) to get the tools on PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUN_VERSION=1.4.5
PNPM_VERSION=10.34.9
export PATH="$ROOT/.tools/node_modules/.bin:$PATH"

have_version() { command -v "$1" >/dev/null 2>&1 && [ "$("$1" --version 2>/dev/null)" = "$2" ]; }

if ! have_version bun "$BUN_VERSION" || ! have_version pnpm "$PNPM_VERSION"; then
  echo "overlord: installing bun@$BUN_VERSION and pnpm@$PNPM_VERSION into .tools/" >&2
  mkdir -p "$ROOT/.tools"
  (cd "$ROOT/.tools" && npm install --prefix . --no-save --loglevel=error "bun@$BUN_VERSION" "pnpm@$PNPM_VERSION" >&2)
fi

if [ ! -f "$ROOT/node_modules/.modules.yaml" ] || [ "$ROOT/pnpm-lock.yaml" -nt "$ROOT/node_modules/.modules.yaml" ]; then
  (cd "$ROOT" && pnpm install --frozen-lockfile --reporter=append-only >&2)
fi

if [ "${1:-}" = "--test" ]; then
  need=()
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v mariadbd >/dev/null 2>&1 || need+=(mariadb-server)
  if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "overlord: installing ${need[*]} from Debian's packages" >&2
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
    else
      echo "overlord: please install: ${need[*]} (browser and MySQL-engine tests need them)" >&2
    fi
  fi
fi
