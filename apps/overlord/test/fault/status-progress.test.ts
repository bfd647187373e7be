/**
 * Fault (issue #11): during a backfill the daemon told the server its status at every 0.5 s state tick,
 * because `bytesPending` changes all the time. Each status is a write on the server's database (two
 * requests on PlanetScale) and cut the server's group of appends short: end to end on PlanetScale a third
 * of the groups were 0.5-2 MB instead of 4. A status whose only change is `bytesPending` now goes at most
 * every 5 s; any other change, and the end of the backfill (nothing pending), at once.
 */
import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { decodeAppendFrame } from "@overlord/protocol"
import { appendFrameReader } from "@overlord/server"
import { waitFor } from "@overlord/testkit/wait"
import { afterEach, describe, expect, it } from "vitest"
import { WebSocketServer } from "ws"
import { testEngine, welcomeMessage } from "../support/engine-fixtures.ts"

/** Welcomes, keeps every status and every append, and acks the appends only when told. */
function statusServer() {
  const statuses: { bytesPending: number; filesTracked: number }[] = []
  const held: { seq: number; fileKey: string; toOffset: number }[] = []
  let socket: import("ws").WebSocket | null = null
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", maxPayload: 16 * 1024 * 1024 })
  wss.on("connection", (s) => {
    socket = s
    s.on("message", (data: Buffer, isBinary) => {
      if (isBinary) {
        const frame = decodeAppendFrame(data, appendFrameReader)
        if (frame instanceof Error) throw frame
        held.push({ seq: frame.header.seq, fileKey: frame.header.fileKey, toOffset: frame.header.toOffset })
        return
      }
      const msg = JSON.parse(String(data)) as { type: string; bytesPending: number; filesTracked: number }
      if (msg.type === "hello") s.send(welcomeMessage())
      if (msg.type === "status") statuses.push({ bytesPending: msg.bytesPending, filesTracked: msg.filesTracked })
    })
  })
  const ackAll = () => {
    for (const h of held.splice(0))
      socket?.send(JSON.stringify({ type: "ack", seq: h.seq, fileKey: h.fileKey, generation: 0, offset: h.toOffset }))
  }
  const ready = new Promise<string>((r) =>
    wss.once("listening", () => r(`http://127.0.0.1:${(wss.address() as AddressInfo).port}`)),
  )
  return { statuses, held, ackAll, ready, close: () => wss.close() }
}

const line = (i: number) =>
  `${JSON.stringify({ type: "user", uuid: `u-${i}`, sessionId: "s", message: { role: "user", content: `prompt ${i}` } })}\n`

describe("the daemon's status during a backfill", () => {
  const cleanups: (() => unknown)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it("sends progress alone at most every few seconds, other changes and the end at once", async () => {
    const server = statusServer()
    cleanups.push(server.close)
    const dir = await mkdtemp(join(tmpdir(), "overlord-status-"))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const a = join(dir, "a.jsonl")
    await writeFile(a, line(1))
    const engine = testEngine(await server.ready)
    cleanups.push(() => engine.stop())
    engine.start()
    await engine.addBackfill("p/a.jsonl", a)
    await waitFor("the first append", () => server.held.length === 1)
    const first = line(1).length

    engine.reportStatus(null)
    // Only the progress changed (the file grew, nothing acked): not sent again within the interval.
    await appendFile(a, line(2))
    await engine.changed("p/a.jsonl", a)
    await waitFor("the second append", () => server.held.length === 2)
    engine.reportStatus(null)
    // Another file is tracked: a change the dashboard shows, sent at once.
    const b = join(dir, "b.jsonl")
    await writeFile(b, line(3))
    await engine.addBackfill("p/b.jsonl", b)
    await waitFor("the third append", () => server.held.length === 3)
    engine.reportStatus(null)
    // Everything stored: nothing pending, sent at once.
    server.ackAll()
    await waitFor("acked", () => engine.status().bytesPending === 0)
    engine.reportStatus(null)

    const all = first + line(2).length + line(3).length
    await waitFor("three statuses", () => server.statuses.length >= 3)
    // A moment for a status that should not come.
    await new Promise((r) => setTimeout(r, 100))
    expect(server.statuses).toEqual([
      { bytesPending: first, filesTracked: 1 },
      { bytesPending: all, filesTracked: 2 },
      { bytesPending: 0, filesTracked: 2 },
    ])
  })
})
