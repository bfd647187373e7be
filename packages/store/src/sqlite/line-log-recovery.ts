/**
 * The database may reach the disk ahead of the line log (neither is synced at each commit): after a
 * power loss, a log shorter than the end the last commit recorded has lost lines the database names.
 * Each file with such a line is rolled back to its first lost line, as if it had never arrived, through
 * the ingest core's own supersede and session rebuild; the daemon learns the file's offset at its next
 * hello and sends those bytes again.
 */
import type { Database } from "bun:sqlite"
import type { FileRow } from "../ingest/dialect.ts"
import { emptyPlan, recomputeSessions } from "../ingest/sessions.ts"
import { step } from "../ingest/steps.ts"
import type { LineLog } from "../line-log.ts"
import type { SqliteIngest } from "./ingest-dialect.ts"

export function recoverLineLog(db: Database, lines: LineLog, ingest: SqliteIngest, warn: (message: string) => void) {
  const recorded = Number(
    (db.query("SELECT value FROM meta WHERE key = 'line_log_end'").get() as { value: string }).value,
  )
  const size = lines.size()
  if (size >= recorded) return
  ingest.transaction(function* (tx) {
    const lost = db
      .query(
        `SELECT file_id, min(byte_offset) AS from_offset FROM entries
         WHERE superseded = 0 AND raw_at + raw_len + terminated > ? GROUP BY file_id`,
      )
      .all(size) as { file_id: number; from_offset: number }[]
    const plan = emptyPlan()
    // Sessions are rebuilt once every file is rolled back: one may have lines in two of them.
    const sessions = new Set<number>()
    for (const { file_id, from_offset } of lost) {
      const file = db.query("SELECT * FROM files WHERE id = ?").get(file_id) as FileRow
      file.line_count -= yield* step(tx.countLiveFrom(file.id, from_offset))
      file.live_end = from_offset
      plan.supersede.push({ fileId: file.id, fromOffset: from_offset })
      // The lost lines include the file's last, so the line left open (always the last) too.
      file.open_seq = null
      file.offset = Math.min(file.offset, from_offset)
      plan.files.push(file)
      if (file.session_id !== null) sessions.add(file.session_id)
    }
    yield* step(tx.write(plan))
    yield* recomputeSessions(tx, sessions)
    db.query("UPDATE meta SET value = ? WHERE key = 'line_log_end'").run(String(size))
    warn(
      `line log ${size} bytes, the database names ${recorded}: ${lost.length} file(s) rolled back to their first lost line, to be synced again`,
    )
  })
}
