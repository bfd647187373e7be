/**
 * The store contract: every engine must pass it. Today it runs on SQLite; the MySQL and
 * PlanetScale engines will be added to `engines` below.
 */
import type { Sync } from "@overlord/protocol"
import { collectBytes, type Engine, type MachineActor, SqliteEngine } from "@overlord/store"
import { factsOfLines, type LineFacts } from "@overlord/transcript"
import { describe, expect, it } from "vitest"

const engines: Record<string, () => Engine> = {
  sqlite: () => new SqliteEngine({ path: ":memory:" }),
}

const enc = new TextEncoder()
const SID = "11111111-2222-3333-4444-555555555555"
const KEY = `-home-dev-proj/${SID}.jsonl`

const user = (uuid: string, text: string, ts = "2026-11-01T10:00:00.000Z") =>
  JSON.stringify({
    type: "user",
    uuid,
    parentUuid: null,
    sessionId: SID,
    cwd: "/home/dev/proj",
    timestamp: ts,
    isSidechain: false,
    message: { role: "user", content: text },
  })
const assistant = (uuid: string, msgId: string, output: number, ts = "2026-11-01T10:00:01.000Z") =>
  JSON.stringify({
    type: "assistant",
    uuid,
    parentUuid: null,
    sessionId: SID,
    timestamp: ts,
    isSidechain: false,
    requestId: `req_${msgId}`,
    message: {
      id: msgId,
      role: "assistant",
      model: "claude-sonnet-4-5-20250929",
      content: [{ type: "text", text: "hello" }],
      usage: {
        input_tokens: 100,
        output_tokens: output,
        cache_creation_input_tokens: 10,
        cache_read_input_tokens: 1000,
      },
    },
  })

/** How an append's line facts reach the engine: computed by it, or given as a daemon computes them. */
type FactsSource = "computed by the store" | "given by the daemon"

async function setupWith(engine: Engine, facts: FactsSource) {
  const userId = await engine.ensureUser("alice")
  const opened = await engine.openMachine({ userId }, "m-1", "laptop")
  const actor: MachineActor = { userId, machineId: opened.machineId }
  const offsets = new Map<string, number>()
  let generation = 0
  let seq = 0
  const append = async (text: string | Uint8Array, fileKey = KEY) => {
    const payload = typeof text === "string" ? enc.encode(text) : text
    const header: Sync.AppendHeader = {
      type: "append",
      seq: seq++,
      fileKey,
      generation,
      identity: "1:1",
      fromOffset: offsets.get(fileKey) ?? 0,
      toOffset: (offsets.get(fileKey) ?? 0) + payload.length,
    }
    const given = facts === "given by the daemon" ? factsOfLines(payload) : undefined
    const out = await engine.append(actor, header, payload, given)
    if (out._tag === "Ack") offsets.set(fileKey, out.cursor.offset)
    return out
  }
  const reset = async (size: number) => {
    generation += 1
    offsets.set(KEY, 0)
    return engine.reset(actor, {
      type: "reset",
      fileKey: KEY,
      generation,
      identity: "1:2",
      size,
      reason: "replaced",
    })
  }
  const exported = async () => {
    const chunks = await engine.exportFile(actor, SID, KEY)
    return chunks ? collectBytes(chunks) : null
  }
  return { engine, actor, append, reset, exported }
}

