/**
 * Store failures arrive as typed errors that keep the driver's error as their cause, chosen by its code:
 * a lock held past the busy timeout is a conflict, a full database is unavailable (both retryable), a
 * value the engine cannot bind is a query error (not retryable). Nothing of a failed group is stored.
 */
import { Database } from "bun:sqlite"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Append, fromEngine, isRetryable, type MachineActor, type StoreError } from "@overlord/store"
import { SqliteEngine } from "@overlord/store/sqlite"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"

const enc = new TextEncoder()
const SID = "11111111-2222-3333-4444-555555555555"
const KEY = `-home-dev-proj/${SID}.jsonl`
const appendOf = (text: string, extra: Partial<Append> = {}): Append => {
  const payload = enc.encode(text)
  return {
    header: {
      type: "append",
      seq: 1,
      fileKey: KEY,
      generation: 0,
      identity: "1:1",
      fromOffset: 0,
      toOffset: payload.length,
    },
    payload,
    ...extra,
  }
}
const line = (pad: number) =>
  `${JSON.stringify({ type: "user", uuid: "u1", sessionId: SID, message: { role: "user", content: "x".repeat(pad) } })}\n`

let dir = ""
afterEach(() => rmSync(dir, { recursive: true, force: true }))

async function open(options: { busyTimeoutMs?: number } = {}) {
  dir = mkdtempSync(join(tmpdir(), "overlord-store-errors-"))
  const path = join(dir, "overlord.db")
  const engine = new SqliteEngine({ path, checkpoints: "inline", ...options })
  const store = fromEngine(engine)
  const userId = engine.ensureUser("alice")
  const actor: MachineActor = { userId, machineId: engine.openMachine({ userId }, "m-1", "laptop").machineId }
  const failure = async (appends: Append[]) =>
    Effect.runPromise(Effect.flip(store.append(actor, appends))) as Promise<StoreError>
  return { path, engine, actor, failure }
}

describe("store errors", () => {
  it("a write lock held past the busy timeout is a retryable conflict, caused by SQLITE_BUSY", async () => {
    const s = await open({ busyTimeoutMs: 20 })
    const other = new Database(s.path)
    other.run("BEGIN IMMEDIATE")
    const error = await s.failure([appendOf(line(10))])
    other.run("ROLLBACK")
    other.close()
    expect(error._tag).toBe("StoreConflictError")
    expect(error.operation).toBe("append")
    expect((error.cause as { code?: string }).code).toBe("SQLITE_BUSY")
    expect(isRetryable(error)).toBe(true)
    expect(s.engine.getSession(s.actor, SID)).toBeNull()
    s.engine.close()
  })

  it("a database that cannot grow is unavailable (retryable), and the group is not stored", async () => {
    const s = await open()
    const db = (s.engine as unknown as { db: Database }).db
    const pages = (db.query("PRAGMA page_count").get() as { page_count: number }).page_count
    db.run(`PRAGMA max_page_count = ${pages}`)
    // Enough rows to need new pages: one line per row.
    const error = await s.failure([appendOf(Array.from({ length: 2000 }, () => line(10)).join(""))])
    expect(error._tag).toBe("StoreUnavailableError")
    expect((error.cause as { code?: string }).code).toBe("SQLITE_FULL")
    expect(isRetryable(error)).toBe(true)
    db.run("PRAGMA max_page_count = 1073741823")
    expect(s.engine.getSession(s.actor, SID)).toBeNull()
    s.engine.close()
  })

  it("a value the engine cannot bind is a query error that keeps its cause, not retryable", async () => {
    const s = await open()
    const error = await s.failure([appendOf(line(10), { facts: [{ kind: {} as unknown as string }] })])
    expect(error._tag).toBe("StoreQueryError")
    expect(error.cause).toBeInstanceOf(Error)
    expect(isRetryable(error)).toBe(false)
    expect(s.engine.getSession(s.actor, SID)).toBeNull()
    s.engine.close()
  })
})
