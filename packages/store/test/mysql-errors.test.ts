/**
 * Driver failures become the store's typed errors, chosen by the drivers' codes and keeping the
 * driver's error as the cause: an unreachable database or one out of connections is
 * `StoreUnavailableError` (retryable), a deadlock `StoreConflictError` (retryable); refused credentials
 * and quota a `DatabaseAccessError` that says which, under a `StoreQueryError` (not retryable) and a
 * `StoreUnavailableError` (retry later) respectively. Real
 * failures of real drivers: a closed port, a user limited to one connection, two transactions locking
 * rows in opposite orders, and PlanetScale's HTTP answers through the bridge.
 */
import { createServer } from "node:net"
import { isRetryable, layer, StoreConflictError, StoreQueryError, StoreUnavailableError } from "@overlord/store"
import {
  connectMysql2,
  connectPlanetscale,
  DatabaseAccessError,
  type MysqlClient,
  MysqlEngine,
  storeErrorOf,
} from "@overlord/store/mysql"
import { type PlanetScaleBridge, startPlanetScaleBridge } from "@overlord/testkit/planetscale-bridge"
import { Effect, Exit, Layer } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { mariaDbForTests } from "./mysql-test-server.ts"

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address ? address.port : 1))
    })
  })
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error("expected a failure")
    },
    (e: unknown) => e,
  )
}

async function bridge(): Promise<PlanetScaleBridge> {
  const mariadb = await mariaDbForTests()
  const b = await startPlanetScaleBridge({ mariadb, database: await mariadb.createDatabase() })
  cleanups.push(() => b.stop())
  return b
}

function track(client: MysqlClient): MysqlClient {
  cleanups.push(() => client.close())
  return client
}

describe("MySQL driver errors", () => {
  it("a refused connection is StoreUnavailableError, retryable, also through the Store layer", async () => {
    const url = `mysql://u:p@127.0.0.1:${await closedPort()}/db`
    const error = await failure(MysqlEngine.open(track(connectMysql2({ url }))))
    expect(error).toBeInstanceOf(StoreUnavailableError)
    expect(isRetryable(error as StoreUnavailableError)).toBe(true)
    expect((error as StoreUnavailableError).cause).toMatchObject({ code: "ECONNREFUSED" })
    const exit = await Effect.runPromiseExit(
      Effect.scoped(Layer.build(layer(() => MysqlEngine.open(track(connectMysql2({ url })))))),
    )
    expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain("StoreUnavailableError")
  })

  it("a user out of connections is StoreUnavailableError", async () => {
    const db = await mariaDbForTests()
    const name = await db.createDatabase()
    const admin = track(connectMysql2({ url: db.url(name) }))
    const user = `limited_${name.slice(-8)}`
    for (const host of ["%", "localhost"]) {
      await admin.query(`CREATE USER '${user}'@'${host}' IDENTIFIED BY 'pw' WITH MAX_USER_CONNECTIONS 1`)
      await admin.query(`GRANT ALL PRIVILEGES ON \`${name}\`.* TO '${user}'@'${host}'`)
    }
    const url = `mysql://${user}:pw@${db.host}:${db.port}/${name}`
    const one = track(connectMysql2({ url }))
    const two = track(connectMysql2({ url }))
    // The first holds its only connection inside a transaction while the second asks for one.
    const error = await one.transaction(async () => failure(two.query("SELECT 1")))
    const stored = storeErrorOf("append", error)
    expect(stored).toBeInstanceOf(StoreUnavailableError)
    // MariaDB says 1226 (user limit reached), MySQL 1203 (too many user connections).
    expect([1203, 1226]).toContain((stored.cause as { errno: number }).errno)
  })

  it("a connection the server dropped fails retryably at most once, and the pool goes on", async () => {
    const db = await mariaDbForTests()
    const url = db.url(await db.createDatabase())
    const client = track(connectMysql2({ url, connectionLimit: 1 }))
    const admin = track(connectMysql2({ url }))
    const [{ id }] = (await client.query<{ id: number }>("SELECT CONNECTION_ID() AS id")).rows as [{ id: number }]
    await admin.query(`KILL CONNECTION ${Number(id)}`)
    const outcomes: unknown[] = []
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        outcomes.push((await client.query<{ one: number }>("SELECT 1 AS one")).rows[0])
        break
      } catch (error) {
        outcomes.push(storeErrorOf("listSessions", error))
      }
    }
    expect(outcomes[outcomes.length - 1]).toEqual({ one: 1 })
    for (const failed of outcomes.slice(0, -1)) expect(failed).toBeInstanceOf(StoreUnavailableError)
  })

  it("wrong credentials are named as such, and not retryable", async () => {
    const db = await mariaDbForTests()
    const url = `mysql://${db.user}:wrong-password@${db.host}:${db.port}/${await db.createDatabase()}`
    const error = await failure(track(connectMysql2({ url })).query("SELECT 1"))
    expect(error).toBeInstanceOf(DatabaseAccessError)
    expect((error as DatabaseAccessError).reason).toBe("credentials")
    expect((error as Error).message).toContain("refused the credentials")
    expect((error as Error).cause).toMatchObject({ errno: 1045 })
    const stored = storeErrorOf("ensureUser", error)
    expect(stored).toBeInstanceOf(StoreQueryError)
    expect(isRetryable(stored)).toBe(false)
  })

  it("a deadlock is StoreConflictError, retryable", async () => {
    const db = await mariaDbForTests()
    const url = db.url(await db.createDatabase())
    const a = track(connectMysql2({ url }))
    const b = track(connectMysql2({ url }))
    await MysqlEngine.open(a)
    const lock = (q: { query: MysqlClient["query"] }, name: string) =>
      q.query("UPDATE counters SET value = value + 1 WHERE name = ?", [name])
    let release!: () => void
    const bothHold = new Promise<void>((r) => {
      release = r
    })
    let held = 0
    const holdThen = (first: string, second: string, client: MysqlClient) =>
      client.transaction(async (tx) => {
        await lock(tx, first)
        if (++held === 2) release()
        await bothHold
        await lock(tx, second)
      })
    const results = await Promise.allSettled([holdThen("seq", "search_cursor", a), holdThen("search_cursor", "seq", b)])
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === "rejected")
    expect(rejected).toHaveLength(1)
    const stored = storeErrorOf("append", rejected[0]!.reason)
    expect(stored).toBeInstanceOf(StoreConflictError)
    expect(stored.cause).toMatchObject({ errno: 1213 })
    expect(isRetryable(stored)).toBe(true)
  })
})

