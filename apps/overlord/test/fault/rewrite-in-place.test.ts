/**
 * Issue #14, finding 1: a session file rewritten in place (same inode, opened with O_TRUNC, then one
 * `write()` of longer content) must not be stored as the old bytes plus the new bytes past the old
 * length. The daemon never sees the shrink, only growth; before the fix the store kept a wrong copy
 * in 9 of 10 tries, nothing warned, and a restart did not repair it. Real processes: a standalone
 * `overlord serve` and a daemon, compared byte for byte through the export API.
 */
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Sync } from "@overlord/protocol"
import { sessionRecord } from "@overlord/testkit/bad-input"
import { afterEach, describe, expect, it } from "vitest"
import { WebSocketServer } from "ws"
import { testEngine, welcomeMessage } from "../support/engine-fixtures.ts"
import {
  databaseProblems,
  diskFiles,
  expectServerMatchesDisk,
  freePort,
  killAll,
  logTail,
  overlordCommand,
  type Proc,
  type Provisioned,
  provision,
  readState,
  type ServerHandle,
  sleep,
  startDaemon,
  startServer,
  waitDaemonIdle,
  waitFor,
} from "../support/harness.ts"

interface World {
  readonly claudeDir: string
  readonly home: string
  readonly database: string
  readonly server: ServerHandle
  readonly api: Provisioned
  readonly files: { readonly sid: string; readonly path: string }[]
}

let cleanup: string[] = []
afterEach(async () => {
  await killAll()
  for (const d of cleanup) rmSync(d, { recursive: true, force: true })
  cleanup = []
})

/** Lines `from..to` of a session; `rev` changes every line's bytes (a rewrite with other content). */
const lines = (sid: string, from: number, to: number, rev: number) => {
  let out = ""
  for (let i = from; i < to; i++) out += `${sessionRecord(sid, i, rev > 0 ? { rev } : {})}\n`
  return out
}

/** The fault: same inode, O_TRUNC, then ONE write of the whole (longer) content. */
function rewriteInPlace(path: string, content: string): void {
  const fd = openSync(path, "w")
  try {
    const bytes = Buffer.from(content)
    const written = writeSync(fd, bytes, 0, bytes.length, null)
    if (written !== bytes.length) throw new Error(`short write: ${written} of ${bytes.length}`)
  } finally {
    closeSync(fd)
  }
}

async function makeWorld(fileCount: number): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), "overlord-rewrite-"))
  cleanup.push(dir)
  const claudeDir = join(dir, "claude")
  const home = join(dir, "home")
  const database = join(dir, "server", "overlord.db")
  const project = join(claudeDir, "projects", "-home-dev-rewrite")
  mkdirSync(project, { recursive: true })
  const files = Array.from({ length: fileCount }, () => {
    const sid = crypto.randomUUID()
    const path = join(project, `${sid}.jsonl`)
    writeFileSync(path, lines(sid, 0, 6, 0))
    return { sid, path }
  })
  const port = freePort()
  const api = provision(database, home, `http://127.0.0.1:${port}`)
  const server = await startServer({ home: join(dir, "server-home"), database, port })
  return { claudeDir, home, database, server, api, files }
}

const context = (w: World, d: Proc) => () =>
  `state: ${JSON.stringify(readState(w.home))}\n${d.tail()}\n${logTail(w.home)}`

/** Idle, then every file's export equals its bytes and the store holds one live entry per line. */
async function expectExact(w: World, d: Proc, timeoutMs = 20_000): Promise<void> {
  await waitDaemonIdle(w.home, d, 60_000)
  const files = await expectServerMatchesDisk(w.api, () => diskFiles(w.claudeDir), context(w, d), timeoutMs)
  expect(files.length).toBe(w.files.length)
  expect(databaseProblems(w.database, files)).toEqual([])
}

