/**
 * Fault (issue #11): a daemon's `status` that arrived among append frames was handled in its place, so
 * it cut the group being gathered in two and its write (two requests on PlanetScale) waited in line
 * between groups. End to end on PlanetScale a third of a backfill's groups were 0.5-2 MB instead of 4.
 * A status is the machine's health, not ordered against appends: it no longer cuts a group, a newer one
 * replaces it, and it is written once the group is stored. Text that is ordered (a reset, a file gone)
 * still splits the frames around it (`sync-socket.test.ts`).
 */
import type { Interface as StoreApi } from "@overlord/store"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { connectSyncInMemory, frame, line, SID } from "../support/sync-connection-rig.ts"

const enc = new TextEncoder()
const status = (filesTracked: number, bytesPending: number) =>
  JSON.stringify({ type: "status", filesTracked, bytesPending })

describe("a status among append frames", () => {
  it("does not cut the group; the latest is written once, after the group", async () => {
    /** What reached the store, in order: a group's seqs, or a status write's files tracked. */
    const calls: string[] = []
    const { engine, userId, conn, sent, until } = await connectSyncInMemory({
      wrapStore: (store): StoreApi => ({
        ...store,
        append: (actor, appends) => {
          calls.push(`group ${appends.map((a) => a.header.seq).join(",")}`)
          return store.append(actor, appends)
        },
        setMachineState: (actor, state) =>
          Effect.suspend(() => {
            if (state.online && state.filesTracked !== undefined) calls.push(`status ${state.filesTracked}`)
            return store.setMachineState(actor, state)
          }),
      }),
    })

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
