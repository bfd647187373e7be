/** WAL checkpoints on their own thread: they happen, they restart a long WAL, and nothing is lost. */
import { Database } from "bun:sqlite"
import { mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Sync } from "@overlord/protocol"
import { SqliteEngine } from "@overlord/store/sqlite"
import { waitFor } from "@overlord/testkit/wait"
import { afterEach, describe, expect, it } from "vitest"
import type { CheckpointReport } from "../src/sqlite-checkpoint-worker.ts"
import { Checkpointer } from "../src/sqlite-checkpointer.ts"

/** A WAL database whose only checkpoints are the checkpointer's, with a table of blobs. */
function walDatabase(dir: string) {
  const path = join(dir, "db.sqlite")
  const db = new Database(path, { create: true })
  db.run("PRAGMA journal_mode = WAL")
  db.run("PRAGMA wal_autocheckpoint = 0")
  db.run("CREATE TABLE t (b BLOB)")
  return { path, db }
}

describe("background WAL checkpoints", () => {
  let dir = ""
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it("copies the WAL into the database off the writing thread", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-ckpt-"))
    const { path, db } = walDatabase(dir)
    const reports: CheckpointReport[] = []
    const checkpointer = new Checkpointer({
      path,
      everyBytes: 1 << 20,
      // Longer than the test: this one is about the rounds, the next about the quiet truncation.
      quietMs: 60_000,
      onReport: (r) => reports.push(r),
    })
    const blob = new Uint8Array(64 * 1024).fill(7)
    for (let i = 0; i < 64; i++) {
      db.query("INSERT INTO t VALUES (?)").run(blob)
      checkpointer.wrote(blob.length)
    }
    await waitFor(
      "a checkpoint of the whole WAL (4 MB written, a round per MB)",
      () =>
        reports.length >= 4 &&
        reports.find((r) => r.type === "checkpointed" && r.log > 1000 && r.checkpointed === r.log),
      10_000,
      20,
    )
    expect(reports.filter((r) => r.type === "failed")).toEqual([])
    // Everything copied: the next commit writes the WAL from its start, so the file does not grow.
    const walBefore = statSync(`${path}-wal`).size
    db.query("INSERT INTO t VALUES (?)").run(blob)
    expect(statSync(`${path}-wal`).size).toBeLessThanOrEqual(walBefore)
    checkpointer.close()
    expect((db.query("SELECT count(*) AS n FROM t").get() as { n: number }).n).toBe(65)
    db.close()
  })

  it("truncates the WAL file once writes pause, and not while they go on", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-ckpt-"))
    const { path, db } = walDatabase(dir)
    const reports: CheckpointReport[] = []
    const checkpointer = new Checkpointer({ path, everyBytes: 1 << 20, quietMs: 300, onReport: (r) => reports.push(r) })
    const blob = new Uint8Array(64 * 1024).fill(7)
    // Writes 100 ms apart: never a pause of 300 ms, so the file is never cut back meanwhile.
    for (let i = 0; i < 8; i++) {
      db.query("INSERT INTO t VALUES (?)").run(blob)
      checkpointer.wrote(blob.length)
      await Bun.sleep(100)
    }
    expect(reports.filter((r) => r.type === "checkpointed" && r.mode === "TRUNCATE")).toEqual([])
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(8 * blob.length)
    // Empty rounds (the search index polling with nothing to index) do not count as writes.
    const polling = setInterval(() => checkpointer.wrote(0), 50)
    await waitFor(
      "the WAL truncated after the pause",
      () => reports.find((r) => r.type === "checkpointed" && r.mode === "TRUNCATE" && !r.busy),
      10_000,
      20,
    )
    clearInterval(polling)
    expect(statSync(`${path}-wal`).size).toBe(0)
    expect((db.query("SELECT count(*) AS n FROM t").get() as { n: number }).n).toBe(8)
    checkpointer.close()
    db.close()
  })

  it("keeps an engine's WAL bounded through a long ingest, and loses nothing", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-ckpt-"))
    const path = join(dir, "overlord.db")
    const engine = new SqliteEngine({ path })
    const userId = engine.ensureUser("alice")
    const actor = { userId, machineId: engine.openMachine({ userId }, "m", "m").machineId }
    const line = `${JSON.stringify({ type: "user", uuid: "u", message: { content: "x".repeat(4000) } })}\n`
    const chunk = new TextEncoder().encode(line.repeat(256))
    let offset = 0
    let walMax = 0
    for (let i = 0; i < 400; i++) {
      const header: Sync.AppendHeader = {
        type: "append",
        seq: i,
        fileKey: "-p/0b7f8c52-3f4e-4c1e-9a55-2d1f6b0c9e11.jsonl",
        generation: 0,
        identity: "1:1",
        fromOffset: offset,
        toOffset: offset + chunk.length,
      }
      expect(engine.append(actor, [{ header, payload: chunk }])[0]!._tag).toBe("Ack")
      offset += chunk.length
      walMax = Math.max(walMax, statSync(`${path}-wal`).size)
      // The checkpointer's thread needs this one's event loop only to deliver its reports.
      if (i % 50 === 0) await Bun.sleep(1)
    }
    // 400 MB went through a WAL that started over at 256 MB.
    expect(offset).toBeGreaterThan(400e6)
    expect(walMax).toBeLessThan(380e6)
    engine.close()
    const check = new Database(path, { readonly: true })
    expect((check.query("SELECT count(*) AS n FROM entries").get() as { n: number }).n).toBe(400 * 256)
    check.close()
  }, 120_000)
})
