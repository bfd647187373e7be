/**
 * The change feed (`ChangeFeed` in `store.ts`), written once for every engine: read from the seq
 * counter and the entries' primary key, so it costs the append path nothing. A poll with nothing new
 * is one statement (one counter row); with news, two. An engine gives only the statement that reads
 * its counter as `position` (`sqlite/change-feed.ts`, `mysql/change-feed.ts`).
 */
import type { Mode, Query, QueryDialect, Runner } from "./query-dialect.ts"
import { all } from "./query-dialect.ts"
import type { FeedChange, FeedPage } from "./store.ts"

function* feedPosition(db: QueryDialect, positionSql: string): Query<number> {
  const rows = yield* all<{ position: number }>(db, positionSql, [])
  return Number(rows[0]?.position ?? 0)
}

function* feedAfter(db: QueryDialect, positionSql: string, after: number, span: number): Query<FeedPage> {
  const upTo = Math.min(yield* feedPosition(db, positionSql), after + Math.max(1, span))
  if (upTo <= after) return { changes: [], position: after }
  const changes = yield* all<FeedChange>(
    db,
    `SELECT e.user_id AS userId, s.session_uid AS sessionId, max(e.seq) AS lastSeq
     FROM entries e JOIN sessions s ON s.id = e.session_id
     WHERE e.seq > ? AND e.seq <= ? GROUP BY e.user_id, s.session_uid`,
    [after, upTo],
  )
  return { changes, position: upTo }
}

/**
 * The change feed on an engine's dialect and runner; `positionSql` reads the last seq handed out as
 * `position` (0 or no row when none was).
 */
export function changeFeedOn<M extends Mode>(runQuery: Runner<M>) {
  return class ChangeFeedQueries {
    constructor(
      protected readonly db: QueryDialect,
      private readonly positionSql: string,
    ) {}
    position() {
      return runQuery(feedPosition(this.db, this.positionSql))
    }
    after(after: number, span: number) {
      return runQuery(feedAfter(this.db, this.positionSql, after, span))
    }
  }
}