for (const [engineName, makeEngine] of Object.entries(engines)) {
  for (const facts of ["computed by the store", "given by the daemon"] as const) {
    const name = `${engineName}, line facts ${facts}`
    const make = makeEngine
    const setup = (engine: Engine) => setupWith(engine, facts)
    describe(`store contract: ${name}`, () => {
      it("stores lines once and exports them byte for byte", async () => {
        const s = await setup(make())
        const text = `${user("u1", "first prompt")}\n${assistant("a1", "msg_1", 5)}\n`
        expect((await s.append(text))._tag).toBe("Ack")
        expect(new TextDecoder().decode((await s.exported())!)).toBe(text)
        const page = (await s.engine.listEntries(s.actor, SID, {}))!
        expect(page.entries.map((e) => [e.kind, e.lineNo])).toEqual([
          ["user", 0],
          ["assistant", 1],
        ])
      })

      it("rejects an append that does not start at the stored offset, storing nothing", async () => {
        const s = await setup(make())
        await s.append(`${user("u1", "x")}\n`)
        const header: Sync.AppendHeader = {
          type: "append",
          seq: 9,
          fileKey: KEY,
          generation: 0,
          identity: "1:1",
          fromOffset: 0,
          toOffset: 4,
        }
        const out = (await s.engine.append(s.actor, header, enc.encode("abc\n")))!
        expect(out._tag).toBe("Rejected")
        expect(out.cursor.offset).toBe(enc.encode(`${user("u1", "x")}\n`).length)
        expect((await s.engine.getSession(s.actor, SID))!.files[0]!.entryCount).toBe(1)
      })

      it("continues an open line across appends (huge lines, idle fragments)", async () => {
        const s = await setup(make())
        const line = user("u1", "x".repeat(10_000))
        await s.append(line.slice(0, 3000))
        await s.append(line.slice(3000, 7000))
        await s.append(`${line.slice(7000)}\n`)
        const page = (await s.engine.listEntries(s.actor, SID, {}))!
        expect(page.entries).toHaveLength(1)
        expect(page.entries[0]!.kind).toBe("user")
        expect(page.entries[0]!.line).toBe(line)
        expect(new TextDecoder().decode((await s.exported())!)).toBe(`${line}\n`)
        const detail = (await s.engine.getSession(s.actor, SID))!
        expect(detail.session.entryCount).toBe(1)
        expect(detail.files[0]!.entryCount).toBe(1)
      })

      it("keeps invalid UTF-8 and a final line without newline byte for byte", async () => {
        const s = await setup(make())
        const bytes = new Uint8Array([...enc.encode('{"type":"user","x":"'), 0xff, 0xfe, ...enc.encode('"}\n{"a":1}')])
        await s.append(bytes)
        expect(await s.exported()).toEqual(bytes)
      })

      it("after a reset, re-reading identical lines stores nothing twice and drops what the file lost", async () => {
        const s = await setup(make())
        const l1 = `${user("u1", "one")}\n`
        const l2 = `${user("u2", "two")}\n`
        const l3 = `${user("u3", "three")}\n`
        await s.append(l1 + l2 + l3)
        // The file was rewritten without its last line (Claude Code removing a message).
        expect((await s.reset(enc.encode(l1 + l2).length))._tag).toBe("Ack")
        await s.append(l1 + l2)
        expect(new TextDecoder().decode((await s.exported())!)).toBe(l1 + l2)
        // And replaced by a file whose second line differs.
        const l2b = `${user("u2b", "two, edited")}\n`
        await s.reset(enc.encode(l1 + l2b).length)
        await s.append(l1 + l2b)
        expect(new TextDecoder().decode((await s.exported())!)).toBe(l1 + l2b)
        const page = (await s.engine.listEntries(s.actor, SID, {}))!
        expect(page.entries.map((e) => e.lineNo)).toEqual([0, 1])
      })

      it("deduplicates usage by message id and request id, keeping the largest total", async () => {
        const s = await setup(make())
        await s.append(
          `${assistant("a1", "msg_1", 10)}\n${assistant("a2", "msg_1", 441)}\n${assistant("a3", "msg_2", 7)}\n`,
        )
        const detail = (await s.engine.getSession(s.actor, SID))!
        expect(detail.session.usage.output).toBe(441 + 7)
        expect(detail.session.usage.input).toBe(200)
        const report = (await s.engine.usage(s.actor, { groupBy: "model" }))!
        expect(report.rows).toEqual([expect.objectContaining({ key: "claude-sonnet-4-5-20250929", messages: 2 })])
      })

      it("scopes every read to its user", async () => {
        const s = await setup(make())
        await s.append(`${user("u1", "secret plan")}\n`)
        await s.engine.indexForSearch(100)
        const bob = { userId: await s.engine.ensureUser("bob") }
        expect(await s.engine.getSession(bob, SID)).toBeNull()
        expect(await s.engine.listEntries(bob, SID, {})).toBeNull()
        expect(await s.engine.exportFile(bob, SID, KEY)).toBeNull()
        expect((await s.engine.listSessions(bob, {}))!.sessions).toHaveLength(0)
        expect((await s.engine.search(bob, "secret", 10))!.hits).toHaveLength(0)
        expect((await s.engine.search(s.actor, "secret", 10))!.hits).toHaveLength(1)
      })

      it("indexes for search in short batches that together cover every line", async () => {
        const s = await setup(make())
        // Large lines make a batch stop at its time budget, well before its count.
        const filler = "lorem ipsum dolor ".repeat(20_000)
        const lines = Array.from({ length: 60 }, (_, i) => `${user(`u${i}`, `needle${i} ${filler}`)}\n`)
        await s.append(lines.join(""))
        const batches: number[] = []
        for (let n = await s.engine.indexForSearch(1000); n > 0; n = await s.engine.indexForSearch(1000))
          batches.push(n)
        expect(batches.reduce((a, b) => a + b, 0)).toBe(60)
        expect(batches.length).toBeGreaterThan(1)
        for (const i of [0, 29, 59]) {
          const { hits, indexLag } = (await s.engine.search(s.actor, `needle${i}`, 10))!
          expect(indexLag).toBe(0)
          expect(hits).toHaveLength(1)
        }
      })

      it("stores token hashes only and refuses wrong, revoked-kind and reused tokens", async () => {
        const engine = make()
        const userId = await engine.ensureUser("alice")
        const token = await engine.issueToken({ userId, kind: "login-link" })
        expect(await engine.verifyToken("nope", ["login-link"])).toBeNull()
        expect(await engine.verifyToken(token, ["machine"])).toBeNull()
        expect(await engine.consumeToken(token, "login-link")).toMatchObject({ userId })
        expect(await engine.consumeToken(token, "login-link")).toBeNull()
        if (engine instanceof SqliteEngine) {
          const db = (engine as unknown as { db: import("bun:sqlite").Database }).db
          const rows = db.query("SELECT token_hash FROM tokens").all() as { token_hash: string }[]
          expect(rows.every((r) => r.token_hash !== token && /^[0-9a-f]{64}$/.test(r.token_hash))).toBe(true)
        }
      })

      it("stores the facts a daemon gives, and works out those of a line it continues", async () => {
        const s = await setup(make())
        const header = (fromOffset: number, payload: Uint8Array, seq: number): Sync.AppendHeader => ({
          type: "append",
          seq,
          fileKey: KEY,
          generation: 0,
          identity: "1:1",
          fromOffset,
          toOffset: fromOffset + payload.length,
        })
        // Facts that differ from what the line says show which ones the engine stored.
        const first = enc.encode(`${user("u1", "hi")}\n`)
        const given: LineFacts = { kind: "from-the-daemon", sessionId: SID }
        await s.engine.append(s.actor, header(0, first, 1), first, [given])
        const open = enc.encode(user("u2", "a long line").slice(0, 40))
        await s.engine.append(s.actor, header(first.length, open, 2), open, [null])
        const rest = enc.encode(`${user("u2", "a long line").slice(40)}\n`)
        const fragment: LineFacts = { kind: "fragment" }
        await s.engine.append(s.actor, header(first.length + open.length, rest, 3), rest, [fragment])
        const page = (await s.engine.listEntries(s.actor, SID, {}))!
        expect(page.entries.map((e) => e.kind)).toEqual(["from-the-daemon", "user"])
      })

      it("links a flat agent file to its parent session through its records", async () => {
        const s = await setup(make())
        const agentKey = "-home-dev-proj/agent-a1b2c3d.jsonl"
        const line = `${JSON.stringify({ type: "user", uuid: "x1", parentUuid: null, isSidechain: true, agentId: "a1b2c3d", sessionId: SID, timestamp: "2026-11-01T10:00:00.000Z", message: { role: "user", content: "Warmup" } })}\n`
        await s.append(`${user("u1", "hi")}\n`)
        await s.append(line, agentKey)
        const detail = (await s.engine.getSession(s.actor, SID))!
        expect(detail.files.map((f) => f.agentId)).toEqual([null, "a1b2c3d"])
        const sub = (await s.engine.listEntries(s.actor, SID, { agentId: "a1b2c3d" }))!
        expect(sub.entries).toHaveLength(1)
      })
    })
  }
}
