/**
 * Stat answers arrive out of order: Bun runs `fs.promises.stat` on a thread pool, so a stat asked
 * earlier (before a later append) can resolve after one asked later. The engine must not let such
 * a late, smaller size replace the newer one: it would read up to that stale size, believe the file
 * complete, drop it from the queue, and the last lines would wait for an event that never comes.
 *
 * The interleaving is driven by hand: `statFile` and `readChunk` are wrapped so the test decides
 * when each answer is delivered. A tiny in-process sync server stores appends in order.
 */
import { appendFileSync, writeFileSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { AppendFrameError, decodeAppendFrame } from "@overlord/protocol"
import { appendFrameReader } from "@overlord/server"
import { afterEach, describe, expect, it, vi } from "vitest"
import { WebSocketServer } from "ws"

const gates = vi.hoisted(() => {
  /** A held call: its real work is done at once, its answer waits for `release()`. */
  interface Hold {
    /** Resolves when the real call has finished (its snapshot is taken). */
    readonly taken: Promise<void>
    release: () => void
  }
  const make = () => {
    let armed: { hold: Hold; gate: Promise<void>; done: () => void } | null = null
    return {
      arm(): Hold {
        let release!: () => void
        let done!: () => void
        const gate = new Promise<void>((r) => (release = r))
        const taken = new Promise<void>((r) => (done = r))
        const hold = { taken, release }
        armed = { hold, gate, done }
        return hold
      },
      take() {
        const a = armed
        armed = null
        return a
      },
    }
  }
  return { stat: make(), read: make() }
})

vi.mock("../src/file-reader.ts", async (importOriginal) => {
  const real = await importOriginal<typeof import("../src/file-reader.ts")>()
  return {
    ...real,
    statFile: async (path: string) => {
      const held = gates.stat.take()
      const facts = await real.statFile(path)
      if (held) {
        held.done()
        await held.gate
      }
      return facts
    },
    readChunk: async (...args: Parameters<typeof real.readChunk>) => {
      const held = gates.read.take()
      if (held) {
        held.done()
        await held.gate
      }
      return real.readChunk(...args)
    },
  }
})

const { testEngine, welcomeMessage } = await import("./support/engine-fixtures.ts")

/** Stores appends that start where the file's stored bytes end; rejects any other. */
function fakeServer() {
  const stored = new Map<string, Buffer>()
  const resets: string[] = []
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" })
  wss.on("connection", (socket) => {
    socket.on("message", (data: Buffer, isBinary) => {
      if (!isBinary) {
        const msg = JSON.parse(String(data)) as { type: string; fileKey?: string }
        if (msg.type === "hello") socket.send(welcomeMessage())
        else if (msg.type === "reset") resets.push(msg.fileKey!)
        return
      }
      const frame = decodeAppendFrame(data, appendFrameReader)
      if (frame instanceof AppendFrameError) throw frame
      const { header, payload } = frame
      const have = stored.get(header.fileKey) ?? Buffer.alloc(0)
      const cursor = { fileKey: header.fileKey, generation: 0, offset: have.length }
      if (header.fromOffset !== have.length) {
        socket.send(JSON.stringify({ type: "rejected", seq: header.seq, reason: "offset", cursor }))
        return
      }
      const next = Buffer.concat([have, payload])
      stored.set(header.fileKey, next)
      socket.send(
        JSON.stringify({ type: "ack", seq: header.seq, fileKey: header.fileKey, generation: 0, offset: next.length }),
      )
    })
  })
  const ready = new Promise<string>((r) =>
    wss.once("listening", () => r(`http://127.0.0.1:${(wss.address() as AddressInfo).port}`)),
  )
  return { stored, resets, ready, close: () => wss.close() }
}

const line = (i: number) => `${JSON.stringify({ type: "user", uuid: `u-${i}`, message: "hello ".repeat(i + 1) })}\n`
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

describe("stat answers out of order", () => {
  const cleanups: (() => unknown)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it("a late answer from an earlier stat does not leave the newest lines unsent", async () => {
    const dir = await mkdtemp(join(tmpdir(), "overlord-stale-stat-"))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const server = fakeServer()
    cleanups.push(server.close)
    const engine = testEngine(await server.ready, { partialGraceMs: 50 })
    cleanups.push(() => engine.stop())
    engine.start()

    const key = "-home-dev/11111111-2222-3333-4444-555555555555.jsonl"
    const path = join(dir, "session.jsonl")
    const stored = () => server.stored.get(key)?.length ?? 0
    writeFileSync(path, line(0))
    await engine.changed(key, path)
    await until("the first line stored", () => stored() === line(0).length)

    // Line 1: the engine starts reading it, and that read is held (the pump is busy).
    const read = gates.read.arm()
    appendFileSync(path, line(1))
    const first = engine.changed(key, path)
    await read.taken

    // Line 2: its stat snapshots the file now, but its answer is held back.
    const lateStat = gates.stat.arm()
    appendFileSync(path, line(2))
    const second = engine.changed(key, path)
    await lateStat.taken

    // Line 3, the last write: its stat is answered at once.
    appendFileSync(path, line(3))
    await engine.changed(key, path)

    // Now the earlier stat answers, with the size from before line 3; then the held read finishes.
    lateStat.release()
    await second
    read.release()
    await first

    const size = line(0).length + line(1).length + line(2).length + line(3).length
    // No further writes, so no further events: everything must be stored from what the engine knows.
    await until("every line stored", () => stored() === size, 3_000).catch((e: Error) => {
      throw new Error(`${e.message}: ${stored()} bytes stored of ${size}`)
    })
    expect(server.resets).toEqual([])
  })
})
