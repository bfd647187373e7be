/**
 * When the store cannot take an append now (here: another connection holds SQLite's write lock past the
 * busy timeout), the daemon is told to retry later (close 1013), nothing is acknowledged, and the same
 * bytes sent again once the lock is gone are stored once.
 */
import { Database } from "bun:sqlite"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fromEngine } from "@overlord/store"
import { SqliteEngine } from "@overlord/store/sqlite"
import { afterEach, describe, expect, it } from "vitest"
import { frame as appendFrame, connectSync, SID } from "./support/sync-connection-rig.ts"

const text = `${JSON.stringify({ type: "user", uuid: "u1", sessionId: SID, timestamp: "2026-11-01T10:00:00.000Z", message: { role: "user", content: "hi" } })}\n`
const frame = appendFrame(1, 0, text)

let dir = ""
afterEach(() => rmSync(dir, { recursive: true, force: true }))

describe("sync connection, store unavailable", () => {
  it("tells the daemon to retry later, acknowledges nothing, and stores the bytes once when sent again", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-unavailable-"))
    const path = join(dir, "overlord.db")
    const engine = new SqliteEngine({ path, checkpoints: "inline", busyTimeoutMs: 50 })
    const userId = engine.ensureUser("alice")
    const token = engine.issueToken({ userId, kind: "machine", machineUid: "m-1" })
    const store = fromEngine(engine)

    const first = await connectSync(store, token, { polls: 2000 })
    // Another process holds the write lock (a long migration, a backup): the group cannot commit.
    const other = new Database(path)
    other.run("BEGIN IMMEDIATE")
    first.conn.onMessage(frame)
    await first.until(() => first.closed() !== null)
    expect(first.closed()).toBe(1013)
    expect(first.sent.some((m) => m.type === "ack")).toBe(false)
    const error = first.sent.find((m) => m.type === "error")
    expect(error?.type === "error" && error.message).toMatch(/^store unavailable, retry later/)
    other.run("ROLLBACK")
    other.close()

    // The daemon reconnects after its backoff and sends the same bytes from the offset it was told.
    const second = await connectSync(store, token, { polls: 2000 })
    const welcome = second.sent.find((m) => m.type === "welcome")
    expect(welcome?.type === "welcome" && welcome.cursors).toEqual([])
    second.conn.onMessage(frame)
    await second.until(() => second.sent.some((m) => m.type === "ack"))
    const detail = engine.getSession({ userId }, SID)
    expect(detail?.session.entryCount).toBe(1)
    engine.close()
  })
})
