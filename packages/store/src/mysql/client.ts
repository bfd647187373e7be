/**
 * One small client over the two ways to reach a MySQL-compatible database: `mysql2` (a pool of
 * TCP connections) and `@planetscale/database` (HTTP, one request per statement). Everything above
 * this file is written once. Values are normalised here: integers and sums arrive as numbers (the
 * HTTP driver gives INT64 and DECIMAL as strings, mysql2 gives DECIMAL as strings), BLOBs as plain
 * `Uint8Array`s; credential and quota failures become a `DatabaseAccessError` that names the cause
 * (`errors.ts`), and the engine's `errorOf` maps the rest to the store's errors by their codes.
 */
import { randomBytes } from "node:crypto"
import {
  Client as PlanetscaleClient,
  type Config as PlanetscaleConfig,
  cast as planetscaleCast,
  format as planetscaleFormat,
} from "@planetscale/database"
import mysql from "mysql2/promise"
import { explainDriverError } from "./errors.ts"

export type SqlValue = null | string | number | boolean | Uint8Array
export type Row = Record<string, unknown>

export interface QueryResult<T = Row> {
  readonly rows: T[]
  readonly affectedRows: number
  readonly insertId: number
}

export interface MysqlQueryable {
  query<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<QueryResult<T>>
  /**
   * The same as a prepared statement (the binary protocol), where the driver has one (mysql2): BLOBs
   * travel as bytes, not as hex inside the SQL text. The driver prepares each distinct statement once
   * per connection and keeps it, so callers use few distinct statements.
   */
  readonly execute?: <T = Row>(sql: string, params: readonly SqlValue[]) => Promise<QueryResult<T>>
}

export interface MysqlClient extends MysqlQueryable {
  readonly connector: "mysql2" | "planetscale"
  /**
   * Parameter bytes one statement may carry. BLOBs travel hex-encoded inside the SQL text with
   * both drivers (client-side interpolation), so a statement is about twice this size; only the line
   * bytes through mysql2 go as prepared statements (`execute`), bytes as bytes.
   */
  readonly maxStatementBytes: number
  /** `fn`'s statements on one connection between BEGIN and COMMIT; ROLLBACK if it throws. */
  transaction<A>(fn: (tx: MysqlQueryable) => Promise<A>): Promise<A>
  close(): Promise<void>
}

/** Refuses what neither driver would bind faithfully (objects become `[object Object]` or `k = v` lists). */
function checkParams(sql: string, params: readonly SqlValue[]): void {
  for (let i = 0; i < params.length; i++) {
    const v = params[i]
    const t = typeof v
    if (v === null || t === "string" || t === "boolean" || v instanceof Uint8Array) continue
    if (t === "number" && Number.isFinite(v)) continue
    throw new TypeError(`cannot bind parameter ${i + 1} (${t === "number" ? String(v) : t}) of: ${sql.slice(0, 120)}`)
  }
}

const asUint8Array = (b: Uint8Array): Uint8Array =>
  b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength)

// ---- mysql2 ---------------------------------------------------------------------------------------

/** 64-bit integers and DECIMAL sums as numbers (counts and byte offsets stay far below 2^53). */
const mysql2TypeCast: mysql.TypeCast = (field, next) => {
  if (field.type === "LONGLONG" || field.type === "NEWDECIMAL" || field.type === "DECIMAL") {
    const s = field.string()
    return s === null ? null : Number(s)
  }
  const v = next()
  return v instanceof Uint8Array ? asUint8Array(v) : v
}

const toMysql2Params = (params: readonly SqlValue[]): unknown[] =>
  params.map((v) =>
    v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v,
  )

type Mysql2Target = Pick<mysql.Pool, "query" | "execute">

function mysql2Result<T>(result: unknown): QueryResult<T> {
  if (Array.isArray(result)) return { rows: result as T[], affectedRows: 0, insertId: 0 }
  const header = result as mysql.ResultSetHeader
  return { rows: [], affectedRows: header.affectedRows, insertId: Number(header.insertId) }
}

