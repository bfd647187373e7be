import { layerFromEngine } from "./store.ts"
import { SqliteEngine } from "./sqlite-engine.ts"

export * from "./store.ts"
export { SqliteEngine } from "./sqlite-engine.ts"
export { splitPieces } from "./lines.ts"

/** The embedded store: SQLite at `path` (or ":memory:"). */
export const sqliteLayer = (path: string) => layerFromEngine(() => new SqliteEngine({ path }))
