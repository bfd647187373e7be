/**
 * The one client over both drivers answers alike: 64-bit integers, counts and DECIMAL sums as numbers,
 * BLOBs as plain `Uint8Array`s, text as strings, NULL as null; a transaction commits or rolls back
 * whole; values neither driver binds faithfully are refused before anything is sent.
 */
import { connectMysql2, connectPlanetscale, type MysqlClient } from "@overlord/store/mysql"
import { startPlanetScaleBridge } from "@overlord/testkit/planetscale-bridge"
import { afterEach, describe, expect, it } from "vitest"
import { mariaDbForTests } from "./mysql-test-server.ts"

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const connectors: Record<string, () => Promise<MysqlClient>> = {
  mysql2: async () => {
    const db = await mariaDbForTests()
    const client = connectMysql2({ url: db.url(await db.createDatabase()) })
    cleanups.push(() => client.close())
    return client
  },
  planetscale: async () => {
    const mariadb = await mariaDbForTests()
    const bridge = await startPlanetScaleBridge({ mariadb, database: await mariadb.createDatabase() })
    const client = connectPlanetscale({ url: bridge.url })
    cleanups.push(
      () => client.close(),
      () => bridge.stop(),
    )
    return client
  },
}

for (const [name, connect] of Object.entries(connectors)) {
  describe(`MySQL client through ${name}`, () => {
    it("normalises values: integers and sums as numbers, BLOBs as Uint8Array, NULL as null", async () => {
      const client = await connect()
      await client.query(
        "CREATE TABLE v (id BIGINT PRIMARY KEY, n BIGINT, d DOUBLE, b MEDIUMBLOB, t TEXT, flag TINYINT) DEFAULT CHARSET=utf8mb4",
      )
      await client.query("INSERT INTO v VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)", [
        1,
        2 ** 52,
        0.25,
        new Uint8Array([0, 1, 255]),
        "héllo",
        1,
        2,
        3,
        0.5,
        null,
        null,
        0,
      ])
      const { rows } = await client.query("SELECT id, n, d, b, t, flag FROM v ORDER BY id")
      expect(rows[0]).toEqual({ id: 1, n: 2 ** 52, d: 0.25, b: new Uint8Array([0, 1, 255]), t: "héllo", flag: 1 })
      expect((rows[0]!.b as Uint8Array).constructor).toBe(Uint8Array)
      expect(rows[1]).toEqual({ id: 2, n: 3, d: 0.5, b: null, t: null, flag: 0 })
      const sums = await client.query("SELECT sum(n) AS total, count(*) AS n, sum(d) AS d FROM v")
      expect(sums.rows).toEqual([{ total: 2 ** 52 + 3, n: 2, d: 0.75 }])
      const inserted = await client.query("INSERT INTO v (id) VALUES (?)", [3])
      expect(inserted.affectedRows).toBe(1)
    })

    it("commits a transaction whole, or rolls it back whole when it throws", async () => {
      const client = await connect()
      await client.query("CREATE TABLE c (id INT PRIMARY KEY) ENGINE=InnoDB")
      await client.transaction(async (tx) => {
        await tx.query("INSERT INTO c VALUES (1)")
        await tx.query("INSERT INTO c VALUES (2)")
      })
      await expect(
        client.transaction(async (tx) => {
          await tx.query("INSERT INTO c VALUES (3)")
          throw new Error("changed my mind")
        }),
      ).rejects.toThrow("changed my mind")
      expect((await client.query<{ id: number }>("SELECT id FROM c ORDER BY id")).rows.map((r) => r.id)).toEqual([1, 2])
    })

    it("refuses values it cannot bind faithfully, sending nothing", async () => {
      const client = await connect()
      await expect(client.query("SELECT ?", [{} as unknown as string])).rejects.toThrow(/cannot bind parameter 1/)
      await expect(client.query("SELECT ?", [Number.NaN])).rejects.toThrow(/cannot bind parameter 1/)
    })
  })
}
