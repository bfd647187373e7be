/**
 * The long-line-memory test failed under CPU contention (the daemon's peak 289–395 MB against ~180
 * unloaded): two paths of the embedded server still read a long line whole, which issue #14 had
 * removed from the others.
 * - A cursor's tail (`loadTails`, for a rejected append, a reset and a welcome) read the file's last
 *   lines whole for their last 32 bytes. When appends did not follow the stored offset (a lagging
 *   daemon sent part of a 100 MB line twice: 33–58 rejections in such a run), every group with one
 *   read the line stored so far: 14, 31, 48 … 104 MB each time.
 * - The search indexer, meeting a long line still arriving (open), could not finish its scan of a JSON
 *   value cut short and read the line whole to parse it, which finds it malformed: no search text.
 * Measured as the bytes this process reads (`rchar` in /proc/self/io), deterministic where the peak RSS
 * is not: each must cost about the tail, or one scan of the line, not the line again.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { MachineActor } from "@overlord/store"
import { SqliteEngine } from "@overlord/store/sqlite"
import { afterEach, describe, expect, it } from "vitest"

const MB = 1024 * 1024
const SID = "11111111-2222-3333-4444-555555555555"
const KEY = `-home-dev-proj/${SID}.jsonl`

const readBytes = () => Number(/rchar:\s+(\d+)/.exec(readFileSync("/proc/self/io", "utf8"))![1])

let dir = ""
afterEach(() => rmSync(dir, { recursive: true, force: true }))

/** A store holding the first 20 MB of a pasted screenshot's line, not yet ended (its newline to come). */
function storeOpenLine(): { engine: SqliteEngine; actor: MachineActor; stored: Uint8Array } {
  dir = mkdtempSync(join(tmpdir(), "overlord-long-line-reads-"))
  const engine = new SqliteEngine({ path: join(dir, "overlord.db"), lineLogCompaction: false })
  const userId = engine.ensureUser("alice")
  const actor: MachineActor = { userId, machineId: engine.openMachine({ userId }, "m-1", "laptop").machineId }
  const data = Buffer.alloc(30 * MB, 7).toString("base64")
  const line = JSON.stringify({
    type: "user",
    uuid: "u-1",
    parentUuid: null,
    sessionId: SID,
    timestamp: "2026-11-01T10:00:00.000Z",
    message: { role: "user", content: [{ type: "image", source: { type: "base64", media_type: "image/png", data } }] },
  })
  const stored = new TextEncoder().encode(line).subarray(0, 20 * MB)
  let seq = 0
  for (let at = 0; at < stored.length; at += MB) {
    const payload = stored.subarray(at, at + MB)
    const header = { type: "append" as const, seq: seq++, fileKey: KEY, generation: 0, identity: "1:1" }
    const [out] = engine.append(actor, [{ header: { ...header, fromOffset: at, toOffset: at + MB }, payload }])
    expect(out!._tag).toBe("Ack")
  }
  return { engine, actor, stored }
}

describe("a long line's reads", () => {
  it("a cursor's tail reads the end of a long last line, not the line", () => {
    const { engine, actor, stored } = storeOpenLine()
    const tail = Buffer.from(stored.subarray(stored.length - 32)).toString("base64")
    const before = readBytes()
    // Five appends that do not follow the stored offset (sent twice by a lagging daemon): each is
    // rejected with the file's cursor, whose tail is the last 32 bytes stored.
    for (let i = 0; i < 5; i++) {
      const header = { type: "append" as const, seq: 100 + i, fileKey: KEY, generation: 0, identity: "1:1" }
      const [out] = engine.append(actor, [
        {
          header: { ...header, fromOffset: i * MB, toOffset: (i + 1) * MB },
          payload: stored.subarray(i * MB, (i + 1) * MB),
        },
      ])
      expect(out!._tag).toBe("Rejected")
      expect(out!._tag === "Rejected" && out!.cursor).toMatchObject({ offset: 20 * MB, tail })
    }
    // And a welcome (the daemon reconnecting) gives the same tail.
    const welcome = engine.openMachine({ userId: actor.userId }, "m-1", "laptop")
    expect(welcome.cursors).toMatchObject([{ fileKey: KEY, offset: 20 * MB, tail }])
    const read = readBytes() - before
    // The database's own pages only (~0.1 MB here); before the fix the line each time: 120 MB.
    expect(read, `${(read / MB).toFixed(1)} MB read for six tails of a 20 MB line`).toBeLessThan(4 * MB)
    engine.close()
  })

  it("the search indexer scans a long line still arriving once, and does not read it whole after", () => {
    const { engine, stored } = storeOpenLine()
    const before = readBytes()
    for (let n = 1; n > 0; ) n = engine.indexForSearch(100)
    const read = readBytes() - before
    // One scan of the line a chunk at a time (20 MB) and the database's pages; before the fix the scan
    // and then the whole line again (40 MB).
    expect(read, `${(read / MB).toFixed(1)} MB read to index a 20 MB open line`).toBeLessThan(1.5 * stored.length)
    engine.close()
  })
})
