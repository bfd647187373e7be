/**
 * The sync connection without a port: a socket stand-in collects what the server sends, a real
 * SQLite store (in memory) stores, and a counting wrapper shows how appends were grouped
 * (`support/sync-connection-rig.ts`).
 */
import { describe, expect, it } from "vitest"
import { connectSyncInMemory, frame, line, SID } from "./support/sync-connection-rig.ts"

const enc = new TextEncoder()

describe("sync connection", () => {
  it("stores frames that arrive together in one group and answers each, in order", async () => {
    const c = await connectSyncInMemory()
    const lines = ["u1", "u2", "u3", "u4"].map(line)
    let offset = 0
    for (const [i, text] of lines.entries()) {
      c.conn.onMessage(frame(i + 1, offset, text))
      offset += enc.encode(text).length
    }
    // The same frame again: it no longer starts at the stored offset.
    c.conn.onMessage(frame(5, 0, lines[0]!))
    await c.until(() => c.sent.filter((m) => m.type === "ack" || m.type === "rejected").length === 5)
    expect(c.groups).toEqual([[1, 2, 3, 4, 5]])
    const answers = c.sent.filter((m) => m.type === "ack" || m.type === "rejected")
    expect(answers.map((m) => [m.type, m.seq])).toEqual([
      ["ack", 1],
      ["ack", 2],
      ["ack", 3],
      ["ack", 4],
      ["rejected", 5],
    ])
    const detail = c.engine.getSession({ userId: c.userId }, SID)
    expect(detail?.session.entryCount).toBe(4)
  })

  it.each([
    [undefined, [4, 4]],
    [8, [8]],
  ])("holds the engine's chunks per group (%s), four by default", async (groupChunks, sizes) => {
    const c = await connectSyncInMemory(groupChunks ? { groupChunks } : {})
    // Eight whole 1 MiB chunks of one file, as a backfill of a large file sends them.
    const chunk = (i: number) => {
      const head = line(`big-${i}`)
      return `${head.slice(0, -4)}${"x".repeat(1024 * 1024 - head.length)}"}}\n`
    }
    let offset = 0
    for (let i = 0; i < 8; i++) {
      const text = chunk(i)
      expect(enc.encode(text).length).toBe(1024 * 1024)
      c.conn.onMessage(frame(i + 1, offset, text))
      offset += enc.encode(text).length
    }
    await c.until(() => c.sent.filter((m) => m.type === "ack").length === 8)
    expect(c.groups.map((g) => g.length)).toEqual(sizes)
  })

  it("keeps text messages in their place between groups, and answers an invalid frame in turn", async () => {
    const c = await connectSyncInMemory()
    const a = line("u1")
    const b = line("u2")
    c.conn.onMessage(frame(1, 0, a))
    // Ordered against appends (a status is not: fault/status-mid-group.test.ts).
    c.conn.onMessage(JSON.stringify({ type: "gone", fileKeys: ["-home-dev-proj/gone.jsonl"] }))
    c.conn.onMessage(frame(2, enc.encode(a).length, b))
    c.conn.onMessage(new Uint8Array([0, 0]))
    c.conn.onMessage(frame(3, enc.encode(a + b).length, line("u3")))
    await c.until(() => c.sent.filter((m) => m.type === "ack").length === 3)
    // The text message splits the frames into two groups; the invalid frame splits the second.
    expect(c.groups).toEqual([[1], [2], [3]])
    expect(c.sent.map((m) => (m.type === "ack" ? `ack ${m.seq}` : m.type))).toEqual([
      "welcome",
      "ack 1",
      "ack 2",
      "error",
      "ack 3",
    ])
    expect(c.closed()).toBeNull()
  })
})