describe("PlanetScale driver errors", () => {
  it("wrong credentials are named as such", async () => {
    const b = await bridge()
    const url = new URL(b.url)
    url.password = "wrong"
    const error = await failure(track(connectPlanetscale({ url: url.toString() })).query("SELECT 1"))
    expect(error).toBeInstanceOf(DatabaseAccessError)
    expect((error as Error).message).toMatch(/PlanetScale refused the credentials \(HTTP 401\)/)
    expect((error as Error).cause).toMatchObject({ status: 401 })
    expect(storeErrorOf("append", error)).toBeInstanceOf(StoreQueryError)
  })

  it("a quota or rate limit is named as such", async () => {
    const b = await bridge()
    const client = track(connectPlanetscale({ url: b.url }))
    b.failNext({ status: 429, body: { error: { code: "RESOURCE_EXHAUSTED", message: "rows read quota exceeded" } } })
    const error = await failure(client.query("SELECT 1"))
    expect(error).toBeInstanceOf(DatabaseAccessError)
    expect((error as DatabaseAccessError).reason).toBe("quota")
    expect((error as Error).message).toContain("quota or rate limit")
    // Retryable later, with the cause in words.
    const stored = storeErrorOf("append", error)
    expect(stored).toBeInstanceOf(StoreUnavailableError)
    expect(isRetryable(stored)).toBe(true)
    // The next request goes through: nothing stays broken.
    expect((await client.query<{ one: number }>("SELECT 1 AS one")).rows).toEqual([{ one: 1 }])
  })

  it("an unreachable endpoint is StoreUnavailableError, and a running engine's append fails retryably", async () => {
    const b = await bridge()
    const engine = await MysqlEngine.open(connectPlanetscale({ url: b.url }))
    const userId = await engine.ensureUser("alice")
    const { machineId } = await engine.openMachine({ userId }, "m-1", "laptop")
    await b.stop()
    const payload = new TextEncoder().encode('{"type":"user"}\n')
    const error = await failure(
      Promise.resolve(
        engine.append({ userId, machineId }, [
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
        ]),
      ),
    )
    const stored = engine.errorOf("append", error)
    expect(stored).toBeInstanceOf(StoreUnavailableError)
    expect(isRetryable(stored)).toBe(true)
  })
})
