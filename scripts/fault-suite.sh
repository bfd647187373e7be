#!/usr/bin/env bash
# The fault suite: every fault issue #14 found, one test file each under apps/overlord/test/fault/
# (the server's under apps/server/test/fault/, the dashboard's under apps/web/test/fault/), plus the kill -9, cut-connection,
# bad-input, protocol-refusal, version-skew, out-of-order-stat and systemd-stop cases. Real processes, real server, real store.
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
  # `overlord stop` under systemd was taken for a crash (exit 130) and undone: a real user manager.
  apps/overlord/test/service/systemd-user.test.ts
  apps/web/test/fault
)
# Added by the server's own fault work; absent until then.
if [ -d apps/server/test/fault ]; then
  paths+=(apps/server/test/fault)
else
  echo "(no apps/server/test/fault yet: skipped)"
fi

exec bun --bun vitest run "${paths[@]}" "$@"
