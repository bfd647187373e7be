/**
 * `@overlord/store/sqlite`: the embedded engine (bun:sqlite). Imported by whoever picks it (the
 * embedded server, `overlord serve` on a file), never by `@overlord/store` itself.
 */
import { layer as storeLayer } from "../store.ts"
import { SqliteEngine, type SqliteOptions } from "./engine.ts"

export { SqliteEngine, type SqliteOptions } from "./engine.ts"
export { sqliteErrorOf } from "./errors.ts"

/** The `Store` layer on SQLite at `path` (or ":memory:"), closed with the layer's scope. */
export const layer = (path: string, options: Omit<SqliteOptions, "path"> = {}) =>
  storeLayer(() => new SqliteEngine({ ...options, path }))

/** An in-memory store (tests). */
export const defaultLayer = layer(":memory:")
