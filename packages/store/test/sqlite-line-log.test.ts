/**
 * The SQLite engine keeps line bytes in the line log beside the database (`line-log.ts`): each byte is
 * written once, read back exactly, survives a log that lost its tail (a power loss) without a line lost
 * or doubled, and databases from before the log are moved into it.
 */
import { Database } from "bun:sqlite"
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Sync } from "@overlord/protocol"
import { collectBytes, type MachineActor } from "@overlord/store"
import { SqliteEngine } from "@overlord/store/sqlite"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { lineLogPath } from "../src/line-log.ts"
import { SQLITE_MIGRATIONS } from "../src/sqlite/schema.ts"

const enc = new TextEncoder()
const dec = new TextDecoder()
const SID = "11111111-2222-3333-4444-555555555555"
const OTHER = "99999999-2222-3333-4444-555555555555"
const keyOf = (sid: string) => `-home-dev-proj/${sid}.jsonl`

const userLine = (sid: string, n: number, pad = 0) =>
  JSON.stringify({
    type: "user",
    uuid: `u-${sid.slice(0, 4)}-${n}`,
    parentUuid: null,
    sessionId: sid,
    timestamp: `2026-11-01T10:00:${String(n % 60).padStart(2, "0")}.000Z`,
    message: { role: "user", content: `prompt ${n} ${"x".repeat(pad)}` },
  })
const assistantLine = (sid: string, n: number) =>
  JSON.stringify({
    type: "assistant",
    uuid: `a-${sid.slice(0, 4)}-${n}`,
    parentUuid: null,
    sessionId: sid,
    timestamp: "2026-11-01T10:00:01.000Z",
    requestId: `req_${sid.slice(0, 4)}_${n}`,
    message: {
      id: `msg_${sid.slice(0, 4)}_${n}`,
      role: "assistant",
      model: "claude-sonnet-4-5-20250929",
      content: [{ type: "text", text: "ok" }],
      usage: { input_tokens: 100, output_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    },
  })
/** A session file's text: prompts and answers, `n` of each. */
const sessionText = (sid: string, n: number, pad = 0) => {
  let text = ""
  for (let i = 0; i < n; i++) text += `${userLine(sid, i, pad)}\n${assistantLine(sid, i)}\n`
  return text
}

let dir: string
let path: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "overlord-line-log-"))
  path = join(dir, "overlord.db")
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

/** A machine that appends files' bytes from wherever the engine says each file stands. */
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
  /** Sends what the engine does not have yet of `source`, in pieces of `chunk` bytes. */
  const sync = async (sid: string, source: Uint8Array, chunk = 64 * 1024) => {
    for (let at = offsets.get(keyOf(sid)) ?? 0; at < source.length; at += chunk) {
      await append(sid, source.subarray(at, Math.min(source.length, at + chunk)))
    }
  }
  const exported = async (sid: string) => collectBytes((await engine.exportFile(actor, sid, keyOf(sid)))!)
  const session = async (sid: string) => (await engine.getSession(actor, sid))!.session
  return { actor, offsets, append, sync, exported, session }
}

