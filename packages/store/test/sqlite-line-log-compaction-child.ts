/**
 * A process that opens a database and compacts its line log, killing itself with SIGKILL when the
 * compaction reaches the stage named on its command line (`sqlite-line-log-compaction.test.ts`).
 * Usage: bun sqlite-line-log-compaction-child.ts <database> <stage> [<copy round>]
 */
import { SqliteEngine } from "@overlord/store/sqlite"

const [path, stage, round = "1"] = process.argv.slice(2)
let copies = 0
const engine = new SqliteEngine({
  path: path!,
  onWarning: () => {},
  lineLogCompaction: {
    minGarbageBytes: 0,
    minGarbageShare: 0.1,
    onStage: (s) => {
      if (s === "copy") copies++
      if (s === stage && (s !== "copy" || copies === Number(round))) process.kill(process.pid, "SIGKILL")
    },
  },
})
engine.close()
