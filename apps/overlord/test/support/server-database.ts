/**
 * The database under a standalone test server, for the fault suites to run on each engine: how
 * `overlord serve` is pointed at it, provisioning (what `overlord login` will do), and the checks
 * that read it directly (bytes stored, one live entry per line, a file's cursor).
 */
import { Database } from "bun:sqlite"
import { randomUUID } from "node:crypto"
import { chmodSync, mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { Engine } from "@overlord/store"
import { connectMysql2, MysqlEngine, type SqlValue } from "@overlord/store/mysql"
import { SqliteEngine } from "@overlord/store/sqlite"
import type { MariaDbClient } from "@overlord/testkit/mariadb"
import type { DiskFile, Provisioned } from "./harness.ts"

export interface FileCursorRow {
  readonly generation: number
  readonly offset: number
  readonly live_end: number
}

export interface ServerDatabase {
  readonly engine: "sqlite" | "mariadb"
  /** What `overlord serve` is given to use it. */
  readonly serveArgs: readonly string[]
  /** A user, a machine token and an API token in the database; `machine.json` and `credentials.json` in the daemon's home. */
  provision(daemonHome: string, serverUrl: string): Promise<Provisioned>
  /** Bytes stored, summed over files. */
  storedBytes(): Promise<number>
  /** Per file: exactly one live entry per line, contiguous from byte 0 to its size. */
  problems(files: readonly DiskFile[]): Promise<string[]>
  fileCursor(fileKey: string): Promise<FileCursorRow | null>
  close(): Promise<void>
}

interface LiveRow {
  o: number
  n: number
}

function problemsOf(files: readonly DiskFile[], rowsOf: (fileKey: string) => LiveRow[]): string[] {
  const problems: string[] = []
  for (const f of files) {
    const rows = rowsOf(f.fileKey)
    if (rows.length !== f.lines) problems.push(`${f.fileKey}: ${rows.length} live entries, ${f.lines} lines`)
    let at = 0
    for (const r of rows) {
      if (r.o !== at) {
        problems.push(`${f.fileKey}: live entry at ${r.o}, expected one at ${at} (duplicate or gap)`)
        break
      }
      at += r.n
    }
    if (at !== f.bytes.length && rows.length === f.lines) problems.push(`${f.fileKey}: live entries end at ${at}`)
  }
  return problems
}

async function provisionWith(engine: Engine, daemonHome: string, serverUrl: string): Promise<Provisioned> {
  const userId = await engine.ensureUser("local")
  const machineId = randomUUID()
  const machineToken = await engine.issueToken({ userId, kind: "machine", machineUid: machineId })
  const apiToken = await engine.issueToken({ userId, kind: "api" })
  await engine.close()
  mkdirSync(daemonHome, { recursive: true, mode: 0o700 })
  const write = (name: string, value: unknown) => {
    const path = join(daemonHome, name)
    writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 })
    chmodSync(path, 0o600)
  }
  write("machine.json", { machineId, name: "test-machine" })
  write("credentials.json", { serverUrl, machineToken, apiToken })
  return { serverUrl, machineId, machineToken, apiToken }
}

/** A SQLite file (read-only, WAL, while the server writes it). */
export function sqliteDatabase(path: string): ServerDatabase {
  const read = <T>(f: (db: Database) => T): T => {
    const db = new Database(path, { readonly: true })
    try {
      return f(db)
    } finally {
      db.close()
    }
  }
  return {
    engine: "sqlite",
    serveArgs: ["--database", path],
    provision: (home, url) => provisionWith(new SqliteEngine({ path }), home, url),
    storedBytes: async () =>
      read((db) => (db.query("SELECT coalesce(sum(offset), 0) AS n FROM files").get() as { n: number }).n),
    problems: async (files) =>
      read((db) =>
        problemsOf(
          files,
          (key) =>
            db
              .query(
                `SELECT e.byte_offset AS o, e.raw_len + e.terminated AS n FROM entries e JOIN files fl ON fl.id = e.file_id
                 WHERE fl.file_key = ? AND e.superseded = 0 ORDER BY e.byte_offset`,
              )
              .all(key) as LiveRow[],
        ),
      ),
    fileCursor: async (key) =>
      read(
        (db) =>
          db
            .query("SELECT generation, offset, live_end FROM files WHERE file_key = ?")
            .get(key) as FileCursorRow | null,
      ),
    close: async () => {},
  }
}

/**
 * A database of its own on a MariaDB server; `overlord serve --database-url mysql://…`. The checks
 * connect for each question, so they work across a restart of the server.
 */
export async function mariaDatabase(maria: MariaDbClient): Promise<ServerDatabase> {
  const name = await maria.createDatabase()
  const url = maria.url(name)
  const query = async <T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> => {
    const client = connectMysql2({ url, connectionLimit: 1 })
    try {
      return (await client.query<T>(sql, params)).rows
    } finally {
      await client.close()
    }
  }
  return {
    engine: "mariadb",
    serveArgs: ["--database-url", url],
    provision: async (home, serverUrl) =>
      provisionWith(await MysqlEngine.open(connectMysql2({ url })), home, serverUrl),
    storedBytes: async () =>
      Number((await query<{ n: unknown }>("SELECT coalesce(sum(file_offset), 0) AS n FROM files"))[0]?.n ?? 0),
    problems: async (files) => {
      const rows = await query<{ file_key: string; o: unknown; n: unknown }>(
        `SELECT fl.file_key, e.byte_offset AS o, e.raw_len + e.is_terminated AS n FROM entries e
         JOIN files fl ON fl.id = e.file_id WHERE e.superseded = 0 ORDER BY fl.id, e.byte_offset`,
      )
      const byKey = new Map<string, LiveRow[]>()
      for (const r of rows) {
        const list = byKey.get(r.file_key) ?? []
        byKey.set(r.file_key, list)
        list.push({ o: Number(r.o), n: Number(r.n) })
      }
      return problemsOf(files, (key) => byKey.get(key) ?? [])
    },
    fileCursor: async (key) => {
      const row = (
        await query<{ generation: unknown; offset: unknown; live_end: unknown }>(
          "SELECT generation, file_offset AS `offset`, live_end FROM files WHERE file_key = ?",
          [key],
        )
      )[0]
      return row
        ? { generation: Number(row.generation), offset: Number(row.offset), live_end: Number(row.live_end) }
        : null
    },
    close: async () => {},
  }
}
