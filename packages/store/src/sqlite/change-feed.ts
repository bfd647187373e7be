/**
 * The change feed on SQLite (`ChangeFeed` in `../store.ts`): read from `seq_counter` and the entries'
 * primary key, so it costs the append path nothing. One poll with nothing new is one row read.
 */
import type { Database } from "bun:sqlite"
import type { FeedChange, FeedPage } from "../store.ts"

export class SqliteChangeFeed {
  constructor(private readonly db: Database) {}

  position(): number {
    // `next_seq` is the next seq to hand out; the counter row is held until its transaction commits.
    const row = this.db.query("SELECT next_seq FROM seq_counter WHERE id = 1").get() as { next_seq: number } | null
    return row ? row.next_seq - 1 : 0
  }

  after(after: number, span: number): FeedPage {
    const upTo = Math.min(this.position(), after + Math.max(1, span))
    if (upTo <= after) return { changes: [], position: after }
    const changes = this.db
      .query(
        `SELECT e.user_id AS userId, s.session_uid AS sessionId, max(e.seq) AS lastSeq
         FROM entries e JOIN sessions s ON s.id = e.session_id
         WHERE e.seq > ? AND e.seq <= ? GROUP BY e.user_id, s.session_uid`,
      )
      .all(after, upTo) as FeedChange[]
    return { changes, position: upTo }
  }
}
