/**
 * The MySQL schema's migrations: from an empty database, again (nothing to do), from a run that died
 * half-way, and started by two servers at once (the `GET_LOCK` makes the second wait, then find
 * nothing to do), through both connectors.
 */
import { SchemaTooNewError } from "@overlord/store"
import {
  connectMysql2,
  connectPlanetscale,
  MYSQL_MIGRATIONS,
  type MysqlClient,
  MysqlEngine,
  migrateMysql,
} from "@overlord/store/mysql"
import { startPlanetScaleBridge } from "@overlord/testkit/planetscale-bridge"
import { afterEach, describe, expect, it } from "vitest"
import { mariaDbForTests } from "./mysql-test-server.ts"

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A factory of clients on one new, empty database. */
type Connector = () => Promise<() => MysqlClient>

const connectors: Record<string, Connector> = {
  mysql2: async () => {
    const db = await mariaDbForTests()
    const url = db.url(await db.createDatabase())
    return () => track(connectMysql2({ url }))
  },
  planetscale: async () => {
    const mariadb = await mariaDbForTests()
    const bridge = await startPlanetScaleBridge({ mariadb, database: await mariadb.createDatabase() })
    cleanups.push(() => bridge.stop())
    return () => track(connectPlanetscale({ url: bridge.url }))
  },
}

function track(client: MysqlClient): MysqlClient {
  cleanups.push(() => client.close())
  return client
}

const ALL = MYSQL_MIGRATIONS.map((_, i) => i + 1)

/** The tables the migrations create, and the migrations' own record. */
const DECLARED_TABLES = [
  ...new Set([
    "schema_migrations",
    ...MYSQL_MIGRATIONS.flat().flatMap((s) => (typeof s === "string" ? [] : [s.table])),
  ]),
].sort()

async function tables(client: MysqlClient): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = database() ORDER BY table_name",
  )
  return rows.map((r) => r.name)
}

async function versions(client: MysqlClient): Promise<number[]> {
  return (await client.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version")).rows.map(
    (r) => r.version,
  )
}

