/**
 * The engine-independent ingest core: its decisions are pure functions over plain rows, a group costs
 * a constant number of dialect calls whatever its line count (PlanetScale's ~20 ms per statement is why),
 * and the same core run asynchronously (as over a MySQL driver) stores exactly what it stores synchronously.
 */
import {
  type Append,
  appendGroup,
  collectBytes,
  type FileRow,
  type IngestTx,
  type KeptUsageRow,
  type MachineActor,
  runAsync,
} from "@overlord/store"
import { SqliteEngine } from "@overlord/store/sqlite"
import { analyzeLine, type LineFacts } from "@overlord/transcript"
import { describe, expect, it } from "vitest"
import { sketchGroup, type UsageEvent } from "../src/ingest/decide.ts"
import { decideUsage } from "../src/ingest/usage.ts"
import type { SqliteIngest } from "../src/sqlite/ingest-dialect.ts"

const enc = new TextEncoder()
const sid = (n: number) => `11111111-2222-3333-4444-${String(n).padStart(12, "0")}`
const keyOf = (n: number) => `-home-dev-proj/${sid(n)}.jsonl`

const userLine = (s: string, n: number) =>
  JSON.stringify({
    type: "user",
    uuid: `u-${n}`,
    parentUuid: null,
    sessionId: s,
    cwd: "/home/dev/proj",
    timestamp: "2026-11-01T10:00:00.000Z",
    message: { role: "user", content: `prompt ${n}` },
  })
const assistantLine = (s: string, n: number, output = 10) =>
  JSON.stringify({
    type: "assistant",
    uuid: `a-${n}`,
    parentUuid: null,
    sessionId: s,
    timestamp: "2026-11-01T10:00:01.000Z",
    requestId: `req_${n}`,
    message: {
      id: `msg_${n}`,
      role: "assistant",
      model: "claude-sonnet-4-5-20250929",
      content: [{ type: "text", text: "ok" }],
      usage: { input_tokens: 100, output_tokens: output, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    },
  })

const file = (over: Partial<FileRow> = {}): FileRow => ({
  id: 1,
  user_id: 1,
  machine_id: 1,
  file_key: keyOf(1),
  session_id: 1,
  agent_id: null,
  layout: "main",
  generation: 0,
  offset: 0,
  identity: "1:1",
  live_end: 0,
  line_count: 0,
  open_seq: null,
  ...over,
})
const appendOf = (fileKey: string, fromOffset: number, text: string, generation = 0): Append => {
  const payload = enc.encode(text)
  return {
    header: {
      type: "append",
      seq: 0,
      fileKey,
      generation,
      identity: "1:1",
      fromOffset,
      toOffset: fromOffset + payload.length,
    },
    payload,
  }
}

describe("ingest core: decisions over plain rows", () => {
  it("accepts appends that follow each other from the stored offset and counts their new lines", () => {
    const f = file({ offset: 10, live_end: 10, open_seq: 7 })
    const files = new Map([[f.file_key, f]])
    const sketch = sketchGroup(
      [
        appendOf(f.file_key, 10, 'x"}\n{"a":1}\n{"b'),
        appendOf(f.file_key, 0, "stale\n"),
        appendOf(f.file_key, 25, '":2}\n'),
      ],
      files,
    )
    expect(sketch.pieces.map((p) => p?.length ?? null)).toEqual([3, null, 1])
    // The first piece of each accepted append continues an open line: 3 + 1 pieces, 2 continued.
    expect(sketch.newLines).toBe(2)
    // The stored open line is read: this group ends it.
    expect(sketch.openLines).toEqual(new Map([[7, true]]))
    // The rejection comes after an accepted append of the same file: its tail is not the stored one.
    expect(sketch.storedTails.size).toBe(0)
  })

  it("keeps the largest copy of a message, moves totals with it, and counts a flat agent file's once it joins", () => {
    const facts = (line: string): LineFacts => analyzeLine(enc.encode(line))
    const stored: KeptUsageRow = {
      dedup_key: "msg_1:req_1",
      session_id: 5,
      entry_seq: 1,
      input: 100,
      output: 10,
      cacheWrite: 0,
      cacheRead: 0,
      costUsd: 0.1,
      total: 110,
      is_sidechain: 0,
    }
    const events: UsageEvent[] = [
      // A larger copy in session 6 replaces session 5's.
      { type: "line", seq: 10, fileId: 2, sessionId: 6, projectDir: "-p", facts: facts(assistantLine("s", 1, 50)) },
      // A smaller copy changes nothing.
      { type: "line", seq: 11, fileId: 2, sessionId: 6, projectDir: "-p", facts: facts(assistantLine("s", 1, 20)) },
      // A flat agent file's message, of no session yet, then the file joins session 5.
      { type: "line", seq: 12, fileId: 3, sessionId: null, projectDir: "-p", facts: facts(assistantLine("s", 2, 5)) },
      { type: "attach", fileId: 3, sessionId: 5 },
    ]
    const orphan: KeptUsageRow = { ...stored, dedup_key: "msg_9:req_9", session_id: null, entry_seq: 3, output: 1 }
    const d = decideUsage({ userId: 1, events, kept: [stored], orphans: new Map([[3, [orphan]]]) })
    expect(d.usage.map((u) => [u.dedup_key, u.replace, u.session_id, u.output])).toEqual([
      ["msg_1:req_1", true, 6, 50],
      ["msg_2:req_2", false, 5, 5],
    ])
    // The stored orphan is not rewritten, only moved.
    expect(d.usageMoves).toEqual([{ userId: 1, dedupKey: "msg_9:req_9", sessionId: 5 }])
    expect(d.totals.get(5)?.output).toBe(-10 + 5 + 1)
    expect(d.totals.get(6)?.output).toBe(50)
  })
})

/** Counts the dialect calls a group makes. */
function counting(tx: IngestTx): { tx: IngestTx; calls: Map<string, number> } {
  const calls = new Map<string, number>()
  const wrapped = new Proxy(tx, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver)
      if (typeof value !== "function" || typeof key !== "string") return value
      return (...args: unknown[]) => {
        calls.set(key, (calls.get(key) ?? 0) + 1)
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  })
  return { tx: wrapped, calls }
}
const total = (calls: Map<string, number>) => [...calls.values()].reduce((a, b) => a + b, 0)

