/**
 * The change feed on SQLite (`../change-feed-query.ts`), run synchronously. One poll with nothing new
 * is one row read.
 */
import type { Database } from "bun:sqlite"
import { changeFeedOn } from "../change-feed-query.ts"
import { runSync } from "../ingest/steps.ts"
import { sqliteQueryDialect } from "./query-dialect.ts"

export class SqliteChangeFeed extends changeFeedOn<"sync">(runSync) {
  constructor(db: Database) {
    // `next_seq` is the next seq to hand out; the counter row is held until its transaction commits.
    super(sqliteQueryDialect(db), "SELECT next_seq - 1 AS position FROM seq_counter WHERE id = 1")
  }
}
