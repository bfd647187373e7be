import { createServer } from "node:net"
import mysql from "mysql2/promise"
import { describe, expect, it } from "vitest"
import { startMariaDb, testMariaDb } from "../src/mariadb.ts"

describe("testMariaDb", () => {
  it("hands out the suite's server, where a file makes its own database", async () => {
    const db = testMariaDb()
    const name = await db.createDatabase()
    const conn = await mysql.createConnection(db.url(name))
    try {
      const [rows] = await conn.query("SELECT DATABASE() AS db, @@character_set_server AS cs")
      expect(rows).toEqual([{ db: name, cs: "utf8mb4" }])
    } finally {
      await conn.end()
    }
  })
})

describe("startMariaDb", () => {
  it("keeps committed rows across a SIGKILL and a restart on the same data dir and port", async () => {
    const db = await startMariaDb()
    try {
      const name = await db.createDatabase("crash")
      const before = await mysql.createConnection(db.url(name))
      await before.query("CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB")
      await before.query("INSERT INTO t VALUES (1), (2)")
      await db.kill()
      await expect(before.query("SELECT 1")).rejects.toThrow()
      before.destroy()
      const port = db.port
      await db.restart()
      expect(db.port).toBe(port)
      const after = await mysql.createConnection(db.url(name))
      try {
        const [rows] = await after.query("SELECT id FROM t ORDER BY id")
        expect(rows).toEqual([{ id: 1 }, { id: 2 }])
      } finally {
        await after.end()
      }
    } finally {
      await db.destroy()
    }
  })

  it("keeps its temporary tables in its own directory, not the machine's shared /tmp", async () => {
    // In the shared /tmp, a benchmark's on-disk temp table was deleted under its server mid-query
    // ("Error on delete of '/tmp/#sql-temptable-…MAI'").
    const db = await startMariaDb()
    try {
      const conn = await mysql.createConnection(db.url("mysql"))
      try {
        const [rows] = (await conn.query("SELECT @@tmpdir AS tmpdir")) as unknown as [{ tmpdir: string }[]]
        expect(rows[0]!.tmpdir.startsWith(db.dir)).toBe(true)
      } finally {
        await conn.end()
      }
    } finally {
      await db.destroy()
    }
  })

  it("fails with the server's log when mariadbd cannot start", async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve))
    const address = taken.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    try {
      const error = await startMariaDb({ port }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(Error)
      // The message names what failed and carries the tail of mariadbd's own log.
      expect((error as Error).message).toContain(`before accepting connections on port ${port}`)
      expect((error as Error).message).toContain("Do you already have another server running on port")
    } finally {
      taken.close()
    }
  })
})