describe("SQLite line log", () => {
  it("writes each line's bytes once, beside the database, and reads them back exactly", async () => {
    const engine = new SqliteEngine({ path })
    const m = await machineOn(engine)
    const source = enc.encode(sessionText(SID, 200, 300))
    await m.sync(SID, source, 10_000)
    // Nothing but this file was appended: the log is the file.
    expect(Buffer.compare(readFileSync(lineLogPath(path)), source)).toBe(0)
    const db = (engine as unknown as { db: Database }).db
    const columns = (db.query("PRAGMA table_info(entries)").all() as { name: string }[]).map((c) => c.name)
    expect(columns).not.toContain("raw")
    expect(await m.exported(SID)).toEqual(new Uint8Array(source))
    // An export reads runs of lines, not one line at a time.
    const chunks: Uint8Array[] = []
    for await (const c of (await engine.exportFile(m.actor, SID, keyOf(SID)))!) chunks.push(c)
    expect(chunks.length).toBeLessThan(10)
    const page = (await engine.listEntries(m.actor, SID, { limit: 1000 }))!
    expect(page.entries.map((e) => e.line)).toEqual(sessionText(SID, 200, 300).trimEnd().split("\n"))
    expect((await engine.getEntry(m.actor, page.entries[7]!.seq))!.entry.line).toBe(page.entries[7]!.line)
    engine.close()
  })

  it("keeps a line that arrives in pieces whole, whether or not other files' lines came between", async () => {
    const engine = new SqliteEngine({ path })
    const m = await machineOn(engine)
    const long = `${userLine(SID, 1, 200_000)}\n`
    const a = enc.encode(`${userLine(SID, 0)}\n${long}${assistantLine(SID, 1)}\n`)
    const b = enc.encode(sessionText(OTHER, 50))
    // Pieces of the long line, first alone in the log's tail, then with the other file's lines between.
    const cuts = [0, 900, 50_000, 100_000, 150_000, a.length]
    for (let i = 0; i + 1 < cuts.length; i++) {
      await m.append(SID, a.subarray(cuts[i], cuts[i + 1]))
      const at = m.offsets.get(keyOf(OTHER)) ?? 0
      if (i >= 2) await m.append(OTHER, b.subarray(at, at + 1000))
    }
    await m.sync(OTHER, b)
    expect(await m.exported(SID)).toEqual(new Uint8Array(a))
    expect(await m.exported(OTHER)).toEqual(new Uint8Array(b))
    const lines = (await engine.listEntries(m.actor, SID, {}))!.entries
    expect(lines.map((e) => [e.kind, e.line.length])).toEqual([
      ["user", userLine(SID, 0).length],
      ["user", long.length - 1],
      ["assistant", assistantLine(SID, 1).length],
    ])
    expect((await m.session(SID)).entryCount).toBe(3)
    engine.close()
  })

  it("rolls back, and takes again, the lines a log lost after a power cut, none lost or doubled", async () => {
    const first = new SqliteEngine({ path })
    const m1 = await machineOn(first)
    const a = enc.encode(sessionText(SID, 40))
    const b = enc.encode(sessionText(OTHER, 40))
    await m1.sync(SID, a, 4000)
    await m1.sync(OTHER, b, 4000)
    const before = { a: await m1.session(SID), b: await m1.session(OTHER) }
    first.close()

    // The database reached the disk, the last ~6 KB of the log did not: they belonged to OTHER's file.
    const logSize = statSync(lineLogPath(path)).size
    expect(logSize).toBe(a.length + b.length)
    truncateSync(lineLogPath(path), logSize - 6000)

    const warnings: string[] = []
    const second = new SqliteEngine({ path, onWarning: (w) => warnings.push(w) })
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain("1 file(s) rolled back")
    const m2 = await machineOn(second)
    // SID is whole; OTHER stands at the start of its first line the log lost.
    expect(m2.offsets.get(keyOf(SID))).toBe(a.length)
    const otherAt = m2.offsets.get(keyOf(OTHER))!
    expect(otherAt).toBeLessThanOrEqual(b.length - 6000)
    expect(otherAt).toBeGreaterThan(b.length - 6000 - 2000)
    expect(b[otherAt - 1]).toBe(0x0a)
    expect((await m2.session(OTHER)).entryCount).toBeLessThan(80)

    // The daemon sends the rest again, as after any reconnect.
    await m2.sync(OTHER, b, 4000)
    expect(await m2.exported(SID)).toEqual(new Uint8Array(a))
    expect(await m2.exported(OTHER)).toEqual(new Uint8Array(b))
    const after = { a: await m2.session(SID), b: await m2.session(OTHER) }
    expect(after.a.entryCount).toBe(80)
    expect(after.b.entryCount).toBe(80)
    expect(after.b.usage).toEqual(before.b.usage)
    expect(after.a.usage).toEqual(before.a.usage)
    second.close()

    // Repaired once: the next open finds nothing to repair.
    const third = new SqliteEngine({ path, onWarning: (w) => warnings.push(w) })
    expect(warnings).toHaveLength(1)
    third.close()
  })

  it("a new database starts a new log, whatever a deleted one left", async () => {
    const first = new SqliteEngine({ path })
    await (await machineOn(first)).sync(SID, enc.encode(sessionText(SID, 10)))
    first.close()
    for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true })
    const second = new SqliteEngine({ path })
    const m = await machineOn(second)
    const source = enc.encode(sessionText(OTHER, 3))
    await m.sync(OTHER, source)
    expect(Buffer.compare(readFileSync(lineLogPath(path)), source)).toBe(0)
    second.close()
  })

  it("two engines on one database (two processes) append after each other's lines", async () => {
    const one = new SqliteEngine({ path })
    const two = new SqliteEngine({ path })
    const m1 = await machineOn(one)
    const a = enc.encode(sessionText(SID, 30))
    const b = enc.encode(sessionText(OTHER, 30))
    const m2 = await machineOn(two)
    for (let at = 0; at < Math.max(a.length, b.length); at += 1500) {
      if (at < a.length) await m1.append(SID, a.subarray(at, Math.min(a.length, at + 1500)))
      if (at < b.length) await m2.append(OTHER, b.subarray(at, Math.min(b.length, at + 1500)))
    }
    expect(await m2.exported(SID)).toEqual(new Uint8Array(a))
    expect(await m1.exported(OTHER)).toEqual(new Uint8Array(b))
    // Neither wrote over the other's lines; a line left open by one is appended again, whole, when its
    // rest comes after the other's lines.
    expect(statSync(lineLogPath(path)).size).toBeGreaterThanOrEqual(a.length + b.length)
    one.close()
    two.close()
  })

  it("a group that fails writes nothing, not even later over another connection's lines", async () => {
    const one = new SqliteEngine({ path })
    const two = new SqliteEngine({ path })
    const m1 = await machineOn(one)
    const m2 = await machineOn(two)
    const x = enc.encode(sessionText(SID, 3))
    const appendOf = (bad: boolean) => ({
      header: {
        type: "append" as const,
        seq: 1,
        fileKey: keyOf(bad ? OTHER : SID),
        generation: 0,
        identity: "1:1",
        fromOffset: 0,
        toOffset: x.length,
      },
      payload: x,
      // Facts the engine fails binding, after the good append's lines were queued for the log.
      ...(bad ? { facts: [{ kind: {} as unknown as string }] } : {}),
    })
    await expect(async () => one.append(m1.actor, [appendOf(false), appendOf(true)])).rejects.toThrow()
    const z = enc.encode(sessionText(OTHER, 3))
    await m2.sync(OTHER, z)
    // A read on the first connection must not write what its failed group had queued.
    expect(await m1.exported(OTHER)).toEqual(new Uint8Array(z))
    expect(await m2.exported(OTHER)).toEqual(new Uint8Array(z))
    expect(Buffer.compare(readFileSync(lineLogPath(path)), z)).toBe(0)
    one.close()
    two.close()
  })

  it("moves the lines of a database from before the log into it", async () => {
    const old = new Database(path, { strict: true })
    for (const migration of SQLITE_MIGRATIONS.slice(0, 4)) old.run(migration as string)
    old.run("PRAGMA user_version = 4")
    old.run("INSERT INTO users (id, name, created_at) VALUES (1, 'alice', '2026-11-01')")
    old.run(
      "INSERT INTO machines (id, user_id, machine_uid, name, created_at) VALUES (1, 1, 'm-1', 'laptop', '2026-11-01')",
    )
    old.run(
      `INSERT INTO sessions (id, user_id, machine_id, session_uid, project_dir) VALUES (1, 1, 1, '${SID}', '-home-dev-proj')`,
    )
    const lines = sessionText(SID, 5).trimEnd().split("\n")
    const last = lines.pop()!
    old
      .query(
        "INSERT INTO files (id, user_id, machine_id, file_key, session_id, layout, offset, live_end, line_count, open_seq) VALUES (1, 1, 1, ?, 1, 'main', ?, ?, ?, ?)",
      )
      .run(keyOf(SID), 0, 0, 0, null)
    let offset = 0
    const insert = old.query(
      "INSERT INTO entries (user_id, file_id, session_id, line_no, byte_offset, terminated, raw, kind) VALUES (1, 1, 1, ?, ?, ?, ?, 'user')",
    )
    // Stored out of byte order, and the file's last line still open (no newline yet).
    const rows = [...lines.map((l, i) => ({ l, i, terminated: 1 })), { l: last, i: lines.length, terminated: 0 }]
    const offsets: number[] = []
    for (const r of rows) {
      offsets.push(offset)
      offset += r.l.length + r.terminated
    }
    for (const k of [3, 0, 2, 1, 4, 5, 6, 7, 8, 9])
      insert.run(k, offsets[k]!, rows[k]!.terminated, enc.encode(rows[k]!.l))
    old
      .query("UPDATE files SET offset = ?, live_end = ?, line_count = 10, open_seq = 10 WHERE id = 1")
      .run(offset, offset)
    old.close()

    const engine = new SqliteEngine({ path })
    const db = (engine as unknown as { db: Database }).db
    expect((db.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(
      SQLITE_MIGRATIONS.length,
    )
    const m = await machineOn(engine)
    const text = `${lines.join("\n")}\n${last}`
    expect(dec.decode(await m.exported(SID))).toBe(text)
    // The open line goes on where it stopped.
    await m.append(SID, enc.encode("\n"))
    expect(dec.decode(await m.exported(SID))).toBe(`${text}\n`)
    const entries = (await engine.listEntries(m.actor, SID, {}))!.entries
    expect([...entries].sort((x, y) => x.byteOffset - y.byteOffset).map((e) => e.line)).toEqual([...lines, last])
    engine.close()
  })
})
