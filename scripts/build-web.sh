#!/usr/bin/env bash
# Builds the dashboard into apps/web/dist when it is missing or older than its sources.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEB="$ROOT/apps/web"
if [ -f "$WEB/dist/index.html" ] && [ -z "$(find "$WEB/src" "$WEB/index.html" "$WEB/vite.config.ts" "$ROOT/packages/transcript/src" -newer "$WEB/dist/index.html" -print -quit)" ]; then
  exit 0
fi
echo "overlord: building the dashboard" >&2
(cd "$WEB" && bunx --bun vite build --logLevel warn >&2)
