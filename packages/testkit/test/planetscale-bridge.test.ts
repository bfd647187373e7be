import { randomBytes } from "node:crypto"
import { Client, type Connection, connect, DatabaseError } from "@planetscale/database"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startMariaDb, testMariaDb } from "../src/mariadb.ts"
import { type PlanetScaleBridge, startPlanetScaleBridge } from "../src/planetscale-bridge.ts"
import { waitFor } from "../src/wait.ts"

const mariadb = testMariaDb()
let database: string
let bridge: PlanetScaleBridge
let conn: Connection

beforeAll(async () => {
  database = await mariadb.createDatabase()
  bridge = await startPlanetScaleBridge({ mariadb, database })
  conn = connect({ url: bridge.url })
})

afterAll(async () => {
  await bridge?.stop()
})

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<DatabaseError> {
  try {
    await p
  } catch (e) {
    if (e instanceof DatabaseError) return e
    throw e
  }
  throw new Error("expected the driver to throw")
}

describe("PlanetScale bridge: types as the driver gets them from PlanetScale", () => {
  it("casts every column type of the golden mapping that MariaDB has", async () => {
    await conn.execute(`CREATE TABLE golden (
      t_tinyint TINYINT, t_smallint SMALLINT, t_mediumint MEDIUMINT, t_int INT, t_bigint BIGINT,
      t_utinyint TINYINT UNSIGNED, t_uint INT UNSIGNED, t_ubigint BIGINT UNSIGNED,
      t_decimal DECIMAL(6,2), t_numeric NUMERIC(4,1), t_float FLOAT, t_double DOUBLE, t_bit BIT(3),
      t_date DATE, t_datetime DATETIME, t_timestamp TIMESTAMP NULL, t_time TIME, t_year YEAR,
      t_char CHAR(4), t_varchar VARCHAR(20), t_binary BINARY(3), t_varbinary VARBINARY(8),
      t_tinyblob TINYBLOB, t_blob BLOB, t_mediumblob MEDIUMBLOB, t_longblob LONGBLOB,
      t_tinytext TINYTEXT, t_text TEXT, t_mediumtext MEDIUMTEXT, t_longtext LONGTEXT,
      t_enum ENUM('a','b'), t_set SET('x','y'), t_json JSON, t_geometry GEOMETRY, t_point POINT,
      t_charbin CHAR(3) COLLATE utf8mb4_bin, t_null INT
    )`)
    await conn.execute(`INSERT INTO golden VALUES (
      -128, -32768, -8388608, -2147483648, -9223372036854775808,
      255, 4294967295, 18446744073709551615,
      1234.5, 123.4, 1.5, 2.25, b'101',
      '2024-01-02', '2024-01-02 03:04:05', '2024-01-02 03:04:05', '-01:02:03', 2024,
      'ab', 'ünï "q"', x'0102', x'00ff',
      x'01', x'0203', x'040506', x'00',
      'tiny', 'text', 'medium', 'long',
      'b', 'x,y', '{"a":[1,"two"],"b":null}', POINT(1,2), POINT(3,4),
      'xyz', NULL
    )`)
    const res = await conn.execute("SELECT * FROM golden")
    expect(res.types).toEqual({
      t_tinyint: "INT8",
      t_smallint: "INT16",
      t_mediumint: "INT24",
      t_int: "INT32",
      t_bigint: "INT64",
      t_utinyint: "UINT8",
      t_uint: "UINT32",
      t_ubigint: "UINT64",
      t_decimal: "DECIMAL",
      t_numeric: "DECIMAL",
      t_float: "FLOAT32",
      t_double: "FLOAT64",
      t_bit: "BIT",
      t_date: "DATE",
      t_datetime: "DATETIME",
      t_timestamp: "TIMESTAMP",
      t_time: "TIME",
      t_year: "YEAR",
      t_char: "CHAR",
      t_varchar: "VARCHAR",
      t_binary: "BINARY",
      t_varbinary: "VARBINARY",
      t_tinyblob: "BLOB",
      t_blob: "BLOB",
      t_mediumblob: "BLOB",
      t_longblob: "BLOB",
      t_tinytext: "TEXT",
      t_text: "TEXT",
      t_mediumtext: "TEXT",
      t_longtext: "TEXT",
      t_enum: "ENUM",
      t_set: "SET",
      t_json: "JSON",
      t_geometry: "GEOMETRY",
      t_point: "GEOMETRY",
      t_charbin: "BINARY",
      t_null: "INT32",
    })
    const row = res.rows[0] as Record<string, unknown>
    const bytes = (...b: number[]) => new Uint8Array(b)
    expect(row).toEqual({
      t_tinyint: -128,
      t_smallint: -32768,
      t_mediumint: -8388608,
      t_int: -2147483648,
      t_bigint: "-9223372036854775808",
      t_utinyint: 255,
      t_uint: 4294967295,
      t_ubigint: "18446744073709551615",
      t_decimal: "1234.50",
      t_numeric: "123.4",
      t_float: 1.5,
      t_double: 2.25,
      t_bit: bytes(5),
      t_date: "2024-01-02",
      t_datetime: "2024-01-02 03:04:05",
      t_timestamp: "2024-01-02 03:04:05",
      t_time: "-01:02:03",
      t_year: 2024,
      t_char: "ab",
      t_varchar: 'ünï "q"',
      t_binary: bytes(1, 2, 0),
      t_varbinary: bytes(0, 255),
      t_tinyblob: bytes(1),
      t_blob: bytes(2, 3),
      t_mediumblob: bytes(4, 5, 6),
      t_longblob: bytes(0),
      t_tinytext: "tiny",
      t_text: "text",
      t_mediumtext: "medium",
      t_longtext: "long",
      t_enum: "b",
      t_set: "x,y",
      t_json: { a: [1, "two"], b: null },
      t_geometry: expect.any(Uint8Array),
      t_point: expect.any(Uint8Array),
      // CHAR ... COLLATE utf8mb4_bin is BINARY to Vitess but not charset 63: the driver gives a string.
      t_charbin: "xyz",
      t_null: null,
    })
    // WKB with MySQL's 4-byte SRID prefix: SRID 0, little-endian point (1, 2).
    expect(Buffer.from(row.t_geometry as Uint8Array).toString("hex")).toBe(
      "000000000101000000000000000000f03f0000000000000040",
    )
  })

  it("reports SELECT NULL without a type, computed JSON as JSON, empty strings and empty results", async () => {
    const res = await conn.execute("SELECT NULL AS n, JSON_OBJECT('k', 1) AS j, '' AS e, COUNT(*) AS c FROM golden")
    expect(res.types).toEqual({ n: "NULL", j: "JSON", e: "VARCHAR", c: "INT64" })
    expect(res.rows).toEqual([{ n: null, j: { k: 1 }, e: "", c: "1" }])
    const empty = await conn.execute("SELECT t_int FROM golden WHERE 1 = 0")
    expect(empty.rows).toEqual([])
    expect(empty.types).toEqual({ t_int: "INT32" })
  })

  it("reports rowsAffected (matched rows, as PlanetScale's clientFoundRows) and insertId as the driver expects", async () => {
    await conn.execute("CREATE TABLE counters (id BIGINT AUTO_INCREMENT PRIMARY KEY, n INT)")
    const insert = await conn.execute("INSERT INTO counters (n) VALUES (1), (1)")
    expect(insert.rowsAffected).toBe(2)
    expect(insert.insertId).toBe("1")
    const unchanged = await conn.execute("UPDATE counters SET n = 1")
    expect(unchanged.rowsAffected).toBe(2)
    expect(unchanged.insertId).toBe("0")
    const none = await conn.execute("DELETE FROM counters WHERE n = 99")
    expect(none.rowsAffected).toBe(0)
    expect(none.rows).toEqual([])
  })
})