describe("a session file rewritten in place (O_TRUNC + one longer write)", () => {
  it("is re-read, never stored as old bytes plus the new file's bytes past the old length", async () => {
    const w = await makeWorld(4)
    const d = startDaemon({ home: w.home, claudeDir: w.claudeDir, serverUrl: w.server.url })
    await expectExact(w, d)
    const REWRITES = 10
    const lineCount = w.files.map(() => 6)
    for (let r = 1; r <= REWRITES; r++) {
      const i = r % w.files.length
      const f = w.files[i]!
      // An ordinary append first (to this file and another), synced...
      appendFileSync(f.path, lines(f.sid, lineCount[i]!, lineCount[i]! + 1, 0))
      lineCount[i]! += 1
      const other = w.files[(i + 1) % w.files.length]!
      appendFileSync(
        other.path,
        lines(other.sid, lineCount[(i + 1) % w.files.length]!, lineCount[(i + 1) % w.files.length]! + 1, 0),
      )
      lineCount[(i + 1) % w.files.length]! += 1
      await expectExact(w, d)
      // ...then the rewrite: other bytes before the old length, and more of them.
      lineCount[i]! += 2
      rewriteInPlace(f.path, lines(f.sid, 0, lineCount[i]!, r))
      await expectExact(w, d)
    }
    // Each rewrite was noticed as one (not only as growth) and said so in the log.
    expect(logTail(w.home, 500_000)).toMatch(/re-reading .* the file was rewritten/)
    // Exactly one re-read per rewrite (as "shrunk" when the daemon looked between the truncation and
    // the write): none for the appends, which must never look like rewrites.
    // (The state file is rewritten every half second: polled until the last re-read is in it.)
    const resetsOf = async () =>
      (
        JSON.parse(await overlordCommand(["--home", w.home, "status", "--json"])) as {
          resets: { count: Record<string, number> }
        }
      ).resets.count
    const total = (count: Record<string, number>) => Object.values(count).reduce((a, b) => a + b, 0)
    const count = await waitFor("status to count the re-reads", async () => {
      const c = await resetsOf()
      return total(c) >= REWRITES ? c : null
    })
    expect(total(count)).toBe(REWRITES)
    expect(count.rewritten).toBeGreaterThanOrEqual(1)
    expect(d.running).toBe(true)
  }, 180_000)

  it("leaves the export equal to the file across a daemon restart", async () => {
    const w = await makeWorld(3)
    let d = startDaemon({ home: w.home, claudeDir: w.claudeDir, serverUrl: w.server.url })
    await expectExact(w, d)

    // Rewritten while the daemon is down: the welcome's tail check must catch it.
    await d.kill("SIGKILL")
    const [a, b, c] = w.files as [World["files"][0], World["files"][0], World["files"][0]]
    rewriteInPlace(a.path, lines(a.sid, 0, 9, 1))
    d = startDaemon({ home: w.home, claudeDir: w.claudeDir, serverUrl: w.server.url })
    await expectExact(w, d)

    // Rewritten while the daemon runs, the daemon killed right after, then appended to and restarted.
    rewriteInPlace(b.path, lines(b.sid, 0, 10, 2))
    rewriteInPlace(c.path, lines(c.sid, 0, 8, 3))
    await waitDaemonIdle(w.home, d, 60_000)
    await d.kill("SIGKILL")
    appendFileSync(b.path, lines(b.sid, 10, 12, 2))
    d = startDaemon({ home: w.home, claudeDir: w.claudeDir, serverUrl: w.server.url })
    await expectExact(w, d)

    // The CLI's export too.
    const out = join(w.home, "export.jsonl")
    await overlordCommand(["--home", w.home, "export", b.sid, "-o", out])
    expect(readFileSync(out).equals(readFileSync(b.path))).toBe(true)
  }, 180_000)

  it("re-reads a same-size edit just before the synced offset, and reports one further back", async () => {
    const w = await makeWorld(2)
    const d = startDaemon({ home: w.home, claudeDir: w.claudeDir, serverUrl: w.server.url })
    await expectExact(w, d)
    const [near, far] = w.files as [World["files"][0], World["files"][0]]

    // A digit in the last 32 bytes changed, in place (no truncation, same size): only the file's
    // time tells. Before the fix nothing looked at it and the store kept the old line.
    const nearBytes = readFileSync(near.path)
    editDigitInPlace(near.path, firstDigitFrom(nearBytes, nearBytes.length - 32))
    await expectExact(w, d)

    // The same edit at the start of the file cannot be seen without reading it all: reported.
    const farBytes = readFileSync(far.path)
    editDigitInPlace(far.path, firstDigitFrom(farBytes.subarray(0, 200), 0))
    const status = await waitFor(
      "status --json to report the file edited in place",
      async () => {
        const s = JSON.parse(await overlordCommand(["--home", w.home, "status", "--json"])) as {
          editedInPlace?: { count: number; latest: { fileKey: string }[] }
          resets?: { count: Record<string, number>; latest: { fileKey: string; reason: string }[] }
        }
        return s.editedInPlace?.latest.some((e) => e.fileKey.endsWith(`${far.sid}.jsonl`)) ? s : null
      },
      { timeoutMs: 20_000, intervalMs: 500, describe: context(w, d) },
    )
    expect(status.editedInPlace!.count).toBeGreaterThanOrEqual(1)
    // The near edit was a reset with its reason, which status reports too (not only the log).
    expect(status.resets!.count.rewritten).toBeGreaterThanOrEqual(1)
    expect(status.resets!.latest.some((r) => r.fileKey.endsWith(`${near.sid}.jsonl`) && r.reason === "rewritten")).toBe(
      true,
    )
    const text = await overlordCommand(["--home", w.home, "status"])
    expect(text).toMatch(/touched without growing: [1-9] file\(s\) \(Claude Code does this when a session is resumed\)/)
  }, 120_000)
})

/** The offset of the first ASCII digit at or after `from` (the test's lines all have some). */
function firstDigitFrom(bytes: Uint8Array, from: number): number {
  for (let i = Math.max(0, from); i < bytes.length; i++) if (bytes[i]! >= 0x30 && bytes[i]! <= 0x39) return i
  throw new Error(`no digit after byte ${from}`)
}

