/**
 * Found by the security audit: when storing a daemon's lines failed, the sync socket sent the daemon
 * the error's own text ("server error: store query failed during append: <the driver's message>";
 * "store unavailable, retry later: …"), on the assumption that a signed-in daemon's owner runs the
 * server. On a team server every member's daemon is signed in: SQL, key values, host names and paths
 * reached it. Now the daemon is told what to do (retry, or read the server's log), never the text; the
 * log has it.
 */
import { Database } from "bun:sqlite"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fromEngine, type Interface as StoreApi, StoreQueryError } from "@overlord/store"
import { SqliteEngine } from "@overlord/store/sqlite"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { connectSync, frame, line } from "../support/sync-connection-rig.ts"

/** What a driver's message can hold: a statement, a row's values, a path on the server. */
const INTERNAL =
  "SQLITE_CONSTRAINT: UNIQUE failed: INSERT INTO entries (user_id, seq) VALUES (7, 42) at /srv/overlord/data/overlord.db"

let dir = ""
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = ""
})

describe("sync: a failed append tells the daemon nothing of the server", () => {
  it("a query failure: 'server error', close 1011, no driver text", async () => {
    const engine = new SqliteEngine({ path: ":memory:" })
    const userId = engine.ensureUser("member")
    const token = engine.issueToken({ userId, kind: "machine", machineUid: "m-1" })
    const base = fromEngine(engine)
    const failing: StoreApi = {
      ...base,
      append: () => Effect.fail(new StoreQueryError({ operation: "append", cause: new Error(INTERNAL) })),
    }
    const daemon = await connectSync(failing, token)
    daemon.conn.onMessage(frame(1, 0, line("u1")))
    await daemon.until(() => daemon.closed() !== null)
    expect(daemon.closed()).toBe(1011)
    const errors = daemon.sent.filter((m) => m.type === "error")
    expect(errors.map((m) => (m.type === "error" ? m.message : ""))).toEqual([
      "server error; the server's log has the details",
    ])
    expect(JSON.stringify(daemon.sent)).not.toMatch(/SQLITE|INSERT|\/srv\/|store query failed/)
    engine.close()
  })

  it("a store that cannot take it now: 'retry later', close 1013, no driver text", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-sync-detail-"))
    const path = join(dir, "overlord.db")
    const engine = new SqliteEngine({ path, checkpoints: "inline", busyTimeoutMs: 50 })
    const userId = engine.ensureUser("member")
    const token = engine.issueToken({ userId, kind: "machine", machineUid: "m-1" })
    const daemon = await connectSync(fromEngine(engine), token, { polls: 2000 })
    const other = new Database(path)
    other.run("BEGIN IMMEDIATE")
    try {
      daemon.conn.onMessage(frame(1, 0, line("u1")))
      await daemon.until(() => daemon.closed() !== null)
    } finally {
      other.run("ROLLBACK")
      other.close()
    }
    expect(daemon.closed()).toBe(1013)
    const error = daemon.sent.find((m) => m.type === "error")
    expect(error?.type === "error" && error.message).toBe(
      "store unavailable, retry later; the server's log has the details",
    )
    expect(JSON.stringify(daemon.sent)).not.toMatch(/locked|SQLITE|during append/)
    engine.close()
  })
})