function mysql2Queryable(target: Mysql2Target): MysqlQueryable {
  return {
    async query<T>(sql: string, params: readonly SqlValue[] = []): Promise<QueryResult<T>> {
      checkParams(sql, params)
      let result: unknown
      try {
        ;[result] = await target.query({ sql, values: toMysql2Params(params), typeCast: mysql2TypeCast })
      } catch (error) {
        throw explainDriverError(error, "mysql2")
      }
      return mysql2Result<T>(result)
    },
    async execute<T>(sql: string, params: readonly SqlValue[]): Promise<QueryResult<T>> {
      checkParams(sql, params)
      let result: unknown
      try {
        ;[result] = await target.execute({ sql, values: toMysql2Params(params), typeCast: mysql2TypeCast })
      } catch (error) {
        throw explainDriverError(error, "mysql2")
      }
      return mysql2Result<T>(result)
    },
  }
}

export interface Mysql2Options {
  /** `mysql://user:pass@host:port/db` */
  readonly url: string
  readonly connectionLimit?: number
}

/** A pool of TCP connections (mysql2's promise API). */
export function connectMysql2(options: Mysql2Options): MysqlClient {
  const pool = mysql.createPool({
    uri: options.url,
    connectionLimit: options.connectionLimit ?? 8,
    charset: "utf8mb4_bin",
    // Timestamps are ISO strings in VARCHAR columns; nothing is converted to local time.
    dateStrings: true,
    multipleStatements: false,
    enableKeepAlive: true,
    // No stack captured at each call for the driver's errors (an Error per statement: ~3 % of the
    // server's CPU in an ingest). Ours are wrapped where they are thrown (`explainDriverError`).
    trace: false,
  })
  // An idle pooled connection the server dropped is reported here; the next query opens another.
  pool.on("connection", (conn) => conn.on("error", () => {}))
  const base = mysql2Queryable(pool)
  return {
    connector: "mysql2",
    // MariaDB's default max_allowed_packet is 16 MiB; hex doubles the bytes.
    maxStatementBytes: 6 * 1024 * 1024,
    query: base.query,
    execute: base.execute!,
    async transaction<A>(fn: (tx: MysqlQueryable) => Promise<A>): Promise<A> {
      let conn: mysql.PoolConnection
      try {
        conn = await pool.getConnection()
      } catch (error) {
        throw explainDriverError(error, "mysql2")
      }
      const tx = mysql2Queryable(conn)
      let healthy = true
      try {
        await tx.query("BEGIN")
        const result = await fn(tx)
        await tx.query("COMMIT")
        return result
      } catch (error) {
        try {
          await conn.query("ROLLBACK")
        } catch {
          // The connection is gone with its transaction: the server rolled it back.
          healthy = false
        }
        throw error
      } finally {
        if (healthy) conn.release()
        else conn.destroy()
      }
    },
    close: () => pool.end(),
  }
}

// ---- PlanetScale ----------------------------------------------------------------------------------

const BINARY_TYPES = new Set(["BLOB", "VARBINARY", "BINARY"])

/**
 * INT64, UINT64 and DECIMAL come as strings over HTTP: numbers here. Binary columns (charset 63) come
 * as one character per byte, which the driver turns into bytes through one string per byte (a 6 MiB
 * read: 6 million strings): decoded natively here instead. The rest as the driver casts them.
 */
const planetscaleCastValues: typeof planetscaleCast = (field, value) => {
  if (value === null || value === undefined) return null
  if (field.type === "INT64" || field.type === "UINT64" || field.type === "DECIMAL") return Number(value)
  if (field.charset === 63 && BINARY_TYPES.has(field.type) && typeof value === "string") {
    return asUint8Array(Buffer.from(value, "latin1"))
  }
  return planetscaleCast(field, value)
}

