/**
 * `@overlord/store`: the store's interfaces, its errors and the engine-independent ingest core. No
 * engine: whoever picks one imports it (`@overlord/store/sqlite`; `@overlord/store/mysql`), so that the
 * daemon's bundle never loads a driver it does not use.
 */
export type * from "./ingest/dialect.ts"
export { type Ingest, runAsync, runSync, type Step, step } from "./ingest/steps.ts"
// Transitional, until the SQLite engine moves to `@overlord/store/sqlite`.
export { SqliteEngine } from "./sqlite-engine.ts"
export * from "./store.ts"

import { SqliteEngine, type SqliteOptions } from "./sqlite-engine.ts"
import { layer } from "./store.ts"
export const sqliteLayer = (path: string, options: Omit<SqliteOptions, "path"> = {}) =>
  layer(() => new SqliteEngine({ ...options, path }))
