/**
 * What the REST API and the live feed read from SQLite (`ReadStore`): the queries of
 * `../read-queries.ts`, run synchronously; line bytes come from the line log, a run of lines per read
 * (`../line-log.ts`).
 */
import type { Database } from "bun:sqlite"
import type { Api } from "@overlord/protocol"
import { runSync } from "../ingest/steps.ts"
import { type LineLog, type LineSpan, readLines, readRuns } from "../line-log.ts"
import { type ReadDialect, readStoreOn } from "../read-queries.ts"
import type { Actor, ReadStore, UsageQuery } from "../store.ts"
import { type UsageTotalsRow, usageQueries, usageReport } from "../usage-query.ts"
import { sqliteQueryDialect } from "./query-dialect.ts"

const EXPORT_PAGE_ROWS = 500

/** SQLite's reads: its LIKE ignores ASCII case already, and has no escape character unless named. */
function sqliteReadDialect(db: Database, lines: LineLog): ReadDialect<LineSpan> {
  return {
    db: sqliteQueryDialect(db),
    like: {
      like: (column) => `${column} LIKE ? ESCAPE '\\'`,
      likeIgnoringCase: (column) => `${column} LIKE ? ESCAPE '\\'`,
    },
    sessionSelect: `SELECT s.*, m.machine_uid,
      (SELECT count(*) FROM files f WHERE f.session_id = s.id AND f.agent_id IS NOT NULL) AS subagent_count,
      (SELECT coalesce(sum(f.line_count), 0) FROM files f WHERE f.session_id = s.id AND f.agent_id IS NOT NULL)
        AS subagent_entries,
      EXISTS (SELECT 1 FROM files f WHERE f.session_id = s.id AND f.agent_id IS NULL AND f.source_gone_at IS NOT NULL)
        AS source_gone
    FROM sessions s JOIN machines m ON m.id = s.machine_id`,
    fileBytes: "f.offset",
    lineColumns: "e.raw_at, e.raw_len, e.terminated",
    readLines: (rows) => readLines(lines, rows),
  }
}

export class SqliteReads extends readStoreOn<"sync", LineSpan>(runSync) implements ReadStore {
  constructor(
    private readonly db: Database,
    private readonly lines: LineLog,
  ) {
    super(sqliteReadDialect(db, lines))
  }

  exportFile(actor: Actor, sessionId: string, fileKey: string): AsyncIterable<Uint8Array> | null {
    const fileId = this.exportFileId(actor, sessionId, fileKey)
    if (fileId === null) return null
    const page = this.db.prepare(
      `SELECT byte_offset, raw_at, raw_len, terminated FROM entries WHERE file_id = ? AND superseded = 0 AND byte_offset >= ?
       ORDER BY byte_offset LIMIT ${EXPORT_PAGE_ROWS}`,
    )
    const lines = this.lines
    // Keyset pages, so a 1 GB session streams in bounded memory and no read stays open between pages.
    // A file's lines lie in the log as the file held them, a run of them per append: one read a run.
    return (async function* () {
      let from = 0
      for (;;) {
        const rows = page.all(fileId, from) as (LineSpan & { byte_offset: number })[]
        if (rows.length === 0) return
        yield* readRuns(lines, rows)
        from = rows[rows.length - 1]!.byte_offset + 1
      }
    })()
  }

  usage(actor: Actor, query: UsageQuery): Api.UsageReport {
    const q = usageQueries(actor, query)
    const rows = this.db.query(q.rows.sql).all(...q.rows.params) as Api.UsageRow[]
    // No more rows than the limit are every row: their sums are the totals.
    const totals =
      q.totals && q.limit !== null && rows.length > q.limit
        ? (this.db.query(q.totals.sql).get(...q.totals.params) as UsageTotalsRow)
        : null
    return usageReport(query, rows, q.limit, totals)
  }
}