/**
 * The driver's own client-side formatting, except for BLOBs: it writes `x'…'` through one string per
 * byte (a 4 MB group: 4 million strings, most of a group's time; a 64 MB line: gigabytes). Each BLOB
 * goes through the driver as a marker string, which it quotes as is, and the marker is then replaced
 * by the BLOB's hex, written natively. The marker carries a random nonce per statement, so no text
 * value can be mistaken for one.
 */
export function formatWithBlobs(query: string, values: Record<string, unknown> | unknown[]): string {
  if (!Array.isArray(values) || !values.some((v) => v instanceof Uint8Array)) return planetscaleFormat(query, values)
  const nonce = randomBytes(12).toString("hex")
  const blobs: Uint8Array[] = []
  const marked = values.map((v) => (v instanceof Uint8Array ? `ovblob_${nonce}_${blobs.push(v) - 1}` : v))
  const pieces = planetscaleFormat(query, marked).split(new RegExp(`'ovblob_${nonce}_(\\d+)'`))
  // `split` with a capture group alternates text and the captured index: text, index, text, ...
  let out = pieces[0]!
  for (let i = 1; i < pieces.length; i += 2) {
    const b = blobs[Number(pieces[i])]!
    out += `x'${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")}'${pieces[i + 1]}`
  }
  return out
}

interface PlanetscaleExecutor {
  execute(
    query: string,
    args?: unknown[] | null,
  ): Promise<{ rows: unknown[]; rowsAffected: number; insertId: string; fields: unknown[] }>
}

function planetscaleQueryable(target: PlanetscaleExecutor): MysqlQueryable {
  return {
    async query<T>(sql: string, params: readonly SqlValue[] = []): Promise<QueryResult<T>> {
      checkParams(sql, params)
      let result: Awaited<ReturnType<PlanetscaleExecutor["execute"]>>
      try {
        // Without arguments the driver does not interpolate at all, so `?` in literals stays put.
        result = await target.execute(sql, params.length > 0 ? [...params] : null)
      } catch (error) {
        throw explainDriverError(error, "planetscale")
      }
      return { rows: result.rows as T[], affectedRows: result.rowsAffected, insertId: Number(result.insertId) }
    },
  }
}

/** PlanetScale's serverless driver: `url` is `https://user:password@host` (or `http://` for a local bridge). */
export function connectPlanetscale(
  config: Pick<PlanetscaleConfig, "url" | "host" | "username" | "password" | "fetch">,
): MysqlClient {
  const client = new PlanetscaleClient({ ...config, cast: planetscaleCastValues, format: formatWithBlobs })
  const base = planetscaleQueryable(client as unknown as PlanetscaleExecutor)
  return {
    connector: "planetscale",
    // One statement is one HTTP request, bounded (64 MiB) far below a 64 MB line in hex; 6 MiB of
    // BLOBs (12 MiB of SQL) carry a 4 MB group's lines in one request.
    maxStatementBytes: 6 * 1024 * 1024,
    query: base.query,
    // One `Connection` per transaction: its session pins one MySQL connection until COMMIT.
    async transaction<A>(fn: (tx: MysqlQueryable) => Promise<A>): Promise<A> {
      try {
        return await client.transaction((tx) => fn(planetscaleQueryable(tx as unknown as PlanetscaleExecutor)))
      } catch (error) {
        throw explainDriverError(error, "planetscale")
      }
    },
    close: async () => {},
  }
}

/** `mysql://…` through mysql2; `planetscale://…`, `https://…` or `http://…` through the HTTP driver. */
export function connectMysql(url: string): MysqlClient {
  const scheme = new URL(url).protocol
  if (scheme === "mysql:" || scheme === "mariadb:") return connectMysql2({ url: url.replace(/^mariadb:/, "mysql:") })
  if (scheme === "planetscale:") return connectPlanetscale({ url: url.replace(/^planetscale:/, "https:") })
  if (scheme === "https:" || scheme === "http:") return connectPlanetscale({ url })
  throw new Error(`unsupported database URL scheme ${scheme} (mysql:, mariadb:, planetscale:, https:)`)
}