describe("PlanetScale bridge: parameters and large values", () => {
  it("round-trips parameters with quotes, backslashes, newlines, NUL and unicode", async () => {
    await conn.execute("CREATE TABLE params (id INT PRIMARY KEY, s TEXT, b BLOB)")
    const tricky = ['O\'Brien \\ "x"\nü', "tab\tcr\r\0nul\x1a", "emoji 🎉 and ''quotes''", "a\\'b", "?:name"]
    for (const [i, s] of tricky.entries()) {
      await conn.execute("INSERT INTO params (id, s, b) VALUES (?, ?, ?)", [i, s, new TextEncoder().encode(s)])
    }
    const res = await conn.execute("SELECT id, s, b FROM params WHERE s = :s OR id >= :from ORDER BY id", {
      s: tricky[0],
      from: 1,
    })
    expect(res.rows).toEqual(tricky.map((s, id) => ({ id, s, b: new TextEncoder().encode(s) })))
  })

  it("round-trips a 10 MB BLOB byte for byte", async () => {
    await conn.execute("CREATE TABLE blobs (id INT PRIMARY KEY, b LONGBLOB)")
    const blob = new Uint8Array(randomBytes(10 * 1024 * 1024))
    await conn.execute("INSERT INTO blobs VALUES (1, ?)", [blob])
    const res = await conn.execute("SELECT b FROM blobs WHERE id = 1")
    const back = (res.rows[0] as { b: Uint8Array }).b
    expect(back.length).toBe(blob.length)
    expect(Buffer.compare(Buffer.from(back), Buffer.from(blob))).toBe(0)
  })
})

