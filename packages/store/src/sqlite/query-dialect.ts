/**
 * SQLite's `QueryDialect` (`../query-dialect.ts`): every answer is synchronous (bun:sqlite), so the
 * engine-independent queries run with `runSync`, a transaction included (`BEGIN IMMEDIATE`: the
 * database's one write lock is taken first, so its reads see what it writes over).
 */
import type { Database, SQLQueryBindings } from "bun:sqlite"
import { runSync } from "../ingest/steps.ts"
import { placeholders, type Query, type QueryDialect, type SqlValue } from "../query-dialect.ts"

const bindings = (params: readonly SqlValue[]) => params as SQLQueryBindings[]

export function sqliteQueryDialect(db: Database): QueryDialect {
  const dialect: QueryDialect = {
    all: <T>(sql: string, params: readonly SqlValue[]) => db.query(sql).all(...bindings(params)) as T[],
    run: (sql, params) => db.query(sql).run(...bindings(params)).changes,
    insertRows(table, columns, rows, ignoreDuplicates) {
      if (rows.length === 0) return 0
      const insert = db.query(
        `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${placeholders(columns.length)})${ignoreDuplicates ? " ON CONFLICT DO NOTHING" : ""}`,
      )
      let inserted = 0
      for (const row of rows) inserted += insert.run(...bindings(row)).changes
      return inserted
    },
    upsert: (key, columns) =>
      `ON CONFLICT (${key}) DO UPDATE SET ${columns.map((c) => `${c} = excluded.${c}`).join(", ")}`,
    forUpdate: "",
    // Nested, bun:sqlite makes it a savepoint of the outer transaction.
    transaction: <A>(query: (tx: QueryDialect) => Query<A>) =>
      db.transaction(() => runSync(query(dialect))).immediate() as A,
  }
  return dialect
}
