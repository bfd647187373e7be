/** Remote commands in SQLite (`CommandStore`): the queries of `../command-queries.ts`, run synchronously. */
import type { Database } from "bun:sqlite"
import { commandStoreOn } from "../command-queries.ts"
import { runSync } from "../ingest/steps.ts"
import type { CommandStore } from "../store.ts"
import { sqliteQueryDialect } from "./query-dialect.ts"

export class SqliteCommands extends commandStoreOn<"sync">(runSync) implements CommandStore {
  constructor(db: Database) {
    super(sqliteQueryDialect(db))
  }
}
