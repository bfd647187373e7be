/**
 * Migrations run forward from any earlier version, once: a database written by the first release
 * opens under the current code with its data intact and its derived columns backfilled.
 */
import { Database } from "bun:sqlite"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SchemaTooNewError } from "@overlord/store"
import { SqliteEngine } from "@overlord/store/sqlite"
import { afterEach, describe, expect, it } from "vitest"
import { SQLITE_MIGRATIONS } from "../src/sqlite/schema.ts"

describe("SQLite migrations", () => {
  let dir: string
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it("refuses a database a newer Overlord migrated, rather than misread what it wrote", () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-migrate-"))
    const path = join(dir, "overlord.db")
    new SqliteEngine({ path }).close()
    const db = new Database(path)
    db.run(`PRAGMA user_version = ${SQLITE_MIGRATIONS.length + 1}`)
    db.close()
    expect(() => new SqliteEngine({ path })).toThrow(SchemaTooNewError)
    expect(() => new SqliteEngine({ path })).toThrow(/migrated by a newer Overlord .*upgrade Overlord/)
  })

  it("upgrades a version-1 database and backfills session usage totals", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-migrate-"))
    const path = join(dir, "overlord.db")
    const v1 = new Database(path, { strict: true })
    v1.run(SQLITE_MIGRATIONS[0] as string)
    v1.run("PRAGMA user_version = 1")
    v1.run("INSERT INTO users (id, name, created_at) VALUES (1, 'local', '2026-11-01')")
    v1.run(
      "INSERT INTO machines (id, user_id, machine_uid, name, created_at) VALUES (1, 1, 'm', 'laptop', '2026-11-01')",
    )
    v1.run(
      "INSERT INTO sessions (id, user_id, machine_id, session_uid, project_dir, last_at) VALUES (1, 1, 1, 's-1', '-p', '2026-11-01T10:00:00Z')",
    )
    for (const [key, input, output] of [
      ["a", 100, 10],
      ["b", 50, 5],
    ] as const) {
      v1.query(
        `INSERT INTO usage_messages (user_id, dedup_key, session_id, project_dir, entry_seq, model, day, input, output,
         cache_write, cache_read, total, is_sidechain, cost_usd) VALUES (1, ?, 1, '-p', 1, 'm', '2026-11-01', ?, ?, 0, 0, ?, 0, 0.5)`,
      ).run(key, input, output, input + output)
    }
    v1.close()

    const engine = new SqliteEngine({ path })
    const detail = await engine.getSession({ userId: 1 }, "s-1")
    expect(detail?.session.usage).toEqual({ input: 150, output: 15, cacheWrite: 0, cacheRead: 0, costUsd: 1 })
    engine.close()

    // Opening again applies nothing twice.
    const again = new SqliteEngine({ path })
    const version = (again as unknown as { db: Database }).db.query("PRAGMA user_version").get() as {
      user_version: number
    }
    expect(version.user_version).toBe(SQLITE_MIGRATIONS.length)
    // Since migration 4 the engine keeps the totals itself: no trigger is left to count twice.
    const db = (again as unknown as { db: Database }).db
    expect(db.query("SELECT name FROM sqlite_master WHERE type = 'trigger'").all()).toEqual([])
    expect((await again.getSession({ userId: 1 }, "s-1"))?.session.usage.input).toBe(150)
    again.close()
  })
})

describe("SQLite migration 6: seqs from a counter row", () => {
  let dir: string
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it("starts the counter after every seq AUTOINCREMENT handed out, so old seqs stay valid and none repeats", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-migrate-seq-"))
    const path = join(dir, "overlord.db")
    const enc = new TextEncoder()
    const SID = "11111111-2222-3333-4444-555555555555"
    const KEY = `-home-dev-proj/${SID}.jsonl`
    const line = (n: number) =>
      `${JSON.stringify({ type: "user", uuid: `u${n}`, sessionId: SID, message: { role: "user", content: `p${n}` } })}\n`
    const appendAt = (
      engine: SqliteEngine,
      actor: { userId: number; machineId: number },
      from: number,
      text: string,
    ) => {
      const payload = enc.encode(text)
      const header = {
        type: "append" as const,
        seq: 1,
        fileKey: KEY,
        generation: 0,
        identity: "1:1",
        fromOffset: from,
        toOffset: from + payload.length,
      }
      const [out] = engine.append(actor, [{ header, payload }])
      if (out?._tag !== "Ack") throw new Error("rejected")
      return out
    }
    const first = new SqliteEngine({ path })
    const userId = first.ensureUser("alice")
    const actor = { userId, machineId: first.openMachine({ userId }, "m-1", "laptop").machineId }
    const before = appendAt(first, actor, 0, line(1) + line(2))
    expect(before.stored.map((r) => r.seq)).toEqual([1, 2])
    first.close()

    // The database as version 5 left it, after AUTOINCREMENT had handed out seqs up to 40 (rows since
    // deleted or rolled back): migration 6 must not make the counter give 3..40 again. (Later
    // migrations are left as they were: only 6 is run again, on the raw database.)
    const v5 = new Database(path)
    v5.run("DROP TABLE seq_counter")
    v5.run("UPDATE sqlite_sequence SET seq = 40 WHERE name = 'entries'")
    v5.run(SQLITE_MIGRATIONS[5] as string)
    v5.close()

    const second = new SqliteEngine({ path })
    const offset = enc.encode(line(1) + line(2)).length
    const after = appendAt(second, actor, offset, line(3))
    expect(after.stored.map((r) => r.seq)).toEqual([41])
    const page = second.listEntries(actor, SID, {})!
    expect(page.entries.map((e) => e.seq)).toEqual([1, 2, 41])
    second.close()
  })
})
