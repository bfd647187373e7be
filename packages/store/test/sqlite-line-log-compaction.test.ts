/**
 * Garbage in the line log (issue #14, finding 5: 186.6 MB of log for 105.8 MB of source after 10 kills
 * during two 50 MB lines): appends reuse the tail a dead transaction left, and a log with garbage is
 * compacted at open, so that a kill at any point of the compaction leaves a log every export reads
 * byte for byte.
 */
import { Database } from "bun:sqlite"
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Sync } from "@overlord/protocol"
import { collectBytes, type MachineActor } from "@overlord/store"
import { SqliteEngine, type SqliteOptions } from "@overlord/store/sqlite"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { lineLogPath } from "../src/line-log.ts"

const enc = new TextEncoder()
const A = "11111111-2222-3333-4444-555555555555"
const B = "99999999-2222-3333-4444-555555555555"
const keyOf = (sid: string) => `-home-dev-proj/${sid}.jsonl`
const MB = 1024 * 1024

const userLine = (sid: string, n: number, pad = 0) =>
  JSON.stringify({
    type: "user",
    uuid: `u-${sid.slice(0, 4)}-${n}`,
    parentUuid: null,
    sessionId: sid,
    timestamp: `2026-11-01T10:00:${String(n % 60).padStart(2, "0")}.000Z`,
    message: { role: "user", content: `prompt ${n} ${"x".repeat(pad)}` },
  })
const linesOf = (sid: string, from: number, n: number) => {
  let text = ""
  for (let i = from; i < from + n; i++) text += `${userLine(sid, i, 200)}\n`
  return text
}

let dir: string
let path: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "overlord-line-log-compaction-"))
  path = join(dir, "overlord.db")
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

async function machineOn(engine: SqliteEngine) {
  const userId = await engine.ensureUser("alice")
  const opened = await engine.openMachine({ userId }, "m-1", "laptop")
  const actor: MachineActor = { userId, machineId: opened.machineId }
  const offsets = new Map(opened.cursors.map((c) => [c.fileKey, c.offset]))
  let seq = 0
  const append = async (sid: string, bytes: Uint8Array) => {
    const fileKey = keyOf(sid)
    const from = offsets.get(fileKey) ?? 0
    const header: Sync.AppendHeader = {
      type: "append",
      seq: seq++,
      fileKey,
      generation: 0,
      identity: "1:1",
      fromOffset: from,
      toOffset: from + bytes.length,
    }
    const [out] = await engine.append(actor, [{ header, payload: bytes }])
    expect(out!._tag).toBe("Ack")
    offsets.set(fileKey, from + bytes.length)
  }
  const exported = async (sid: string) => collectBytes((await engine.exportFile(actor, sid, keyOf(sid)))!)
  return { actor, offsets, append, exported }
}

/**
 * A store whose log holds garbage: A's 5 MB line arrives in 1.5 MiB pieces with B's lines between them,
 * so each piece appends the line so far again. B ends with a line still open (no newline yet).
 * Returns the two files' bytes as stored.
 */
async function storeWithGarbage(at: string) {
  const engine = new SqliteEngine({ path: at, lineLogCompaction: false })
  const m = await machineOn(engine)
  const a = enc.encode(`${linesOf(A, 0, 20)}${userLine(A, 20, 5 * MB)}\n${linesOf(A, 21, 20)}`)
  const b = enc.encode(`${linesOf(B, 0, 200)}${userLine(B, 200, 3000)}`)
  const longAt = enc.encode(linesOf(A, 0, 20)).length
  await m.append(A, a.subarray(0, longAt + 1000))
  let bAt = 0
  for (let at = longAt + 1000; at < a.length; at += 1.5 * MB) {
    await m.append(A, a.subarray(at, Math.min(a.length, at + 1.5 * MB)))
    const next = Math.min(b.length, bAt + 4000)
    if (bAt < next) await m.append(B, b.subarray(bAt, next))
    bAt = next
  }
  // B's rest, its last line left open: half now, half after the compaction.
  const openAt = b.length - 1500
  await m.append(B, b.subarray(bAt, openAt))
  engine.close()
  return { a, b, openAt }
}

const logSize = () => statSync(lineLogPath(path)).size
const compacting: SqliteOptions["lineLogCompaction"] = { minGarbageBytes: 0, minGarbageShare: 0.1 }

