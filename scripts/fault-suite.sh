#!/usr/bin/env bash
# The fault suite: every fault issue #14 found, one test file each under apps/overlord/test/fault/
# (and the server's under apps/server/test/fault/, when it exists), plus the kill -9, cut-connection,
# bad-input, protocol-refusal, version-skew and out-of-order-stat cases. Real processes, real server, real store.
# The main suite runs these too; this runs only them. Extra arguments go to vitest (e.g. -t "name").
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.tools/node_modules/.bin:$PATH"

paths=(
  apps/overlord/test/fault
  apps/overlord/test/exactly-once.test.ts
  apps/overlord/test/bad-input.test.ts
  apps/overlord/test/protocol-refusal.test.ts
  apps/overlord/test/version-skew.test.ts
  apps/overlord/test/stale-stat.test.ts
)
# Added by the server's own fault work; absent until then.
if [ -d apps/server/test/fault ]; then
  paths+=(apps/server/test/fault)
else
  echo "(no apps/server/test/fault yet: skipped)"
fi

exec bun --bun vitest run "${paths[@]}" "$@"
