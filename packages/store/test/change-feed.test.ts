/**
 * The change feed (`ChangeFeed` in store.ts) on SQLite and MariaDB: what other servers' live hubs read.
 * Its position is the last seq handed out; a read returns each (user, session) with lines in the range
 * once, with its highest seq, and never reads past the position.
 */
import type { Append, Engine } from "@overlord/store"
import { connectMysql2, MysqlEngine } from "@overlord/store/mysql"
import { SqliteEngine } from "@overlord/store/sqlite"
import { testMariaDb } from "@overlord/testkit/mariadb"
import { describe, expect, it } from "vitest"

const enc = new TextEncoder()
const line = (sessionId: string, i: number) =>
  `${JSON.stringify({ type: "user", uuid: `${sessionId}-${i}`, sessionId, timestamp: "2026-11-01T10:00:00.000Z", message: { role: "user", content: `line ${i}` } })}\n`

function appendOf(sessionId: string, lines: number): Append {
  const payload = enc.encode(Array.from({ length: lines }, (_, i) => line(sessionId, i)).join(""))
  return {
    header: {
      type: "append",
      seq: 0,
      fileKey: `-p/${sessionId}.jsonl`,
      generation: 0,
      identity: "1:1",
      fromOffset: 0,
      toOffset: payload.length,
    },
    payload,
  }
}

const engines: [string, () => Promise<Engine>][] = [
  ["SQLite", async () => new SqliteEngine({ path: ":memory:" })],
  [
    "MariaDB",
    async () => {
      const db = testMariaDb()
      return MysqlEngine.open(connectMysql2({ url: db.url(await db.createDatabase()) }))
    },
  ],
]

describe.each(engines)("change feed on %s", (_name, make) => {
  it("names each user's sessions with new lines once, up to the head, span by span", async () => {
    const engine = await make()
    try {
      expect(await engine.feedPosition()).toBe(0)
      expect(await engine.feedAfter(0, 100)).toEqual({ changes: [], position: 0 })
      const alice = await engine.ensureUser("alice")
      const bob = await engine.ensureUser("bob")
      const a = await engine.openMachine({ userId: alice }, "m-a", "a")
      const b = await engine.openMachine({ userId: bob }, "m-b", "b")
      const s1 = "11111111-1111-4111-8111-111111111111"
      const s2 = "22222222-2222-4222-8222-222222222222"
      const stored = (outcomes: Awaited<ReturnType<Engine["append"]>>) =>
        outcomes.flatMap((o) => (o._tag === "Ack" ? o.stored.map((r) => r.seq) : []))
      const aliceSeqs = stored(await engine.append({ userId: alice, machineId: a.machineId }, [appendOf(s1, 3)]))
      const bobSeqs = stored(await engine.append({ userId: bob, machineId: b.machineId }, [appendOf(s2, 2)]))
      const head = await engine.feedPosition()
      expect(head).toBe(Math.max(...aliceSeqs, ...bobSeqs))

      const all = await engine.feedAfter(0, 1_000)
      expect(all.position).toBe(head)
      expect([...all.changes].sort((x, y) => x.userId - y.userId)).toEqual([
        { userId: alice, sessionId: s1, lastSeq: Math.max(...aliceSeqs) },
        { userId: bob, sessionId: s2, lastSeq: Math.max(...bobSeqs) },
      ])
      // A span stops the read short of the head; the next read goes on from where it stopped.
      const first = await engine.feedAfter(0, Math.min(...aliceSeqs))
      expect(first.position).toBe(Math.min(...aliceSeqs))
      expect(first.changes).toEqual([{ userId: alice, sessionId: s1, lastSeq: Math.min(...aliceSeqs) }])
      const rest = await engine.feedAfter(first.position, 1_000)
      expect(rest.position).toBe(head)
      expect(rest.changes.map((c) => c.sessionId).sort()).toEqual([s1, s2])
      // Nothing new: nothing, and the position stays.
      expect(await engine.feedAfter(head, 1_000)).toEqual({ changes: [], position: head })
    } finally {
      await engine.close()
    }
  })
})
