/**
 * Users, tokens, links, device codes and shares in SQLite (`AccountStore`): the queries of
 * `../account-queries.ts`, run synchronously (tokens are kept as SHA-256 hashes only, `../tokens.ts`).
 */
import type { Database } from "bun:sqlite"
import { accountStoreOn } from "../account-queries.ts"
import { runSync } from "../ingest/steps.ts"
import type { AccountStore } from "../store.ts"
import { sqliteQueryDialect } from "./query-dialect.ts"

export class SqliteAccounts extends accountStoreOn<"sync">(runSync) implements AccountStore {
  constructor(db: Database) {
    super(sqliteQueryDialect(db))
  }
}
