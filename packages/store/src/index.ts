/**
 * `@overlord/store`: the store's interfaces, its errors and the engine-independent ingest core. No
 * engine: whoever picks one imports it (`@overlord/store/sqlite`; `@overlord/store/mysql`), so that the
 * daemon's bundle never loads a driver it does not use.
 */
export { appendGroup, checkAppends, loadTails, openFiles } from "./ingest/append.ts"
export { ackCursor, cursorOf, TAIL_BYTES, tailOf } from "./ingest/cursors.ts"
export type * from "./ingest/dialect.ts"
export { resetFile } from "./ingest/reset.ts"
export { emptyPlan, recomputeSessions } from "./ingest/sessions.ts"
export { type Ingest, runAsync, runSync, type Step, step } from "./ingest/steps.ts"
export * from "./store.ts"
