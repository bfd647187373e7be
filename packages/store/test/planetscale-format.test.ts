/**
 * The PlanetScale connector formats statements with the driver's own `format`, BLOBs excepted (hex
 * written natively instead of one string per byte): through the real driver and the bridge, BLOBs and
 * text, including text that looks like the connector's BLOB markers, are stored and read back as sent.
 */
import { randomBytes } from "node:crypto"
import { connectPlanetscale } from "@overlord/store/mysql"
import { formatWithBlobs } from "@overlord/store/mysql/client"
import { startPlanetScaleBridge } from "@overlord/testkit/planetscale-bridge"
import { format } from "@planetscale/database"
import { describe, expect, it } from "vitest"
import { mariaDbForTests } from "./mysql-test-server.ts"

describe("PlanetScale statement formatting", () => {
  it("is the driver's own for statements without BLOBs", () => {
    const values = ['O\'Brien \\ "x"\nü', 42, null, true, "ovblob_00_0"]
    const sql = "INSERT INTO t VALUES (?, ?, ?, ?, ?) -- ? stays"
    expect(formatWithBlobs(sql, values)).toBe(format(sql, values))
  })

  it("writes BLOBs as hex and leaves text that looks like a marker alone", () => {
    expect(formatWithBlobs("SELECT ?, ?, ?", [new Uint8Array([0, 255, 10]), "'ovblob_x_0'", new Uint8Array()])).toBe(
      "SELECT x'00ff0a', '''ovblob_x_0''', x''",
    )
  })

  it("round-trips BLOBs and text through the real driver", async () => {
    const mariadb = await mariaDbForTests()
    const bridge = await startPlanetScaleBridge({ mariadb, database: await mariadb.createDatabase() })
    const client = connectPlanetscale({ url: bridge.url })
    try {
      await client.query("CREATE TABLE t (id INT PRIMARY KEY, b MEDIUMBLOB, s TEXT) DEFAULT CHARSET=utf8mb4")
      const blob = new Uint8Array(randomBytes(3 * 1024 * 1024))
      const texts = ["ovblob_0123_0", "x'00'", "a?b", "日本語 'q'"]
      await client.query(
        `INSERT INTO t VALUES ${texts.map(() => "(?, ?, ?)").join(", ")}`,
        texts.flatMap((s, i) => [i, i === 0 ? blob : new Uint8Array([i]), s]),
      )
      const { rows } = await client.query<{ id: number; b: Uint8Array; s: string }>(
        "SELECT id, b, s FROM t ORDER BY id",
      )
      expect(rows.map((r) => r.s)).toEqual(texts)
      expect(rows[0]!.b).toBeInstanceOf(Uint8Array)
      expect(Buffer.compare(Buffer.from(rows[0]!.b), Buffer.from(blob))).toBe(0)
      expect(rows.slice(1).map((r) => [...r.b])).toEqual([[1], [2], [3]])
    } finally {
      await client.close()
      await bridge.stop()
    }
  })
})