describe("PlanetScale bridge: sessions and transactions", () => {
  it("keeps session state on one Connection, and none across Client.execute calls", async () => {
    const one = connect({ url: bridge.url })
    await one.execute("SET @x = 42")
    expect((await one.execute("SELECT @x AS x")).rows).toEqual([{ x: "42" }])
    const client = new Client({ url: bridge.url })
    await client.execute("SET @x = 42")
    expect((await client.execute("SELECT @x AS x")).rows).toEqual([{ x: null }])
  })

  it("runs requests without a session on pooled connections, never one a session variable or lock marked", async () => {
    const client = new Client({ url: bridge.url })
    const idOf = async (sql: string) => Number((await client.execute(sql)).rows[0]!.id)
    const first = await idOf("SELECT CONNECTION_ID() AS id")
    // As vtgate's pool: the next session-less statement runs on the same MariaDB connection.
    expect(await idOf("SELECT CONNECTION_ID() AS id")).toBe(first)
    // A statement that sets a variable keeps its connection to its session, out of the pool.
    const marked = await idOf("SELECT CONNECTION_ID() AS id, @mark := 1 AS m")
    expect(marked).toBe(first)
    const next = await idOf("SELECT CONNECTION_ID() AS id")
    expect(next).not.toBe(marked)
    expect((await client.execute("SELECT @mark AS m")).rows).toEqual([{ m: null }])
  })

  it("commits a transaction, and rolls it back when the function throws", async () => {
    await conn.execute("CREATE TABLE tx (id INT PRIMARY KEY)")
    await conn.transaction(async (tx) => {
      await tx.execute("INSERT INTO tx VALUES (1)")
      await tx.execute("INSERT INTO tx VALUES (2)")
    })
    const thrown = await conn
      .transaction(async (tx) => {
        await tx.execute("INSERT INTO tx VALUES (3)")
        // Not visible outside the transaction before it ends: the session holds its own connection.
        expect((await conn.execute("SELECT COUNT(*) AS n FROM tx")).rows).toEqual([{ n: "2" }])
        throw new Error("boom")
      })
      .catch((e: unknown) => e)
    expect(thrown).toBeInstanceOf(Error)
    expect((thrown as Error).message).toBe("boom")
    expect((await conn.execute("SELECT id FROM tx ORDER BY id")).rows).toEqual([{ id: 1 }, { id: 2 }])
  })

  it("runs concurrent requests on one session one at a time, in order", async () => {
    const one = connect({ url: bridge.url })
    await one.execute("SET @n = 0")
    const results = await Promise.all(
      Array.from({ length: 8 }, () => one.execute("SELECT (@n := @n + 1) AS n").then((r) => r.rows[0])),
    )
    const seen = results.map((r) => Number((r as { n: string }).n)).sort((a, b) => a - b)
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
  })

  it("holds at most maxSessions connections, and never takes one from an open transaction", async () => {
    const few = await startPlanetScaleBridge({ mariadb, database, maxSessions: 2 })
    try {
      await conn.execute("CREATE TABLE IF NOT EXISTS crowded (id INT PRIMARY KEY)")
      const tx = connect({ url: few.url })
      await tx.execute("BEGIN")
      await tx.execute("INSERT INTO crowded VALUES (1)")
      const client = new Client({ url: few.url })
      for (let i = 0; i < 5; i++) {
        expect((await client.execute("SELECT COUNT(*) AS n FROM crowded")).rows).toEqual([{ n: "0" }])
        expect(few.openSessions()).toBeLessThanOrEqual(2)
      }
      await tx.execute("COMMIT")
      expect((await client.execute("SELECT COUNT(*) AS n FROM crowded")).rows).toEqual([{ n: "1" }])
    } finally {
      await few.stop()
    }
  })

  it("closes idle sessions, and a transaction left idle ends with ABORTED", async () => {
    const idle = await startPlanetScaleBridge({ mariadb, database, sessionIdleMs: 150 })
    try {
      const c = connect({ url: idle.url })
      await c.execute("CREATE TABLE IF NOT EXISTS idle_tx (id INT PRIMARY KEY)")
      await c.execute("BEGIN")
      await c.execute("INSERT INTO idle_tx VALUES (1)")
      await waitFor("the idle session to lose its connection", () => idle.openSessions() === 0, 10_000, 20)
      const err = await rejection(c.execute("COMMIT"))
      expect(err.status).toBe(400)
      expect(err.body.code).toBe("ABORTED")
      expect((await c.execute("SELECT COUNT(*) AS n FROM idle_tx")).rows).toEqual([{ n: "0" }])
    } finally {
      await idle.stop()
    }
  })
})

