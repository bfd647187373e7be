/**
 * What an engine supplies so that the engine-independent queries (`command-queries.ts`, `ai-queries.ts`)
 * run on it. The queries hold the statements, the row mapping and the decisions once, as generators
 * that yield each statement's answer (the ingest core's way, `ingest/steps.ts`): SQLite answers
 * synchronously and runs them with `runSync`, MySQL, MariaDB and PlanetScale answer with promises and run
 * them with `runAsync`. An engine's dialect says only what its SQL and driver do differently: how an
 * upsert and a locking read are written, how many rows go in one INSERT, and what a transaction is.
 * The store's methods over the queries are written once too (`commandStoreOn`, `aiStoreOn`): an
 * engine's class extends them with its dialect and its runner.
 *
 * Statements use `?` placeholders (both engines bind them). Rows come back as the driver gives them:
 * the queries read numbers through `Number()`, since a driver may give a DOUBLE or BIGINT as a string.
 */
import { type Step, step } from "./ingest/steps.ts"

/** A value a statement binds (the MySQL client refuses anything else, `mysql/client.ts`). */
export type SqlValue = null | string | number | boolean | Uint8Array

/** A query written once: yields each statement's answer (`Step`), returns `A`; `runSync` or `runAsync` runs it. */
export type Query<A> = Generator<Step<unknown>, A, unknown>

export interface QueryDialect {
  /** The rows a SELECT returns. */
  all<T>(sql: string, params: readonly SqlValue[]): Step<T[]>
  /** How many rows an INSERT, UPDATE or DELETE changed. */
  run(sql: string, params: readonly SqlValue[]): Step<number>
  /**
   * Inserts `rows` (values in `columns` order) into `table`, skipping a row whose key is taken when
   * `ignoreDuplicates`; how many it inserted. SQLite runs one prepared single-row statement per row (no
   * round trips to save); MySQL writes multi-row INSERTs, since each statement is a round trip (an
   * HTTP request on PlanetScale).
   */
  insertRows(
    table: string,
    columns: readonly string[],
    rows: readonly (readonly SqlValue[])[],
    ignoreDuplicates: boolean,
  ): Step<number>
  /** The clause after an INSERT that sets `columns` to the inserted values when the row's `key` is taken. */
  upsert(key: string, columns: readonly string[]): string
  /**
   * What a SELECT in a write transaction ends with to lock the rows it read until the transaction ends
   * (MySQL: ` FOR UPDATE`; SQLite: nothing, its IMMEDIATE transaction holds the database's one write lock).
   */
  readonly forUpdate: string
  /**
   * `query`'s statements in one write transaction, on the dialect it is given: all of them commit, or
   * none (the error is rethrown). Inside a transaction, a further `transaction` runs in the same one.
   */
  transaction<A>(query: (tx: QueryDialect) => Query<A>): Step<A>
}

/** Whether an engine's answers are values (`"sync"`, SQLite) or promises (`"async"`, MySQL drivers). */
export type Mode = "sync" | "async"
/** What a store method of an engine in mode `M` returns for a query that returns `A`. */
export type Answer<M extends Mode, A> = M extends "sync" ? A : Promise<A>
/** How an engine runs a query: `runSync` (`Runner<"sync">`) or `runAsync` (`Runner<"async">`), `ingest/steps.ts`. */
export type Runner<M extends Mode> = <A>(query: Query<A>) => Answer<M, A>

/** `const rows = yield* all(db, sql, params)`. */
export const all = <T>(db: QueryDialect, sql: string, params: readonly SqlValue[]) => step(db.all<T>(sql, params))
/** `const changed = yield* run(db, sql, params)`. */
export const run = (db: QueryDialect, sql: string, params: readonly SqlValue[]) => step(db.run(sql, params))

/** Whether a SELECT finds a row. */
export function* exists(db: QueryDialect, sql: string, params: readonly SqlValue[]): Query<boolean> {
  return (yield* all(db, sql, params)).length > 0
}

/** `FOR UPDATE` where the row is read to be changed in the same transaction. */
export const lockIf = (db: QueryDialect, lock: boolean) => (lock ? db.forUpdate : "")

/** The time a statement stores: ISO 8601 in UTC, which both engines compare as text. */
export const now = () => new Date().toISOString()

/** `?, ?, …`, `n` of them. */
export const placeholders = (n: number) => Array.from({ length: n }, () => "?").join(", ")

/** Placeholders per statement: SQLite's limit is 32,766; `IN (…)` lists are cut well below it. */
const IN_LIST = 500

/** `items` in runs of at most `size` (an `IN (…)` list each, by default). */
export function inChunks<T>(items: readonly T[], size = IN_LIST): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
