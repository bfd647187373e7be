/**
 * Runs the real session watcher on a folder and prints, one JSON object a line, every call it makes
 * to the engine and every warning and log line, for tests that must run it as another user (a folder
 * without read permission is readable by root, and the tests run as root).
 *
 * Usage: bun watch-probe.ts <projectsDir> <first retry of an unreadable folder, ms>
 */
import type { Logger } from "../../../src/logger.ts"
import { watchSessions } from "../../../src/session-watcher.ts"
import type { SyncEngine } from "../../../src/sync-engine.ts"

const [projectsDir, retryMs] = process.argv.slice(2)
if (!projectsDir) throw new Error("usage: watch-probe.ts <projectsDir> [retryMs]")
const print = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`)
const engine = {
  addBackfill: async (key: string) => print({ call: "backfill", key }),
  changed: async (key: string) => print({ call: "changed", key }),
  recheck: async (key: string) => print({ call: "recheck", key }),
  removed: (key: string) => print({ call: "removed", key }),
}
const log: Logger = {
  info: (message: string) => print({ info: message }),
  warn: (message: string) => print({ logWarn: message }),
  error: (message: string) => print({ logError: message }),
}
await watchSessions({
  projectsDir,
  engine: engine as unknown as SyncEngine,
  log,
  warn: (message) => print({ warn: message }),
  ...(retryMs ? { unreadableRetryMs: Number(retryMs) } : {}),
})
print({ ready: true })
