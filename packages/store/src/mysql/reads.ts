/**
 * What the REST API and the live feed read from MySQL, MariaDB and PlanetScale (`ReadStore`): the
 * queries of `../read-queries.ts`, one await per statement; line bytes come from `line_chunks`
 * (`line-chunks.ts`).
 */
import type { Api } from "@overlord/protocol"
import { runAsync } from "../ingest/steps.ts"
import { type ReadDialect, readStoreOn } from "../read-queries.ts"
import type { Actor, ReadStore, UsageQuery } from "../store.ts"
import { type UsageTotalsRow, usageQueries, usageReport } from "../usage-query.ts"
import type { MysqlClient } from "./client.ts"
import { exportLines, readLines, type StoredLine } from "./line-chunks.ts"
import { mysqlQueryDialect } from "./query-dialect.ts"

/**
 * Sessions drive the join (STRAIGHT_JOIN): with a plain JOIN MariaDB reads the one machine row first
 * and then sorts every session of the user to find a page (10,000 sessions: 37 ms; sessions first,
 * by `sessions_by_activity` and no sort: 0.9 ms; `scripts/bench/engines.ts`).
 */
export const MYSQL_SESSION_SELECT = `SELECT s.id, s.session_uid, s.project_dir, s.cwd, s.custom_title, s.ai_title,
      s.summary_title, s.first_prompt, s.first_at, s.last_at, s.entry_count, s.has_errors, s.models, s.usage_input,
      s.usage_output, s.usage_cache_write, s.usage_cache_read, s.usage_cost, m.machine_uid,
      (SELECT count(*) FROM files f WHERE f.session_id = s.id AND f.agent_id IS NOT NULL) AS subagent_count,
      (SELECT coalesce(sum(f.line_count), 0) FROM files f WHERE f.session_id = s.id AND f.agent_id IS NOT NULL)
        AS subagent_entries,
      EXISTS (SELECT 1 FROM files f JOIN files_gone g ON g.file_id = f.id WHERE f.session_id = s.id AND f.agent_id IS NULL)
        AS source_gone
    FROM sessions s STRAIGHT_JOIN machines m ON m.id = s.machine_id`

/** MySQL's reads: its columns compare byte for byte, so a search lowers both sides; `\` is LIKE's default escape. */
function mysqlReadDialect(client: MysqlClient): ReadDialect<StoredLine> {
  return {
    db: mysqlQueryDialect(client),
    like: {
      like: (column) => `${column} LIKE ?`,
      likeIgnoringCase: (column) => `lower(${column}) LIKE lower(?)`,
    },
    sessionSelect: MYSQL_SESSION_SELECT,
    fileBytes: "f.file_offset",
    lineColumns: "e.raw_len",
    readLines: (rows) => readLines(client, rows, client.maxStatementBytes),
  }
}

export class MysqlReads extends readStoreOn<"async", StoredLine>(runAsync) implements ReadStore {
  constructor(private readonly client: MysqlClient) {
    super(mysqlReadDialect(client))
  }

  async exportFile(actor: Actor, sessionId: string, fileKey: string): Promise<AsyncIterable<Uint8Array> | null> {
    const fileId = await this.exportFileId(actor, sessionId, fileKey)
    return fileId === null ? null : exportLines(this.client, fileId, this.client.maxStatementBytes)
  }

  async usage(actor: Actor, query: UsageQuery): Promise<Api.UsageReport> {
    const q = usageQueries(actor, query)
    // Both at once, on two connections (PlanetScale: two requests): one round trip of waiting.
    const [rows, totals] = await Promise.all([
      this.client.query<Api.UsageRow>(q.rows.sql, q.rows.params),
      q.totals ? this.client.query<UsageTotalsRow>(q.totals.sql, q.totals.params) : null,
    ])
    return usageReport(query, rows.rows, q.limit, totals?.rows[0] ?? null)
  }
}
