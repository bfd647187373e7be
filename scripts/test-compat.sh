#!/usr/bin/env bash
# The compatibility suite: real Claude Code session files from ../shared/fixtures/claude-code,
# read at test time (never copied into this repository).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
mkdir -p .artifacts
if [ ! -d "$ROOT/../shared/fixtures/claude-code" ]; then
  echo "compatibility suite skipped: ../shared/fixtures/claude-code is not here"
  exit 0
fi
echo "== compatibility suite (../shared/fixtures/claude-code)"
status=0
bun --bun vitest run -c vitest.compat.config.ts --reporter=default --reporter=json --outputFile=.artifacts/vitest-compat.json || status=1
bun scripts/test-summary.ts .artifacts/vitest-compat.json
exit $status
