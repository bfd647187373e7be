/**
 * MySQL's, MariaDB's and PlanetScale's `QueryDialect` (`../query-dialect.ts`) over one `MysqlClient`:
 * every answer is a promise, so the engine-independent queries run with `runAsync`. Each statement is a
 * round trip (an HTTP request on PlanetScale): rows are inserted many to a statement.
 */
import { runAsync } from "../ingest/steps.ts"
import { inChunks, placeholders, type QueryDialect, type SqlValue } from "../query-dialect.ts"
import type { MysqlClient, MysqlQueryable } from "./client.ts"

/** Rows per INSERT: 64 rows of 1 KB vectors and 1 KB texts (AI chunks) stay far below any packet limit. */
const ROWS_PER_INSERT = 64

/** The dialect on `client`; its `transaction` runs on one connection between BEGIN and COMMIT. */
export function mysqlQueryDialect(client: MysqlClient): QueryDialect {
  return on(client, (query) => client.transaction((tx) => runAsync(query(inTransaction(tx)))))
}

/** The dialect inside a transaction, where a further `transaction` is the same one. */
function inTransaction(tx: MysqlQueryable): QueryDialect {
  const dialect: QueryDialect = on(tx, (query) => runAsync(query(dialect)))
  return dialect
}

function on(q: MysqlQueryable, transaction: QueryDialect["transaction"]): QueryDialect {
  return {
    all: async <T>(sql: string, params: readonly SqlValue[]) => (await q.query<T>(sql, params)).rows,
    run: async (sql, params) => (await q.query(sql, params)).affectedRows,
    async insertRows(table, columns, rows, ignoreDuplicates) {
      const row = `(${placeholders(columns.length)})`
      let inserted = 0
      for (const part of inChunks(rows, ROWS_PER_INSERT)) {
        const { affectedRows } = await q.query(
          `INSERT ${ignoreDuplicates ? "IGNORE " : ""}INTO ${table} (${columns.join(", ")}) VALUES ${part.map(() => row).join(", ")}`,
          part.flat(),
        )
        inserted += affectedRows
      }
      return inserted
    },
    upsert: (_key, columns) => `ON DUPLICATE KEY UPDATE ${columns.map((c) => `${c} = VALUES(${c})`).join(", ")}`,
    forUpdate: " FOR UPDATE",
    transaction,
  }
}
