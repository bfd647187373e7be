/**
 * Fault (issue #11): a daemon's `status` that arrived among append frames was handled in its place, so
 * it cut the group being gathered in two and its write (two requests on PlanetScale) waited in line
 * between groups. End to end on PlanetScale a third of a backfill's groups were 0.5-2 MB instead of 4.
 * A status is the machine's health, not ordered against appends: it no longer cuts a group, a newer one
 * replaces it, and it is written once the group is stored. Text that is ordered (a reset, a file gone)
 * still splits the frames around it (`sync-socket.test.ts`).
 */
import { encodeAppendFrame, Sync } from "@overlord/protocol"
import { type Append, fromEngine, type Interface as StoreApi } from "@overlord/store"
import { SqliteEngine } from "@overlord/store/sqlite"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { LiveHub } from "../../src/live-hub.ts"
import { openSyncConnection, SyncPresence } from "../../src/sync-socket.ts"

const enc = new TextEncoder()
const SID = "11111111-2222-3333-4444-555555555555"
const KEY = `-home-dev-proj/${SID}.jsonl`
const line = (uuid: string) =>
  `${JSON.stringify({ type: "user", uuid, sessionId: SID, timestamp: "2026-11-01T10:00:00.000Z", message: { role: "user", content: `prompt ${uuid}` } })}\n`

const frame = (seq: number, fromOffset: number, text: string): Uint8Array => {
  const payload = enc.encode(text)
  return encodeAppendFrame(
    {
      type: "append",
      seq,
      fileKey: KEY,
      generation: 0,
      identity: "1:1",
      fromOffset,
      toOffset: fromOffset + payload.length,
    },
    payload,
  )
}
const status = (filesTracked: number, bytesPending: number) =>
  JSON.stringify({ type: "status", filesTracked, bytesPending })

describe("a status among append frames", () => {
  it("does not cut the group; the latest is written once, after the group", async () => {
    const engine = new SqliteEngine({ path: ":memory:" })
    const userId = engine.ensureUser("alice")
    const token = engine.issueToken({ userId, kind: "machine", machineUid: "m-1" })
    const base = fromEngine(engine)
    /** What reached the store, in order: a group's seqs, or a status write's files tracked. */
    const calls: string[] = []
    const store: StoreApi = {
      ...base,
      append: (actor, appends: readonly Append[]) => {
        calls.push(`group ${appends.map((a) => a.header.seq).join(",")}`)
        return base.append(actor, appends)
      },
      setMachineState: (actor, state) =>
        Effect.suspend(() => {
          if (state.online && state.filesTracked !== undefined) calls.push(`status ${state.filesTracked}`)
          return base.setMachineState(actor, state)
        }),
    }
    const sent: Sync.ServerMessage[] = []
    const conn = openSyncConnection(
      { send: (data) => sent.push(JSON.parse(data) as Sync.ServerMessage), close: () => {} },
      store,
      new LiveHub(store),
      new SyncPresence(),
    )
    conn.onMessage(
      JSON.stringify({
        type: "hello",
        protocolVersion: Sync.PROTOCOL_VERSION,
        daemonVersion: "test",
        machineId: "m-1",
        machineName: "laptop",
        token,
      }),
    )
    const until = async (done: () => boolean) => {
      for (let i = 0; i < 500 && !done(); i++) await Bun.sleep(2)
      if (!done()) throw new Error(`timed out; sent: ${JSON.stringify(sent)}`)
    }
    await until(() => sent.some((m) => m.type === "welcome"))

    // A backfill's frames with the daemon's statuses among them, as they arrive on the socket.
    const lines = ["u1", "u2", "u3", "u4"].map(line)
    let offset = 0
    for (const [i, text] of lines.entries()) {
      conn.onMessage(frame(i + 1, offset, text))
      offset += enc.encode(text).length
      if (i < 3) conn.onMessage(status(1 + i, 1000 - i))
    }
    await until(() => sent.filter((m) => m.type === "ack").length === 4 && calls.some((c) => c.startsWith("status")))
    await Bun.sleep(20)

    expect(calls).toEqual(["group 1,2,3,4", "status 3"])
    expect(sent.filter((m) => m.type === "ack").map((m) => (m.type === "ack" ? m.seq : 0))).toEqual([1, 2, 3, 4])
    expect(engine.listMachines({ userId })[0]).toMatchObject({ filesTracked: 3, bytesPending: 998 })
    expect(engine.getSession({ userId }, SID)?.session.entryCount).toBe(4)
  })
})
