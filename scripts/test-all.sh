#!/usr/bin/env bash
# `npm test`: install what is missing, then lint, type-check, build the dashboard and run the whole
# main suite (unit, integration, end-to-end with the real Claude Code CLI, browser tests in Chromium).
# Needs nothing outside this clone; the compatibility suite over ../shared is scripts/test-compat.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/bootstrap.sh" --test
cd "$ROOT"
mkdir -p .artifacts

echo "== lint and format (biome)"
bunx biome check .
echo "== types (tsc --noEmit)"
bunx tsc --noEmit -p tsconfig.json
echo "== build the dashboard"
bash scripts/build-web.sh

status=0
echo "== main suite"
bun --bun vitest run --reporter=default --reporter=json --outputFile=.artifacts/vitest-main.json || status=1
echo "== browser suite (Chromium)"
bun --bun vitest run -c vitest.browser.config.ts --reporter=default --reporter=json --outputFile=.artifacts/vitest-browser.json || status=1
bun scripts/test-summary.ts .artifacts/vitest-main.json .artifacts/vitest-browser.json
exit $status
