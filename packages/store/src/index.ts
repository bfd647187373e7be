import { SqliteEngine, type SqliteOptions } from "./sqlite-engine.ts"
import { layerFromEngine } from "./store.ts"

export { SqliteEngine } from "./sqlite-engine.ts"
export * from "./store.ts"

/** The embedded store: SQLite at `path` (or ":memory:"). */
export const sqliteLayer = (path: string, options: Omit<SqliteOptions, "path"> = {}) =>
  layerFromEngine(() => new SqliteEngine({ ...options, path }))