/** Overwrites the digit at `at` with another one, where it is: no O_TRUNC, the size stays. */
function editDigitInPlace(path: string, at: number): void {
  const fd = openSync(path, "r+")
  try {
    const digit = readFileSync(path)[at] === 0x37 ? "8" : "7"
    writeSync(fd, Buffer.from(digit), 0, 1, at)
  } finally {
    closeSync(fd)
  }
}

/** Stores appends that start where its copy ends (in its generation); a reset starts the copy over. */
function recordingServer() {
  const stored = new Map<string, { generation: number; bytes: Buffer }>()
  const resets: { fileKey: string; reason: string }[] = []
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" })
  wss.on("connection", (socket) => {
    socket.on("message", (data: Buffer, isBinary) => {
      if (!isBinary) {
        const msg = JSON.parse(String(data)) as Sync.DaemonMessage
        if (msg.type === "hello") socket.send(welcomeMessage())
        if (msg.type !== "reset") return
        resets.push({ fileKey: msg.fileKey, reason: msg.reason })
        stored.set(msg.fileKey, { generation: msg.generation, bytes: Buffer.alloc(0) })
        socket.send(
          JSON.stringify({ type: "ack", seq: 0, fileKey: msg.fileKey, generation: msg.generation, offset: 0 }),
        )
        return
      }
      // [u32 header length][header JSON][payload]: no facts, the welcome offers none.
      const length = data.readUInt32BE(0)
      const header = JSON.parse(data.subarray(4, 4 + length).toString()) as Sync.AppendHeader
      const have = stored.get(header.fileKey) ?? { generation: 0, bytes: Buffer.alloc(0) }
      if (header.fromOffset !== have.bytes.length || header.generation !== have.generation) {
        const cursor = { fileKey: header.fileKey, generation: have.generation, offset: have.bytes.length }
        socket.send(JSON.stringify({ type: "rejected", seq: header.seq, reason: "offset", cursor }))
        return
      }
      const bytes = Buffer.concat([have.bytes, data.subarray(4 + length)])
      stored.set(header.fileKey, { generation: have.generation, bytes })
      socket.send(
        JSON.stringify({
          type: "ack",
          seq: header.seq,
          fileKey: header.fileKey,
          generation: have.generation,
          offset: bytes.length,
        }),
      )
    })
  })
  const ready = new Promise<string>((r) =>
    wss.once("listening", () => r(`http://127.0.0.1:${(wss.address() as AddressInfo).port}`)),
  )
  return { stored, resets, ready, close: () => wss.close() }
}

describe("the sync engine, in process, against a recording server", () => {
  const cleanups: (() => unknown)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it("resets a file it only sees grow when the bytes before its offset changed, and checks edits without growth", async () => {
    const dir = mkdtempSync(join(tmpdir(), "overlord-rewrite-engine-"))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const server = recordingServer()
    cleanups.push(server.close)
    const engine = testEngine(await server.ready, { partialGraceMs: 50 })
    cleanups.push(() => engine.stop())
    engine.start()
    const sid = crypto.randomUUID()
    const key = `-home-dev-rewrite/${sid}.jsonl`
    const path = join(dir, `${sid}.jsonl`)
    const storedEqualsFile = () => server.stored.get(key)?.bytes.equals(readFileSync(path)) === true
    const describeStored = () =>
      `stored ${server.stored.get(key)?.bytes.length ?? 0} B, file ${readFileSync(path).length} B; resets ${JSON.stringify(server.resets)}`

    writeFileSync(path, lines(sid, 0, 5, 0))
    await engine.changed(key, path)
    await waitFor("the file stored", storedEqualsFile, { timeoutMs: 10_000, intervalMs: 10, describe: describeStored })

    // Rewritten whole before the engine looks: all it can see is a larger size, same inode.
    rewriteInPlace(path, lines(sid, 0, 8, 1))
    await engine.changed(key, path)
    await waitFor("the rewrite stored as the file", storedEqualsFile, {
      timeoutMs: 10_000,
      intervalMs: 10,
      describe: describeStored,
    })
    expect(server.resets).toEqual([{ fileKey: key, reason: "rewritten" }])

    // A same-size edit in the bytes just before the offset: only the time changes (spaced past the
    // file system's timestamp granularity, so that it does).
    await sleep(50)
    const bytes = readFileSync(path)
    editDigitInPlace(path, firstDigitFrom(bytes, bytes.length - 32))
    await engine.changed(key, path)
    await waitFor("the edit stored", storedEqualsFile, { timeoutMs: 10_000, intervalMs: 10, describe: describeStored })
    expect(server.resets.map((r) => r.reason)).toEqual(["rewritten", "rewritten"])

    // One further back cannot be seen by those bytes: counted, named, not reset.
    await sleep(50)
    editDigitInPlace(path, firstDigitFrom(readFileSync(path), 0))
    await engine.changed(key, path)
    await waitFor("the edit to be counted", () => engine.status().editedInPlace.count === 1, {
      timeoutMs: 10_000,
      intervalMs: 10,
    })
    expect(engine.status().editedInPlace.latest.map((e) => e.fileKey)).toEqual([key])
    expect(engine.status().resets.count).toEqual({ shrunk: 0, replaced: 0, rewritten: 2 })
    expect(server.resets).toHaveLength(2)
  })
})
