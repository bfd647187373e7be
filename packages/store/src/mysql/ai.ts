/**
 * Generated titles and chunk vectors in MySQL, MariaDB and PlanetScale (`AiStore`, issue #13): the
 * queries of `../ai-queries.ts`, one await per statement; a session's lines are read from their chunks.
 */
import { aiStoreOn, sessionRowId } from "../ai-queries.ts"
import { runAsync } from "../ingest/steps.ts"
import type { AiStore } from "../store.ts"
import type { MysqlClient } from "./client.ts"
import { readLines } from "./line-chunks.ts"
import { mysqlQueryDialect } from "./query-dialect.ts"

const decoder = new TextDecoder()

export class MysqlAi extends aiStoreOn<"async">(runAsync) implements AiStore {
  constructor(private readonly client: MysqlClient) {
    super(mysqlQueryDialect(client))
  }

  async sessionLines(sessionKey: string, afterSeq: number | null): Promise<{ seq: number; line: string }[]> {
    const { rows } = await this.client.query<{ seq: number; raw_len: number }>(
      "SELECT seq, raw_len FROM entries WHERE session_id = ? AND superseded = 0 AND seq > ? ORDER BY seq",
      [sessionRowId(sessionKey), afterSeq ?? -1],
    )
    const lines = rows.map((r) => ({ seq: Number(r.seq), raw_len: Number(r.raw_len) }))
    const bytes = await readLines(this.client, lines, this.client.maxStatementBytes)
    return lines.map((l, i) => ({ seq: l.seq, line: decoder.decode(bytes[i]) }))
  }
}
