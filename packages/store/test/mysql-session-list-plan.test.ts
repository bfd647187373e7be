/**
 * The session list's plan on MariaDB: a page is read from `sessions_by_activity` in order, never by
 * sorting every session of the user (with the machines join first, 10,000 sessions took 37 ms a page;
 * with sessions first, 0.9 ms: `scripts/bench/engines.ts`).
 */
import { connectMysql2, MysqlEngine } from "@overlord/store/mysql"
import { testMariaDb } from "@overlord/testkit/mariadb"
import { expect, it } from "vitest"

it("lists a page of sessions by the activity index, without a filesort", async () => {
  const db = testMariaDb()
  const url = db.url(await db.createDatabase())
  const engine = await MysqlEngine.open(connectMysql2({ url }))
  const client = connectMysql2({ url, connectionLimit: 1 })
  try {
    const userId = await engine.ensureUser("alice")
    await engine.openMachine({ userId }, "m-1", "laptop")
    // Enough rows that the optimizer's choice matters (one machine, many sessions).
    await client.query(
      `INSERT INTO sessions (user_id, machine_id, session_uid, project_dir, models, last_at)
       SELECT ?, (SELECT id FROM machines WHERE user_id = ?), concat('s-', seq), '-p', '[]',
              concat('2026-01-01T00:00:', lpad(seq % 60, 2, '0'), '.000Z')
       FROM seq_1_to_3000`,
      [userId, userId],
    )
    await client.query("ANALYZE TABLE sessions, machines")
    const { rows } = await client.query<{ table: string; key: string | null; Extra: string | null }>(
      `EXPLAIN ${MysqlEngine.SESSION_SELECT} WHERE s.user_id = ? ORDER BY s.last_at DESC, s.id DESC LIMIT 101`,
      [userId],
    )
    const first = rows[0]!
    expect(first.table).toBe("s")
    expect(first.key).toBe("sessions_by_activity")
    expect(first.Extra ?? "").not.toMatch(/filesort/)
    expect((await engine.listSessions({ userId }, { limit: 100 })).sessions).toHaveLength(100)
  } finally {
    await client.close()
    await engine.close()
  }
})
