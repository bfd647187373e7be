/**
 * Issue #14, finding 4: a 50 MB line took the daemon (its embedded server) to 317–396 MB RSS. One cause
 * was the store's open-line path: each 1 MiB piece of a long line read the whole line stored so far
 * back from the line log (the group's own bytes were compared with the parse limit, not the line's), so
 * a 50 MB line read ~1.3 GB and left that much garbage for the heap. Measured here as the bytes this
 * process reads (`rchar` in /proc/self/io): the line's pieces must cost about one read of the line.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { collectBytes, type MachineActor } from "@overlord/store"
import { SqliteEngine } from "@overlord/store/sqlite"
import { afterEach, describe, expect, it } from "vitest"

const MB = 1024 * 1024
const SID = "11111111-2222-3333-4444-555555555555"
const KEY = `-home-dev-proj/${SID}.jsonl`

const readBytes = () => Number(/rchar:\s+(\d+)/.exec(readFileSync("/proc/self/io", "utf8"))![1])

let dir = ""
afterEach(() => rmSync(dir, { recursive: true, force: true }))

describe("a long line arriving in pieces", () => {
  it("is not read back from the log at every piece", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-open-line-"))
    const engine = new SqliteEngine({ path: join(dir, "overlord.db"), lineLogCompaction: false })
    const userId = engine.ensureUser("alice")
    const actor: MachineActor = { userId, machineId: engine.openMachine({ userId }, "m-1", "laptop").machineId }
    const record = (n: number, content: unknown) =>
      JSON.stringify({
        type: "user",
        uuid: `u-${n}`,
        parentUuid: null,
        sessionId: SID,
        timestamp: "2026-11-01T10:00:00.000Z",
        message: { role: "user", content },
      })
    const huge = record(1, [
      { type: "tool_result", tool_use_id: "t1", content: "lorem ipsum dolor sit amet ".repeat(MB) },
    ])
    const file = new TextEncoder().encode(`${record(0, "before")}\n${huge}\n${record(2, "after")}\n`)
    expect(file.length).toBeGreaterThan(27 * MB)

    const before = readBytes()
    let seq = 0
    for (let at = 0; at < file.length; at += MB) {
      const payload = file.subarray(at, Math.min(file.length, at + MB))
      const header = {
        type: "append" as const,
        seq: seq++,
        fileKey: KEY,
        generation: 0,
        identity: "1:1",
        fromOffset: at,
        toOffset: at + payload.length,
      }
      const [out] = engine.append(actor, [{ header, payload }])
      expect(out!._tag).toBe("Ack")
    }
    const read = readBytes() - before
    // Once when the line ends (its facts are parsed then), plus the database's own pages. Before the
    // fix: every piece re-read the line so far, ~14 times the line here (and 25 times for 50 MB).
    expect(read, `${(read / MB).toFixed(1)} MB read for a ${(huge.length / MB).toFixed(1)} MB line`).toBeLessThan(
      2 * huge.length,
    )

    // Compared as buffers: a deep equality over 27 million elements takes minutes.
    expect(Buffer.compare(await collectBytes(engine.exportFile(actor, SID, KEY)!), file)).toBe(0)
    const page = engine.listEntries(actor, SID, {})!
    expect(page.entries.map((e) => [e.kind, e.line.length])).toEqual([
      ["user", record(0, "before").length],
      ["user", huge.length],
      ["user", record(2, "after").length],
    ])
    engine.close()
  })
  it("ends a long line from a streamed scan, also when other lines came between its pieces", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-open-line-"))
    const engine = new SqliteEngine({ path: join(dir, "overlord.db"), lineLogCompaction: false })
    const userId = engine.ensureUser("alice")
    const actor: MachineActor = { userId, machineId: engine.openMachine({ userId }, "m-1", "laptop").machineId }
    const other = "99999999-2222-3333-4444-555555555555"
    const otherKey = `-home-dev-proj/${other}.jsonl`
    const record = (sid: string, n: number, content: unknown, extra = "") =>
      `{"type":"user"${extra},"uuid":"${sid}-${n}","sessionId":"${sid}","timestamp":"2026-11-01T10:00:0${n}.000Z","message":{"role":"user","content":${JSON.stringify(content)}}}`
    const image = [{ type: "image", source: { type: "base64", data: Buffer.alloc(6 * MB, 7).toString("base64") } }]
    // An escaped key: the scan gives up and the line is parsed whole, as analyzeLine would.
    const escaped = record(SID, 2, "x".repeat(3 * MB), ',"\\u0063wd":"/home/dev/esc"')
    const file = new TextEncoder().encode(`${record(SID, 0, "before")}\n${record(SID, 1, image)}\n${escaped}\n`)
    const otherFile = new TextEncoder().encode(`${record(other, 0, "between")}\n`.repeat(40))
    let seq = 0
    let otherAt = 0
    for (let at = 0; at < file.length; at += MB) {
      const payload = file.subarray(at, Math.min(file.length, at + MB))
      const appends = [
        {
          header: {
            type: "append" as const,
            seq: seq++,
            fileKey: KEY,
            generation: 0,
            identity: "1:1",
            fromOffset: at,
            toOffset: at + payload.length,
          },
          payload,
        },
      ]
      // Another file's line after every piece: the long line cannot grow in place, so it is copied to
      // the log's end, a chunk at a time.
      const line = otherFile.subarray(otherAt, otherFile.indexOf(0x0a, otherAt) + 1)
      appends.push({
        header: {
          type: "append" as const,
          seq: seq++,
          fileKey: otherKey,
          generation: 0,
          identity: "2:2",
          fromOffset: otherAt,
          toOffset: otherAt + line.length,
        },
        payload: line,
      })
      otherAt += line.length
      for (const out of engine.append(actor, appends)) expect(out._tag).toBe("Ack")
    }
    expect(Buffer.compare(await collectBytes(engine.exportFile(actor, SID, KEY)!), file)).toBe(0)
    expect(
      Buffer.compare(await collectBytes(engine.exportFile(actor, other, otherKey)!), otherFile.subarray(0, otherAt)),
    ).toBe(0)
    const page = engine.listEntries(actor, SID, {})!
    expect(page.entries.map((e) => [e.kind, e.line.length])).toEqual([
      ["user", record(SID, 0, "before").length],
      ["user", record(SID, 1, image).length],
      ["user", escaped.length],
    ])
    // The facts of both long lines reached the session: its last time is the escaped line's.
    const session = engine.getSession(actor, SID)!
    expect(session.session.lastAt).toBe("2026-11-01T10:00:02.000Z")
    expect(session.session.entryCount).toBe(3)
    expect(session.session.cwd).toBe("/home/dev/esc")
    // Search reads the long lines a chunk at a time, and finds what they say.
    while (engine.indexForSearch(100) > 0) {}
    expect(engine.search(actor, "before", 10).hits.map((h) => h.seq)).toEqual([page.entries[0]!.seq])
    engine.close()
  })
})