describe("line log garbage", () => {
  it("appends over the bytes a transaction that never committed left, so a long line grows in place", async () => {
    const engine = new SqliteEngine({ path, lineLogCompaction: false })
    const m = await machineOn(engine)
    const a = enc.encode(`${linesOf(A, 0, 5)}${userLine(A, 5, 300_000)}\n`)
    await m.append(A, a.subarray(0, 100_000))
    // What a process killed between writing a group's bytes and committing it leaves behind.
    appendFileSync(lineLogPath(path), new Uint8Array(50_000).fill(0x78))
    await m.append(A, a.subarray(100_000, 200_000))
    await m.append(A, a.subarray(200_000))
    expect(Buffer.compare(await m.exported(A), a)).toBe(0)
    // The dead bytes were written over: the log is the file (before: the file's first piece, the dead
    // bytes, then the long line appended again whole).
    expect(logSize()).toBe(a.length)
    expect(Buffer.compare(readFileSync(lineLogPath(path)), a)).toBe(0)
    engine.close()
  })

  it("is compacted at open: the log holds the named lines only, and every export, page and entry reads the same", async () => {
    const { a, b, openAt } = await storeWithGarbage(path)
    const before = logSize()
    expect(before).toBeGreaterThan(a.length + openAt + 4 * MB)
    const old = new SqliteEngine({ path, lineLogCompaction: false })
    const m0 = await machineOn(old)
    const pageBefore = (await old.listEntries(m0.actor, A, { limit: 1000 }))!.entries
    old.close()

    const warnings: string[] = []
    const engine = new SqliteEngine({ path, lineLogCompaction: compacting, onWarning: (w) => warnings.push(w) })
    expect(warnings.join("\n")).toContain("line log compacted")
    expect(logSize()).toBe(a.length + openAt)
    const m = await machineOn(engine)
    expect(Buffer.compare(await m.exported(A), a)).toBe(0)
    expect(Buffer.compare(await m.exported(B), b.subarray(0, openAt))).toBe(0)
    const page = (await engine.listEntries(m.actor, A, { limit: 1000 }))!.entries
    expect(page).toEqual(pageBefore)
    expect((await engine.getEntry(m.actor, page[20]!.seq))!.entry.line).toBe(page[20]!.line)
    // B's open line was put last: its rest grows it in place.
    await m.append(B, b.subarray(openAt))
    expect(Buffer.compare(await m.exported(B), b)).toBe(0)
    expect(logSize()).toBe(a.length + b.length)
    engine.close()

    // Nothing left to reclaim: the next open does not compact.
    const again: string[] = []
    new SqliteEngine({ path, lineLogCompaction: compacting, onWarning: (w) => again.push(w) }).close()
    expect(again).toEqual([])
    expect(readdirSync(dir).filter((n) => n.includes(".compact-"))).toEqual([])
  })

  it("leaves the default thresholds alone below 64 MB of garbage", async () => {
    const { a } = await storeWithGarbage(path)
    const before = logSize()
    new SqliteEngine({ path, onWarning: () => {} }).close()
    expect(logSize()).toBe(before)
    expect(before).toBeGreaterThan(a.length)
  })

  const kills: [string, string, number][] = [
    ["while copying", "copy", 1],
    ["after the copy, before the switch commits", "switch", 1],
    ["after the switch committed, before the rename", "committed", 1],
    ["after the rename", "done", 1],
  ]
  for (const [when, stage, round] of kills) {
    it(`a compaction killed ${when} leaves a whole log, finished or dropped at the next open`, async () => {
      const at = join(dir, stage)
      mkdirSync(at)
      const db = join(at, "overlord.db")
      const { a, b, openAt } = await storeWithGarbage(db)
      const before = statSync(lineLogPath(db)).size
      const child = Bun.spawnSync([
        process.execPath,
        join(import.meta.dirname, "sqlite-line-log-compaction-child.ts"),
        db,
        stage,
        String(round),
      ])
      expect(child.signalCode).toBe("SIGKILL")

      // Opened without compacting: whichever log the database names is whole.
      const warnings: string[] = []
      const engine = new SqliteEngine({ path: db, lineLogCompaction: false, onWarning: (w) => warnings.push(w) })
      expect(warnings).toEqual([])
      const m = await machineOn(engine)
      expect(Buffer.compare(await m.exported(A), a)).toBe(0)
      expect(Buffer.compare(await m.exported(B), b.subarray(0, openAt))).toBe(0)
      const size = statSync(lineLogPath(db)).size
      // Killed before the switch committed: the old log, untouched; after: the new one.
      if (stage === "copy" || stage === "switch") expect(size).toBe(before)
      else expect(size).toBe(a.length + openAt)
      expect(readdirSync(at).filter((n) => n.includes(".compact-"))).toEqual([])
      await m.append(B, b.subarray(openAt))
      engine.close()

      // And a compaction run to its end afterwards reads the same.
      const done = new SqliteEngine({ path: db, lineLogCompaction: compacting, onWarning: () => {} })
      const d = await machineOn(done)
      expect(Buffer.compare(await d.exported(A), a)).toBe(0)
      expect(Buffer.compare(await d.exported(B), b)).toBe(0)
      expect(statSync(lineLogPath(db)).size).toBe(a.length + b.length)
      const generation = (
        new Database(db, { readonly: true })
          .query("SELECT value FROM meta WHERE key = 'line_log_generation'")
          .get() as {
          value: string
        }
      ).value
      expect(Number(generation)).toBeGreaterThanOrEqual(1)
      done.close()
    })
  }
})
