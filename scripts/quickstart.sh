#!/usr/bin/env bash
# `npm start`: install what is missing, then run `overlord start` on embedded defaults.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/bootstrap.sh"
bash "$ROOT/scripts/build-web.sh"
bun "$ROOT/scripts/build-daemon.ts"
exec bun "$ROOT/apps/overlord/dist/bin.js" start --foreground "$@"
