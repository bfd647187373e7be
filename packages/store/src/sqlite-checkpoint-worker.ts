/**
 * The WAL checkpointer's thread (see `sqlite-checkpointer.ts`). Copies committed pages from the WAL
 * into the database and syncs them, which waits on the disk; here that wait holds up nobody.
 */
import { Database } from "bun:sqlite"
import { closeSync, fsyncSync, openSync } from "node:fs"

declare const self: Worker

export type CheckpointRequest =
  | { readonly type: "open"; readonly path: string; readonly lineLogPath?: string | undefined }
  | { readonly type: "checkpoint" }
  /** Writes paused: copy everything and cut the WAL file to nothing. */
  | { readonly type: "truncate" }
  | { readonly type: "stop" }

export type CheckpointReport =
  | {
      readonly type: "checkpointed"
      readonly mode: "PASSIVE" | "TRUNCATE"
      /** The round could not finish (a writer or reader held it up); the next one will. */
      readonly busy: boolean
      /** Frames in the WAL, and how many of them are now in the database. */
      readonly log: number
      readonly checkpointed: number
    }
  | { readonly type: "failed"; readonly message: string }

interface Row {
  busy: number
  log: number
  checkpointed: number
}

let db: Database | null = null
let lineLog: number | null = null

// PASSIVE: never waits for, nor holds up, the writer. Starting the WAL over is left to the writer's
// own automatic checkpoint (see `SqliteEngine`), which then finds almost everything copied already.
const round = (conn: Database, mode: "PASSIVE" | "TRUNCATE"): CheckpointReport => {
  // The lines a checkpoint makes durable must be durable first (see `line-log.ts`).
  if (lineLog !== null) fsyncSync(lineLog)
  const row = conn.query(`PRAGMA wal_checkpoint(${mode})`).get() as Row
  return { type: "checkpointed", mode, busy: row.busy === 1, log: row.log, checkpointed: row.checkpointed }
}

// Requests queue while a round runs (it is synchronous), so a burst of them costs a few cheap rounds.
self.onmessage = (event: MessageEvent<CheckpointRequest>) => {
  const msg = event.data
  try {
    if (msg.type === "open") {
      db = new Database(msg.path, { readwrite: true, create: false })
      db.run("PRAGMA busy_timeout = 5000")
      if (msg.lineLogPath) lineLog = openSync(msg.lineLogPath, "r")
    } else if (msg.type === "checkpoint" && db) {
      self.postMessage(round(db, "PASSIVE"))
    } else if (msg.type === "truncate" && db) {
      // Waits for (and, once it has the lock, briefly holds up) a writer: only asked when writes paused.
      self.postMessage(round(db, "TRUNCATE"))
    } else if (msg.type === "stop") {
      db?.close()
      db = null
      if (lineLog !== null) closeSync(lineLog)
      lineLog = null
      process.exit(0)
    }
  } catch (error) {
    self.postMessage({ type: "failed", message: error instanceof Error ? error.message : String(error) })
  }
}