describe("PlanetScale bridge: errors and limits", () => {
  it("returns SQL errors as a DatabaseError with Vitess' text and PlanetScale's code", async () => {
    const missing = await rejection(conn.execute("SELECT * FROM nope"))
    expect(missing.status).toBe(400)
    expect(missing.body).toEqual({
      code: "NOT_FOUND",
      message: `Table '${database}.nope' doesn't exist (errno 1146) (sqlstate 42S02)`,
    })
    await conn.execute("CREATE TABLE uniq (id INT PRIMARY KEY)")
    await conn.execute("INSERT INTO uniq VALUES (1)")
    const duplicate = await rejection(conn.execute("INSERT INTO uniq VALUES (1)"))
    expect(duplicate.body.code).toBe("ALREADY_EXISTS")
    expect(duplicate.message).toContain("(errno 1062) (sqlstate 23000)")
    const syntax = await rejection(conn.execute("SELEC 1"))
    expect(syntax.body.code).toBe("INVALID_ARGUMENT")
  })

  it("answers bad credentials with 401", async () => {
    const url = new URL(bridge.url)
    url.password = "wrong"
    const err = await rejection(connect({ url: url.toString() }).execute("SELECT 1"))
    expect(err.status).toBe(401)
    expect(err.body.code).toBe("UNAUTHENTICATED")
  })

  it("sends an injected fault instead of the next answer, then works again", async () => {
    bridge.failNext({
      status: 200,
      body: { error: { code: "RESOURCE_EXHAUSTED", message: "transaction pool connection limit exceeded" } },
    })
    bridge.failNext({ status: 401, body: { error: { code: "UNAUTHENTICATED", message: "invalid auth credentials" } } })
    const quota = await rejection(conn.execute("SELECT 1"))
    expect(quota.body.code).toBe("RESOURCE_EXHAUSTED")
    const auth = await rejection(conn.execute("SELECT 1"))
    expect(auth.status).toBe(401)
    expect((await conn.execute("SELECT 1 AS one")).rows).toEqual([{ one: 1 }])
  })

  it("refuses a query above maxRequestBytes and a result above maxRows or maxResultBytes, as PlanetScale does", async () => {
    const limited = await startPlanetScaleBridge({
      mariadb,
      database,
      maxRequestBytes: 1001,
      maxRows: 3,
      maxResultBytes: 100,
    })
    try {
      const c = connect({ url: limited.url })
      // A Uint8Array goes as x'<hex>': two bytes of query per byte of blob.
      const statement = "SELECT LENGTH(?) AS n"
      const overhead = "SELECT LENGTH(x'') AS n".length
      const largest = (1001 - overhead) / 2 // 489: the query is exactly 1001 bytes
      const fits = await c.execute(statement, [new Uint8Array(largest)])
      expect(Number((fits.rows[0] as { n: unknown }).n)).toBe(largest)
      const tooLarge = await rejection(c.execute(statement, [new Uint8Array(largest + 1)]))
      expect(tooLarge.body.code).toBe("RESOURCE_EXHAUSTED")
      expect(tooLarge.message).toBe("grpc: trying to send message larger than max (1003 vs. 1001)")
      expect((await c.execute("SELECT seq FROM seq_1_to_3")).rows).toHaveLength(3)
      const tooMany = await rejection(c.execute("SELECT seq FROM seq_1_to_4"))
      expect(tooMany.body).toEqual({ code: "ABORTED", message: "Row count exceeded 3" })
      expect((await c.execute("SELECT REPEAT('x', 100) AS v")).rows).toEqual([{ v: "x".repeat(100) }])
      const tooBig = await rejection(c.execute("SELECT REPEAT('x', 101) AS v"))
      expect(tooBig.body).toEqual({
        code: "RESOURCE_EXHAUSTED",
        message: "grpc: received message larger than max (101 vs. 100)",
      })
    } finally {
      await limited.stop()
    }
  })

  it("adds latencyMs to every request", async () => {
    const slow = await startPlanetScaleBridge({ mariadb, database, latencyMs: 40 })
    try {
      const c = connect({ url: slow.url })
      const started = performance.now()
      for (let i = 0; i < 3; i++) await c.execute("SELECT 1")
      // A lower bound only: the latency is a sleep the bridge adds, so it cannot come out shorter.
      expect(performance.now() - started).toBeGreaterThanOrEqual(3 * 40)
      expect(slow.requestCount()).toBe(3)
    } finally {
      await slow.stop()
    }
  })
})