async function machine(engine: SqliteEngine): Promise<MachineActor> {
  const userId = await engine.ensureUser("alice")
  return { userId, machineId: (await engine.openMachine({ userId }, "m-1", "laptop")).machineId }
}
const ingestOf = (engine: SqliteEngine) => (engine as unknown as { ingest: SqliteIngest }).ingest

/** `files` files, each `lines` lines of prompt and answer, the last one cut in two across two appends. */
function group(files: number, lines: number, first: number): { appends: Append[]; rest: Append[] } {
  const appends: Append[] = []
  const rest: Append[] = []
  for (let f = first; f < first + files; f++) {
    let text = ""
    for (let i = 0; i < lines; i++) text += `${userLine(sid(f), i)}\n${assistantLine(sid(f), f * 100_000 + i)}\n`
    const cut = text.length - 40
    appends.push(appendOf(keyOf(f), 0, text.slice(0, cut)))
    rest.push(appendOf(keyOf(f), cut, text.slice(cut)))
  }
  return { appends, rest }
}

describe("ingest core: calls per group", () => {
  it("makes the same few dialect calls for a group of 40 lines and one of 40,000", async () => {
    const counts: number[] = []
    for (const [n, first] of [
      [5, 1],
      [5000, 100],
    ] as const) {
      const engine = new SqliteEngine({ path: ":memory:" })
      const actor = await machine(engine)
      const ingest = ingestOf(engine)
      // New files, then the same files again: lines left open continued, usage already kept looked up.
      const { appends, rest } = group(4, n, first)
      for (const batch of [appends, [...rest, ...group(4, n, first + 50).appends]]) {
        const { tx, calls } = counting(ingest)
        const outcomes = ingest.transaction(() => appendGroup(tx, actor, batch))
        expect(outcomes.every((o) => o._tag === "Ack")).toBe(true)
        counts.push(total(calls))
      }
      engine.close()
    }
    // loadFiles, ensureSessions, insertFiles, loadSessions, (loadEntries, readLines), allocateSeqs,
    // loadKeptUsage, write: never one per line or per file.
    expect(counts[0]).toBe(counts[2])
    expect(counts[1]).toBe(counts[3])
    for (const c of counts) expect(c).toBeLessThanOrEqual(10)
  })

  it("stores the same run asynchronously, one await per call, as a MySQL driver would", async () => {
    const results: unknown[] = []
    for (const mode of ["sync", "async"] as const) {
      const engine = new SqliteEngine({ path: ":memory:" })
      const actor = await machine(engine)
      const ingest = ingestOf(engine)
      const asyncTx = new Proxy(ingest, {
        get(target, key, receiver) {
          const value = Reflect.get(target, key, receiver)
          if (typeof value !== "function") return value
          return (...args: unknown[]) =>
            Promise.resolve().then(() => (value as (...a: unknown[]) => unknown).apply(target, args))
        },
      }) as unknown as IngestTx
      const { appends, rest } = group(3, 20, 1)
      for (const batch of [appends, rest]) {
        const outcomes =
          mode === "sync" ? engine.append(actor, batch) : await runAsync(appendGroup(asyncTx, actor, batch))
        expect(outcomes.map((o) => o._tag)).toEqual(batch.map(() => "Ack"))
      }
      const sessions = []
      for (const f of [1, 2, 3]) {
        const detail = engine.getSession(actor, sid(f))!
        const exported = await collectBytes(engine.exportFile(actor, sid(f), keyOf(f))!)
        sessions.push({ ...detail.session, exported: exported.length, entries: engine.listEntries(actor, sid(f), {}) })
      }
      results.push(sessions)
      engine.close()
    }
    expect(results[1]).toEqual(results[0])
  })
})
