import mysql from "mysql2/promise"
import { describe, expect, it } from "vitest"
import { testMariaDb } from "../src/mariadb.ts"

describe("testMariaDb", () => {
  it("hands out the suite's server, where a file makes its own database", async () => {
    const db = testMariaDb()
    const name = await db.createDatabase()
    const conn = await mysql.createConnection(db.url(name))
    try {
      const [rows] = await conn.query("SELECT DATABASE() AS db")
      expect(rows).toEqual([{ db: name }])
    } finally {
      await conn.end()
    }
  })
})