describe("PlanetScale bridge: the database goes away", () => {
  it("answers UNAVAILABLE while MariaDB is down, keeps serving, and works again after a restart", async () => {
    const own = await startMariaDb()
    const db = await own.createDatabase()
    const b = await startPlanetScaleBridge({ mariadb: own, database: db })
    try {
      const c = connect({ url: b.url })
      await c.execute("CREATE TABLE kept (id INT PRIMARY KEY)")
      await c.execute("INSERT INTO kept VALUES (1)")
      await own.kill()
      const down = await rejection(c.execute("SELECT id FROM kept"))
      expect(down.status).toBe(400)
      expect(down.body.code).toBe("UNAVAILABLE")
      await own.restart()
      expect((await c.execute("SELECT id FROM kept")).rows).toEqual([{ id: 1 }])
    } finally {
      await b.stop()
      await own.destroy()
    }
  })

  it("ends a transaction whose connection was lost with ABORTED instead of going on without its first statements", async () => {
    const own = await startMariaDb()
    const db = await own.createDatabase()
    const b = await startPlanetScaleBridge({ mariadb: own, database: db })
    try {
      const c = connect({ url: b.url })
      await c.execute("CREATE TABLE halves (id INT PRIMARY KEY)")
      await c.execute("BEGIN")
      await c.execute("INSERT INTO halves VALUES (1)")
      await own.kill()
      await own.restart()
      const lost = await rejection(c.execute("INSERT INTO halves VALUES (2)"))
      expect(lost.body.code).toBe("ABORTED")
      await c.execute("COMMIT")
      expect((await c.execute("SELECT id FROM halves")).rows).toEqual([])
    } finally {
      await b.stop()
      await own.destroy()
    }
  })
})