for (const [name, connector] of Object.entries(connectors)) {
  describe(`MySQL migrations through ${name}`, () => {
    it("creates the schema in an empty database, InnoDB and utf8mb4, and records each version", async () => {
      const client = (await connector())()
      expect(await migrateMysql(client)).toEqual(ALL)
      // Every table a migration declares (later migrations add their own), the first migration's among them.
      expect((await tables(client)).sort()).toEqual(DECLARED_TABLES)
      expect(await tables(client)).toEqual(
        expect.arrayContaining([
          "counters",
          "entries",
          "entry_search",
          "files",
          "line_chunks",
          "machines",
          "schema_migrations",
          "sessions",
          "tokens",
          "usage_messages",
          "users",
        ]),
      )
      expect(await versions(client)).toEqual(ALL)
      const { rows } = await client.query<{ engine: string; collation: string; name: string }>(
        `SELECT table_name AS name, engine, table_collation AS collation FROM information_schema.tables
         WHERE table_schema = database()`,
      )
      for (const t of rows) {
        expect(t.engine, t.name).toBe("InnoDB")
        expect(t.collation, t.name).toMatch(t.name === "entry_search" ? /^ascii_/ : /^utf8mb4_/)
      }
    })

    it("does nothing when run again, and keeps what is stored", async () => {
      const client = (await connector())()
      const engine = await MysqlEngine.open(client)
      const userId = await engine.ensureUser("alice")
      expect(await migrateMysql(client)).toEqual([])
      expect(await versions(client)).toEqual(ALL)
      expect(await engine.ensureUser("alice")).toBe(userId)
    })

    it("finishes a migration a server died in the middle of", async () => {
      const client = (await connector())()
      // The first statements of migration 1 ran (DDL commits at once), then the server died.
      for (const statement of MYSQL_MIGRATIONS[0]!.slice(0, 3)) {
        if (typeof statement === "string") await client.query(statement)
        else if ("sql" in statement) await client.query(statement.sql)
      }
      expect(await migrateMysql(client)).toEqual(ALL)
      expect(await versions(client)).toEqual(ALL)
      expect((await tables(client)).sort()).toEqual(DECLARED_TABLES)
    })

    it("creates an index a migration declares on an existing table when it is missing, and skips it when present", async () => {
      const client = (await connector())()
      await migrateMysql(client)
      const version = MYSQL_MIGRATIONS.findIndex((m) => m.some((s) => typeof s !== "string" && "index" in s)) + 1
      const indexes = async () =>
        (
          await client.query<{ name: string }>(
            `SELECT DISTINCT index_name AS name FROM information_schema.statistics
             WHERE table_schema = database() AND table_name = 'usage_messages' ORDER BY index_name`,
          )
        ).rows.map((r) => r.name)
      expect(await indexes()).toContain("usage_by_project")
      // A server that died after the index but before its record: the index is there, the record is not.
      await client.query("DELETE FROM schema_migrations WHERE version = ?", [version])
      expect(await migrateMysql(client)).toEqual([version])
      // A database whose index went missing (the record gone with it) gets it back.
      await client.query("DROP INDEX usage_by_project ON usage_messages")
      await client.query("DELETE FROM schema_migrations WHERE version = ?", [version])
      expect(await migrateMysql(client)).toEqual([version])
      expect(await indexes()).toContain("usage_by_project")
      expect(await versions(client)).toEqual(ALL)
    })

    it("adds a column a migration declares when it is missing, and skips it when present", async () => {
      const client = (await connector())()
      await migrateMysql(client)
      const version = MYSQL_MIGRATIONS.findIndex((m) => m.some((s) => typeof s !== "string" && "column" in s)) + 1
      const columns = async () =>
        (
          await client.query<{ name: string }>(
            `SELECT column_name AS name FROM information_schema.columns
             WHERE table_schema = database() AND table_name = 'line_chunks' ORDER BY ordinal_position`,
          )
        ).rows.map((r) => r.name)
      expect(await columns()).toEqual(["entry_seq", "at", "bytes", "codec"])
      // A server that died after the column but before its record: the column is there, the record is not.
      await client.query("DELETE FROM schema_migrations WHERE version = ?", [version])
      expect(await migrateMysql(client)).toEqual([version])
      // A database from before the column (the record gone with it) gets it.
      await client.query("ALTER TABLE line_chunks DROP COLUMN codec")
      await client.query("DELETE FROM schema_migrations WHERE version = ?", [version])
      expect(await migrateMysql(client)).toEqual([version])
      expect(await columns()).toEqual(["entry_seq", "at", "bytes", "codec"])
      expect(await versions(client)).toEqual(ALL)
    })

    it("refuses a database a newer server migrated, rather than misread what it wrote", async () => {
      const client = (await connector())()
      await migrateMysql(client)
      await client.query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", [
        MYSQL_MIGRATIONS.length + 1,
        new Date().toISOString(),
      ])
      await expect(migrateMysql(client)).rejects.toThrow(SchemaTooNewError)
      await expect(migrateMysql(client)).rejects.toThrow(/migrated by a newer Overlord/)
    })

    it("applies each migration once when two servers start at the same time", async () => {
      const make = await connector()
      const [one, two] = [make(), make()]
      const applied = await Promise.all([migrateMysql(one), migrateMysql(two)])
      // One of them did everything, the other waited for the lock and found nothing left.
      expect(applied.flat().sort((a, b) => a - b)).toEqual(ALL)
      expect(applied.some((a) => a.length === 0)).toBe(true)
      expect(await versions(one)).toEqual(ALL)
      // And two engines opened together work on the result.
      const engines = await Promise.all([MysqlEngine.open(make()), MysqlEngine.open(make())])
      const ids = await Promise.all(engines.map((e) => e.ensureUser("alice")))
      expect(ids[0]).toBe(ids[1])
    })
  })
}

describe("MySQL migrations on a schema deployed without its rows", () => {
  it("run only their data statements, as a user who may not change the schema", async () => {
    // A PlanetScale deploy request carries tables, not rows, and a production branch with safe
    // migrations refuses DDL: a user without CREATE or ALTER stands in for it.
    const db = await mariaDbForTests()
    const name = await db.createDatabase()
    const admin = track(connectMysql2({ url: db.url(name) }))
    await migrateMysql(admin)
    await admin.query("DELETE FROM schema_migrations")
    await admin.query("DELETE FROM counters")
    const user = `dml_${name.slice(-8)}`
    for (const host of ["%", "localhost"]) {
      await admin.query(`CREATE USER '${user}'@'${host}' IDENTIFIED BY 'pw'`)
      await admin.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON \`${name}\`.* TO '${user}'@'${host}'`)
    }
    const client = track(connectMysql2({ url: `mysql://${user}:pw@${db.host}:${db.port}/${name}` }))
    expect(await migrateMysql(client)).toEqual(ALL)
    expect(await versions(client)).toEqual(ALL)
    const engine = await MysqlEngine.open(client)
    const userId = await engine.ensureUser("alice")
    const { machineId } = await engine.openMachine({ userId }, "m-1", "laptop")
    const payload = new TextEncoder().encode('{"type":"user","sessionId":"s"}\n')
    const [out] = await engine.append({ userId, machineId }, [
      {
        header: {
          type: "append",
          seq: 0,
          fileKey: "-p/11111111-2222-3333-4444-555555555555.jsonl",
          generation: 0,
          identity: "1:1",
          fromOffset: 0,
          toOffset: payload.length,
        },
        payload,
      },
    ])
    expect(out?._tag === "Ack" && out.stored.map((r) => r.seq)).toEqual([1])
  })
})
