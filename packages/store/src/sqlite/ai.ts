/**
 * Generated titles and chunk vectors in SQLite (`AiStore`, issue #13): the queries of
 * `../ai-queries.ts`, run synchronously; a session's lines are read from the line log.
 */
import type { Database } from "bun:sqlite"
import { aiStoreOn, sessionRowId } from "../ai-queries.ts"
import { runSync } from "../ingest/steps.ts"
import type { LineLog } from "../line-log.ts"
import type { AiStore } from "../store.ts"
import { sqliteQueryDialect } from "./query-dialect.ts"

const decoder = new TextDecoder()

export class SqliteAi extends aiStoreOn<"sync">(runSync) implements AiStore {
  constructor(
    private readonly database: Database,
    private readonly lines: LineLog,
  ) {
    super(sqliteQueryDialect(database))
  }

  sessionLines(sessionKey: string, afterSeq: number | null): { seq: number; line: string }[] {
    const rows = this.database
      .query(
        "SELECT seq, raw_at, raw_len FROM entries WHERE session_id = ? AND superseded = 0 AND seq > ? ORDER BY seq",
      )
      .all(sessionRowId(sessionKey), afterSeq ?? -1) as { seq: number; raw_at: number; raw_len: number }[]
    return rows.map((r) => ({ seq: r.seq, line: decoder.decode(this.lines.read(r.raw_at, r.raw_len)) }))
  }
}
