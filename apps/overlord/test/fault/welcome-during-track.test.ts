/**
 * A file being tracked when the welcome came was verified twice: the welcome verified it and began
 * sending it, then `track` (which had been waiting on the folder record, `goneScope.add`) verified it
 * again, adopting the server's cursor of before those frames were acknowledged: the file was sent again
 * from 0. The old frames were stored, the new ones rejected, and each rejection rewound the file again
 * while the earlier frames were still landing. Seen with both cores busy in long-line-memory: 23–58
 * rejections per run, a 50 MB file sent ~1.5 times, and on the server a whole read of the 100 MB line
 * per rejection (until 9b88c4d). The interleaving is driven by hand: the folder record and the server's
 * welcome and acks are held until the test lets them go.
 */
import { writeFileSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { AppendFrameError, decodeAppendFrame } from "@overlord/protocol"
import { appendFrameReader } from "@overlord/server"
import { afterEach, describe, expect, it } from "vitest"
import { type WebSocket, WebSocketServer } from "ws"
import { testEngine, welcomeMessage } from "../support/engine-fixtures.ts"

/** Stores appends that start where the file's stored bytes end, rejects any other; welcome and acks wait. */
function heldServer() {
  let stored = 0
  let received = 0
  let rejected = 0
  const held: (() => void)[] = []
  let holding = true
  let welcome: (() => void) | null = null
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" })
  wss.on("connection", (socket: WebSocket) => {
    socket.on("message", (data: Buffer, isBinary) => {
      if (!isBinary) {
        const msg = JSON.parse(String(data)) as { type: string }
        if (msg.type === "hello") welcome = () => socket.send(welcomeMessage())
        return
      }
      const frame = decodeAppendFrame(data, appendFrameReader)
      if (frame instanceof AppendFrameError) throw frame
      const { header, payload } = frame
      received += payload.length
      if (header.fromOffset !== stored) {
        rejected += 1
        const cursor = { fileKey: header.fileKey, generation: 0, offset: stored }
        socket.send(JSON.stringify({ type: "rejected", seq: header.seq, reason: "offset", cursor }))
        return
      }
      stored += payload.length
      const ack = JSON.stringify({
        type: "ack",
        seq: header.seq,
        fileKey: header.fileKey,
        generation: 0,
        offset: stored,
      })
      if (holding) held.push(() => socket.send(ack))
      else socket.send(ack)
    })
  })
  const ready = new Promise<string>((r) =>
    wss.once("listening", () => r(`http://127.0.0.1:${(wss.address() as AddressInfo).port}`)),
  )
  return {
    ready,
    stored: () => stored,
    received: () => received,
    rejected: () => rejected,
    helloSeen: () => welcome !== null,
    sendWelcome: () => welcome!(),
    releaseAcks: () => {
      holding = false
      for (const send of held.splice(0)) send()
    },
    close: () => wss.close(),
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

describe("a welcome while a file is being tracked", () => {
  const cleanups: (() => unknown)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it("sends the file once: tracking does not verify it again after the welcome did", async () => {
    const dir = await mkdtemp(join(tmpdir(), "overlord-welcome-during-track-"))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const server = heldServer()
    cleanups.push(server.close)
    let recorded!: () => void
    const record = new Promise<void>((r) => (recorded = r))
    const engine = testEngine(await server.ready, { goneScope: { has: () => false, add: () => record } })
    cleanups.push(() => engine.stop())
    engine.start()
    await until("the hello", server.helloSeen)

    const key = "-home-dev/11111111-2222-3333-4444-555555555555.jsonl"
    const path = join(dir, "session.jsonl")
    const size = 3 * 1024 * 1024 + 100
    writeFileSync(path, `${"x".repeat(size - 1)}\n`)
    // Tracked, and waiting on its folder record; the welcome comes meanwhile, and the file is sent.
    const tracking = engine.addBackfill(key, path)
    server.sendWelcome()
    await until("every byte received", () => server.received() >= size)
    // Its record written, tracking goes on; the acks arrive after.
    recorded()
    await tracking
    server.releaseAcks()
    await until("every byte stored", () => server.stored() === size)
    await sleep(200)
    expect({ received: server.received(), rejected: server.rejected() }).toEqual({ received: size, rejected: 0 })
  })
})
