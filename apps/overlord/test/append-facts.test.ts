/**
 * The daemon's append frames, read back as the server reads them (`decodeAppendFrame` with the
 * server's `appendFrameReader`): the payload is the file's bytes, and the facts behind it are
 * `factsOfLines` of exactly those bytes, whichever way the frame was assembled (facts written in place behind the chunk, built apart because they did not
 * fit there, or copied behind a header too long for its room). And the window counts those facts.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { AppendFrameError, decodeAppendFrame, type FactsIgnored } from "@overlord/protocol"
import { appendFrameReader } from "@overlord/server"
import { waitFor } from "@overlord/testkit/wait"
import { FACTS_VERSION, factsOfLines } from "@overlord/transcript"
import { afterEach, describe, expect, it } from "vitest"
import { WebSocketServer } from "ws"
import { testEngine, welcomeMessage } from "./support/engine-fixtures.ts"

interface Received {
  /** The whole frame's length: header, lines and facts. */
  readonly length: number
  readonly fileKey: string
  readonly payload: Buffer
  readonly facts: unknown
  readonly factsIgnored: FactsIgnored | undefined
}

/** Acks every append (unless told to hold them) and keeps what the server's reading made of it. */
function factsServer({ ack = true }: { ack?: boolean } = {}) {
  const frames: Received[] = []
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", maxPayload: 16 * 1024 * 1024 })
  wss.on("connection", (socket) => {
    const offsets = new Map<string, number>()
    socket.on("message", (data: Buffer, isBinary) => {
      if (!isBinary) {
        const msg = JSON.parse(String(data)) as { type: string }
        if (msg.type === "hello") socket.send(welcomeMessage({ factsVersion: FACTS_VERSION }))
        return
      }
      const frame = decodeAppendFrame(data, appendFrameReader)
      if (frame instanceof AppendFrameError) throw frame
      const { header } = frame
      frames.push({
        length: data.length,
        fileKey: header.fileKey,
        payload: Buffer.from(frame.payload),
        facts: frame.facts,
        factsIgnored: frame.factsIgnored,
      })
      offsets.set(header.fileKey, header.toOffset)
      if (!ack) return
      socket.send(
        JSON.stringify({
          type: "ack",
          seq: header.seq,
          fileKey: header.fileKey,
          generation: 0,
          offset: header.toOffset,
        }),
      )
    })
  })
  const ready = new Promise<string>((r) =>
    wss.once("listening", () => r(`http://127.0.0.1:${(wss.address() as AddressInfo).port}`)),
  )
  return { frames, ready, close: () => wss.close() }
}

const record = (i: number, text: string) =>
  `${JSON.stringify({ type: "user", uuid: `u-${i}`, sessionId: "s", message: { role: "user", content: text } })}\n`

describe("append frames carry the facts of exactly their bytes", () => {
  const cleanups: (() => unknown)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it.each([
    [
      "long lines: facts written in place behind the chunk",
      "-p/long.jsonl",
      (i: number) => record(i, "x".repeat(20_000)),
      120,
      true,
    ],
    [
      "short lines: facts larger than the room behind the chunk",
      "-p/short.jsonl",
      (i: number) => record(i, "z"),
      30_000,
      true,
    ],
    [
      "a header longer than its room",
      `-p/${"d".repeat(1200)}.jsonl`,
      (i: number) => record(i, "y".repeat(2_000)),
      1_000,
      true,
    ],
    [
      "a line longer than a chunk, in pieces",
      "-p/huge.jsonl",
      (i: number) => record(i, "h".repeat(2_500_000)),
      2,
      true,
    ],
    // Facts of such lines outweigh the lines many times: past the frame limit, the server parses.
    ["facts beyond the frame limit are left out", "-p/tiny.jsonl", () => "{}\n", 600_000, false],
  ])("%s", async (_, fileKey, line, count, withFacts) => {
    const dir = await mkdtemp(join(tmpdir(), "overlord-append-facts-"))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const server = factsServer()
    cleanups.push(server.close)
    const path = join(dir, "session.jsonl")
    const bytes = Buffer.from(Array.from({ length: count }, (_, i) => line(i)).join(""))
    await writeFile(path, bytes)

    const engine = testEngine(await server.ready)
    cleanups.push(() => engine.stop())
    engine.start()
    await engine.changed(fileKey, path)
    const received = () => server.frames.reduce((n, f) => n + f.payload.length, 0)
    await waitFor("the whole file sent", () => received() === bytes.length, 20_000)

    expect(Buffer.concat(server.frames.map((f) => f.payload))).toEqual(bytes)
    expect(server.frames.length).toBeGreaterThan(1)
    for (const frame of server.frames) {
      expect(frame.fileKey).toBe(fileKey)
      expect(frame.factsIgnored).toBeUndefined()
      expect(frame.facts).toEqual(withFacts ? factsOfLines(frame.payload) : undefined)
    }
  })

  it("counts whole frames, facts included, against the window", async () => {
    const dir = await mkdtemp(join(tmpdir(), "overlord-append-window-"))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const server = factsServer({ ack: false })
    cleanups.push(server.close)
    // Every line a typed prompt: its facts carry the text, so they weigh about what the lines do.
    const path = join(dir, "prompts.jsonl")
    await writeFile(path, Array.from({ length: 2_000 }, (_, i) => record(i, `prompt ${"p".repeat(1_900)}`)).join(""))

    const windowBytes = 1024 * 1024
    const engine = testEngine(await server.ready, { chunkBytes: 64 * 1024, windowBytes })
    cleanups.push(() => engine.stop())
    engine.start()
    await engine.changed("-p/prompts.jsonl", path)
    // No acks: the daemon sends until the window is full, then waits.
    let seen = -1
    await waitFor(
      "the window full",
      async () => {
        const now = server.frames.length
        if (now > 0 && now === seen) return true
        seen = now
        await Bun.sleep(300)
        return false
      },
      20_000,
    )
    const inFlight = server.frames.reduce((n, f) => n + f.length, 0)
    const lines = server.frames.reduce((n, f) => n + f.payload.length, 0)
    const largest = Math.max(...server.frames.map((f) => f.length))
    expect(server.frames.every((f) => f.facts !== undefined)).toBe(true)
    // Counting only lines, about twice the window would be in flight here.
    expect(inFlight).toBeLessThanOrEqual(windowBytes + largest)
    expect(inFlight).toBeGreaterThan(windowBytes / 2)
    expect(lines).toBeLessThan(0.7 * inFlight)
  })
})
