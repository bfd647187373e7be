/**
 * The store contract: every engine must pass it. Not a test file: each engine's own test file calls
 * `runStoreContract` (`sqlite-engine.test.ts`; `mysql-engine.test.ts`, `planetscale-engine.test.ts`).
 */
import { randomBytes } from "node:crypto"
import type { Sync } from "@overlord/protocol"
import { type Append, collectBytes, type Engine, type MachineActor } from "@overlord/store"
import { factsOfLines, type LineFacts, parseLine, UsageLedger, usageOf } from "@overlord/transcript"
import { afterEach, describe, expect, it } from "vitest"

export interface StoreContractOptions {
  /** `sqlite`, `mysql`, `planetscale`: names the suite. */
  readonly name: string
  /** A new engine on a new, empty database. The suite closes it after each case. */
  readonly makeEngine: () => Engine | Promise<Engine>
  /**
   * Two engines on one new, empty database (two processes, or two servers): the cases about what one
   * sees of the other's writes. Without it those cases are skipped.
   */
  readonly makeEnginePair?: () => Promise<readonly [Engine, Engine]>
  /** The token hashes the database holds (to check no plaintext is stored); without it, not checked. */
  readonly storedTokenHashes?: (engine: Engine) => Promise<readonly string[]>
  /** Skips the whole suite, e.g. when the database server it needs is not installed (say why). */
  readonly skip?: boolean | string
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

/** An assistant response in any session, on the main chain or a sidechain, with or without its session id. */
const response = (o: { sid: string | null; uuid: string; msgId: string; output: number; sidechain?: boolean }) =>
  JSON.stringify({
    type: "assistant",
    uuid: o.uuid,
    parentUuid: null,
    ...(o.sid ? { sessionId: o.sid } : {}),
    timestamp: "2026-11-01T10:00:01.000Z",
    isSidechain: o.sidechain ?? false,
    requestId: `req_${o.msgId}`,
    message: {
      id: o.msgId,
      role: "assistant",
      model: "claude-sonnet-4-5-20250929",
      content: [{ type: "text", text: "ok" }],
      usage: {
        input_tokens: 100,
        output_tokens: o.output,
        cache_creation_input_tokens: 10,
        cache_read_input_tokens: 1000,
      },
    },
  })

/** How an append's line facts reach the engine: computed by it, or given as a daemon computes them. */
type FactsSource = "computed by the store" | "given by the daemon"

async function setupWith(engine: Engine, facts: FactsSource, machineUid = "m-1") {
  const userId = await engine.ensureUser("alice")
  const opened = await engine.openMachine({ userId }, machineUid, "laptop")
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
    const [out] = await engine.append(actor, [{ header, payload, ...(given ? { facts: given } : {}) }])
    if (out!._tag === "Ack") offsets.set(fileKey, out!.cursor.offset)
    return out!
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

export function runStoreContract(options: StoreContractOptions): void {
  const opened: Engine[] = []
  const make = async () => {
    const engine = await options.makeEngine()
    opened.push(engine)
    return engine
  }
  afterEach(async () => {
    for (const engine of opened.splice(0)) await engine.close()
  })
  for (const facts of ["computed by the store", "given by the daemon"] as const) {
    const name = `${options.name}, line facts ${facts}`
    const setup = async (engine: Engine | Promise<Engine>) => setupWith(await engine, facts)
    describe.skipIf(Boolean(options.skip))(`store contract: ${name}`, () => {
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
        const [out] = await s.engine.append(s.actor, [{ header, payload: enc.encode("abc\n") }])
        if (!out) throw new Error("no outcome")
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

      it("stores compressible and incompressible lines over 1 MiB, whole and in pieces, byte for byte", async () => {
        // MySQL engines store a line's 1 MiB chunks zstd-compressed when that pays and raw when not
        // (`mysql/line-chunks.ts`): a repetitive line that arrives in pieces (its new bytes stored at its
        // old length, across chunk boundaries), then bytes that do not compress, then a short line.
        const s = await setup(make())
        const compressible = enc.encode(user("u1", "the sync engine's tests pass again. ".repeat(90_000)))
        const incompressible = randomBytes(3 * 1024 * 1024 + 77)
        for (let i = 0; i < incompressible.length; i++) if (incompressible[i] === 0x0a) incompressible[i] = 0x0b
        const short = enc.encode(`${assistant("a1", "msg_1", 5)}\n`)
        const file = new Uint8Array(compressible.length + 1 + incompressible.length + 1 + short.length)
        file.set(compressible)
        file[compressible.length] = 0x0a
        file.set(incompressible, compressible.length + 1)
        file[compressible.length + 1 + incompressible.length] = 0x0a
        file.set(short, file.length - short.length)
        // Pieces of 700,000 bytes up to the end of the first line, then the rest whole.
        for (let at = 0; at <= compressible.length; at += 700_000) {
          const end = Math.min(compressible.length + 1, at + 700_000)
          expect((await s.append(file.subarray(at, end)))._tag).toBe("Ack")
        }
        expect((await s.append(file.subarray(compressible.length + 1)))._tag).toBe("Ack")
        const exported = (await s.exported())!
        // Compared natively: vitest's deep equality walks 6 MB one element at a time (seconds).
        expect(exported.length).toBe(file.length)
        expect(Buffer.compare(Buffer.from(exported), Buffer.from(file))).toBe(0)
        const page = (await s.engine.listEntries(s.actor, SID, {}))!
        expect(page.entries).toHaveLength(3)
        expect(page.entries[0]!.line === new TextDecoder().decode(compressible)).toBe(true)
        expect(page.entries[2]!.kind).toBe("assistant")
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

      it("clears a file's gone mark when the daemon appends to it, resets it or says it is back", async () => {
        const s = await setup(make())
        const otherSid = "99999999-2222-3333-4444-555555555555"
        const other = `-home-dev-proj/${otherSid}.jsonl`
        await s.append(`${user("u1", "one")}\n`)
        await s.append(`${user("o1", "other")}\n`, other)
        const gone = async () => {
          const list = await s.engine.listSessions(s.actor, { limit: 10 })
          return Object.fromEntries(list.sessions.map((x) => [x.sessionId, x.sourceGone === true]))
        }
        await s.engine.markSourcesGone(s.actor, [KEY, other], "2026-11-02T00:00:00.000Z")
        expect(await gone()).toEqual({ [SID]: true, [otherSid]: true })
        // The file is back (its CLAUDE_CONFIG_DIR switched back): appended to, it is no longer gone;
        // the other file, not synced again, still is.
        expect((await s.append(`${user("u2", "two")}\n`))._tag).toBe("Ack")
        expect(await gone()).toEqual({ [SID]: false, [otherSid]: true })
        expect((await s.engine.getSession(s.actor, SID))!.session.sourceGone).toBeUndefined()
        // Gone again, then reset (the file was replaced): back too.
        await s.engine.markSourcesGone(s.actor, [KEY], "2026-11-03T00:00:00.000Z")
        expect(await gone()).toEqual({ [SID]: true, [otherSid]: true })
        expect((await s.reset(enc.encode(`${user("u1", "one")}\n`).length))._tag).toBe("Ack")
        expect(await gone()).toEqual({ [SID]: false, [otherSid]: true })
        // And marked gone once more, as the next cleanup would.
        await s.engine.markSourcesGone(s.actor, [KEY], "2026-11-04T00:00:00.000Z")
        expect(await gone()).toEqual({ [SID]: true, [otherSid]: true })
        // The welcome's cursors say which files are held as gone; a daemon that has one after all says
        // it is back (`markSourcesBack`), nothing appended.
        const welcomeGone = async () =>
          Object.fromEntries(
            (await s.engine.openMachine({ userId: s.actor.userId }, "m-1", "laptop")).cursors.map((c) => [
              c.fileKey,
              c.gone === true,
            ]),
          )
        expect(await welcomeGone()).toEqual({ [KEY]: true, [other]: true })
        await s.engine.markSourcesBack(s.actor, [other, "-home-dev-proj/not-held.jsonl"])
        expect(await gone()).toEqual({ [SID]: true, [otherSid]: false })
        expect(await welcomeGone()).toEqual({ [KEY]: true, [other]: false })
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

      it("cuts the usage report to its first rows by `limit`, says so, and totals every row", async () => {
        const s = await setup(make())
        const sids = ["aaaaaaaa-0000-0000-0000-000000000001", "bbbbbbbb-0000-0000-0000-000000000002"]
        const third = "cccccccc-0000-0000-0000-000000000003"
        // Output tokens set each session's cost: b (900) > c (500) > a (100).
        for (const [sid, output] of [
          [sids[0]!, 100],
          [sids[1]!, 900],
          [third, 500],
        ] as const) {
          const out = await s.append(
            `${response({ sid, uuid: `u-${sid}`, msgId: `m-${sid}`, output })}\n`,
            `-p/${sid}.jsonl`,
          )
          expect(out._tag).toBe("Ack")
        }
        const all = (await s.engine.usage(s.actor, { groupBy: "session" }))!
        expect(all.rows.map((r) => r.key)).toEqual([sids[1], third, sids[0]])
        expect(all.truncated).toBe(false)
        expect(all.totals.output).toBe(1500)
        expect(all.totals.messages).toBe(3)
        const top = (await s.engine.usage(s.actor, { groupBy: "session", limit: 2 }))!
        expect(top.rows).toEqual(all.rows.slice(0, 2))
        expect(top.truncated).toBe(true)
        expect(top.totals).toEqual({ ...all.totals, costUsd: expect.closeTo(all.totals.costUsd, 9) })
        // A limit that cuts nothing: every row, and their sums.
        const whole = (await s.engine.usage(s.actor, { groupBy: "session", limit: 3 }))!
        expect(whole).toEqual({ ...all, totals: { ...all.totals, costUsd: expect.closeTo(all.totals.costUsd, 9) } })
        // A filter on one session: its row and its totals only.
        const one = (await s.engine.usage(s.actor, { groupBy: "model", sessionId: third, limit: 1 }))!
        expect(one.truncated).toBe(false)
        expect(one.totals.output).toBe(500)
        const byDay = (await s.engine.usage(s.actor, { groupBy: "day", limit: 1 }))!
        expect(byDay.rows).toHaveLength(1)
        expect(byDay.totals.messages).toBe(3)
        const none = (await s.engine.usage(s.actor, { groupBy: "day", from: "2030-01-01", limit: 5 }))!
        expect(none.rows).toEqual([])
        expect(none.truncated).toBe(false)
        expect(none.totals.messages).toBe(0)
      })

      it("groups usage by session and project the same with shared session ids, ties, filters and days", async () => {
        const engine = await make()
        const a = await setupWith(engine, facts, "m-1")
        const b = await setupWith(engine, facts, "m-2")
        const at = (o: Parameters<typeof response>[0], ts: string) =>
          response(o).replace("2026-11-01T10:00:01.000Z", ts)
        const shared = "dddddddd-0000-0000-0000-000000000004"
        const [p, q, r] = [
          "eeeeeeee-0000-0000-0000-000000000005",
          "ffffffff-0000-0000-0000-000000000006",
          "(unattributed)",
        ]
        const day1 = "2026-11-01T10:00:01.000Z"
        const day2 = "2026-11-02T10:00:01.000Z"
        // One session on two machines (one row on each), its usage over two days and two projects.
        for (const [m, key, msg, output, ts] of [
          [a, `-p1/${shared}.jsonl`, "s1", 300, day1],
          [b, `-p2/${shared}.jsonl`, "s2", 200, day2],
        ] as const) {
          expect((await m.append(`${at({ sid: shared, uuid: `u-${msg}`, msgId: msg, output }, ts)}\n`, key))._tag).toBe(
            "Ack",
          )
        }
        // Two sessions that cost the same (the tie goes to the smaller key), one spanning two days.
        await a.append(
          `${at({ sid: p, uuid: "u-p1", msgId: "p1", output: 100 }, day1)}\n${at({ sid: p, uuid: "u-p2", msgId: "p2", output: 100 }, day2)}\n`,
          `-p1/${p}.jsonl`,
        )
        await b.append(`${at({ sid: q, uuid: "u-q1", msgId: "q1", output: 200 }, day1)}\n`, `-p2/${q}.jsonl`)
        // A session whose id reads "(unattributed)", and a message with no session at all: one row, as before.
        await a.append(`${at({ sid: r, uuid: "u-r1", msgId: "r1", output: 50 }, day1)}\n`, `-p3/${r}.jsonl`)
        await a.append(`${at({ sid: null, uuid: "u-n1", msgId: "n1", output: 20 }, day2)}\n`, "-p3/agent-a0b1c2d.jsonl")
        const keys = (rows: readonly { key: string; output: number; messages: number }[]) =>
          rows.map((row) => [row.key, row.output, row.messages])

        const bySession = (await engine.usage(a.actor, { groupBy: "session" }))!
        expect(keys(bySession.rows)).toEqual([
          [shared, 500, 2],
          [p, 200, 2],
          [q, 200, 1],
          [r, 70, 2],
        ])
        expect(bySession.totals.messages).toBe(7)
        const top = (await engine.usage(a.actor, { groupBy: "session", limit: 2 }))!
        expect(keys(top.rows)).toEqual(keys(bySession.rows).slice(0, 2))
        expect(top.truncated).toBe(true)
        expect(top.totals.output).toBe(bySession.totals.output)
        // Filters: a day, a project, a session; the shared session counts only what falls inside.
        const day2Only = (await engine.usage(a.actor, { groupBy: "session", from: "2026-11-02", to: "2026-11-02" }))!
        expect(keys(day2Only.rows)).toEqual([
          [shared, 200, 1],
          [p, 100, 1],
          ["(unattributed)", 20, 1],
        ])
        const p2Only = (await engine.usage(a.actor, { groupBy: "session", project: "-p2" }))!
        expect(keys(p2Only.rows)).toEqual([
          [shared, 200, 1],
          [q, 200, 1],
        ])
        const oneSession = (await engine.usage(a.actor, { groupBy: "session", sessionId: shared, limit: 1 }))!
        expect(keys(oneSession.rows)).toEqual([[shared, 500, 2]])
        expect(oneSession.truncated).toBe(false)

        const byProject = (await engine.usage(a.actor, { groupBy: "project" }))!
        expect(keys(byProject.rows)).toEqual([
          ["-p1", 500, 3],
          ["-p2", 400, 2],
          ["-p3", 70, 2],
        ])
        const projectTop = (await engine.usage(a.actor, { groupBy: "project", limit: 1, to: "2026-11-01" }))!
        expect(keys(projectTop.rows)).toEqual([["-p1", 400, 2]])
        expect(projectTop.truncated).toBe(true)
        expect(projectTop.totals.messages).toBe(4)
        const projectOfSession = (await engine.usage(a.actor, { groupBy: "project", sessionId: shared }))!
        expect(keys(projectOfSession.rows)).toEqual([
          ["-p1", 300, 1],
          ["-p2", 200, 1],
        ])
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

      it("searches only the given sessions of the user when told which (a grantee reading an owner's shares)", async () => {
        const s = await setup(make())
        const OTHER = "aaaaaaaa-0000-0000-0000-00000000000f"
        await s.append(`${user("u1", "shared marmot notes")}\n`)
        await s.append(
          `${user("u2", "private marmot plans").replaceAll(SID, OTHER)}\n`,
          `-home-dev-proj/${OTHER}.jsonl`,
        )
        while ((await s.engine.indexForSearch(100)) > 0) {}
        const all = (await s.engine.search(s.actor, "marmot", 10))!.hits
        expect(all.map((h) => h.sessionId).sort()).toEqual([SID, OTHER].sort())
        const within = (await s.engine.search(s.actor, "marmot", 10, [SID]))!.hits
        expect(within.map((h) => h.sessionId)).toEqual([SID])
        expect(within[0]!.snippet).toContain("shared")
        expect((await s.engine.search(s.actor, "marmot", 10, []))!.hits).toEqual([])
        // Another user's ids never widen a search beyond its own user.
        const bob = { userId: await s.engine.ensureUser("bob") }
        expect((await s.engine.search(bob, "marmot", 10, [SID, OTHER]))!.hits).toEqual([])
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

      it("indexes a line the indexer passed while it was still open once it ends (long and short)", async () => {
        // The indexer meets a line still arriving when it has caught up with the daemon; the line's
        // search row goes when it is continued, and it is indexed again once its newline is stored.
        const s = await setup(make())
        const sid2 = "aaaaaaaa-0000-0000-0000-00000000000e"
        const sid3 = "aaaaaaaa-0000-0000-0000-00000000000d"
        const long = user("u1", `pasted log quokkalong ${"lorem ipsum dolor ".repeat(150_000)}`)
        expect(long.length).toBeGreaterThan(2 * 1024 * 1024)
        const short = user("u1", "short wombatshort line").replaceAll(SID, sid2)
        await s.append(long.slice(0, 1024 * 1024))
        await s.append(short.slice(0, 30), `-home-dev-proj/${sid2}.jsonl`)
        while ((await s.engine.indexForSearch(100)) > 0) {}
        await s.append(long.slice(1024 * 1024, 2 * 1024 * 1024))
        // A line stored after the open ones, indexed before they end.
        await s.append(`${user("u2", "later numbatlater").replaceAll(SID, sid3)}\n`, `-home-dev-proj/${sid3}.jsonl`)
        while ((await s.engine.indexForSearch(100)) > 0) {}
        await s.append(`${long.slice(2 * 1024 * 1024)}\n`)
        await s.append(`${short.slice(30)}\n`, `-home-dev-proj/${sid2}.jsonl`)
        while ((await s.engine.indexForSearch(100)) > 0) {}
        for (const word of ["quokkalong", "wombatshort", "numbatlater"]) {
          const { hits, indexLag } = (await s.engine.search(s.actor, word, 10))!
          expect(indexLag).toBe(0)
          expect(hits, word).toHaveLength(1)
        }
      })

      it("stores token hashes only and refuses wrong, revoked-kind and reused tokens", async () => {
        const engine = await make()
        const userId = await engine.ensureUser("alice")
        const token = await engine.issueToken({ userId, kind: "login-link" })
        expect(await engine.verifyToken("nope", ["login-link"])).toBeNull()
        expect(await engine.verifyToken(token, ["machine"])).toBeNull()
        expect(await engine.consumeToken(token, "login-link")).toMatchObject({ userId })
        expect(await engine.consumeToken(token, "login-link")).toBeNull()
        if (options.storedTokenHashes) {
          const hashes = await options.storedTokenHashes(engine)
          expect(hashes.length).toBeGreaterThan(0)
          expect(hashes.every((h) => h !== token && /^[0-9a-f]{64}$/.test(h))).toBe(true)
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
        await s.engine.append(s.actor, [{ header: header(0, first, 1), payload: first, facts: [given] }])
        const open = enc.encode(user("u2", "a long line").slice(0, 40))
        await s.engine.append(s.actor, [{ header: header(first.length, open, 2), payload: open, facts: [null] }])
        const rest = enc.encode(`${user("u2", "a long line").slice(40)}\n`)
        const fragment: LineFacts = { kind: "fragment" }
        await s.engine.append(s.actor, [
          { header: header(first.length + open.length, rest, 3), payload: rest, facts: [fragment] },
        ])
        const page = (await s.engine.listEntries(s.actor, SID, {}))!
        expect(page.entries.map((e) => e.kind)).toEqual(["from-the-daemon", "user"])
      })

      it("keeps each session's usage totals equal to the messages it keeps, in any order and grouping", async () => {
        // A resumed session copies A's messages; a larger copy moves a message to B, a main-chain copy
        // beats a sidechain one of the same size, and a flat agent file counts in A only once a
        // record names its session.
        const SID_B = "99999999-8888-7777-6666-555555555555"
        const KEY_B = `-home-dev-proj/${SID_B}.jsonl`
        const AGENT = "-home-dev-proj/agent-a1b2c3d.jsonl"
        const files: Record<string, { sid: string; lines: string[] }> = {
          [KEY]: {
            sid: SID,
            lines: [
              response({ sid: SID, uuid: "a1", msgId: "msg_1", output: 10 }),
              response({ sid: SID, uuid: "a2", msgId: "msg_1", output: 441 }),
              response({ sid: SID, uuid: "a3", msgId: "msg_2", output: 7 }),
              response({ sid: SID, uuid: "a4", msgId: "msg_3", output: 5, sidechain: true }),
            ],
          },
          [KEY_B]: {
            sid: SID_B,
            lines: [
              response({ sid: SID_B, uuid: "b1", msgId: "msg_1", output: 441 }),
              response({ sid: SID_B, uuid: "b2", msgId: "msg_3", output: 5 }),
              response({ sid: SID_B, uuid: "b3", msgId: "msg_2", output: 50 }),
              response({ sid: SID_B, uuid: "b4", msgId: "msg_4", output: 1 }),
            ],
          },
          [AGENT]: {
            sid: SID,
            lines: [
              response({ sid: null, uuid: "c1", msgId: "msg_5", output: 20, sidechain: true }),
              response({ sid: null, uuid: "c2", msgId: "msg_4", output: 2, sidechain: true }),
              response({ sid: SID, uuid: "c3", msgId: "msg_6", output: 3, sidechain: true }),
            ],
          },
        }
        // Each order appends every file's lines in file order, one or two lines per append.
        const orders: [string, number][][] = [
          [
            [KEY, 2],
            [KEY, 2],
            [KEY_B, 4],
            [AGENT, 3],
          ],
          [
            [AGENT, 1],
            [KEY_B, 2],
            [AGENT, 2],
            [KEY, 1],
            [KEY_B, 2],
            [KEY, 3],
          ],
          [
            [KEY_B, 4],
            [AGENT, 3],
            [KEY, 4],
          ],
        ]
        for (const order of orders) {
          for (const grouping of ["one append per commit", "all in one group"] as const) {
            const engine = await make()
            const userId = await engine.ensureUser("alice")
            const actor: MachineActor = {
              userId,
              machineId: (await engine.openMachine({ userId }, "m-1", "m")).machineId,
            }
            const taken = new Map<string, number>()
            const offsets = new Map<string, number>()
            const ledger = new UsageLedger()
            const appends: Append[] = []
            for (const [fileKey, n] of order) {
              const from = taken.get(fileKey) ?? 0
              const lines = files[fileKey]!.lines.slice(from, from + n)
              taken.set(fileKey, from + n)
              for (const l of lines) ledger.add(files[fileKey]!.sid, usageOf(parseLine(l))!)
              const payload = enc.encode(lines.map((l) => `${l}\n`).join(""))
              const at = offsets.get(fileKey) ?? 0
              offsets.set(fileKey, at + payload.length)
              appends.push({
                header: {
                  type: "append",
                  seq: appends.length,
                  fileKey,
                  generation: 0,
                  identity: "1:1",
                  fromOffset: at,
                  toOffset: at + payload.length,
                },
                payload,
                ...(facts === "given by the daemon" ? { facts: factsOfLines(payload) } : {}),
              })
            }
            const outcomes =
              grouping === "all in one group"
                ? await engine.append(actor, appends)
                : (await Promise.all(appends.map((a) => engine.append(actor, [a])))).flat()
            expect(outcomes.map((o) => o._tag)).toEqual(appends.map(() => "Ack"))
            const expected = ledger.totalsByScope()
            for (const sid of [SID, SID_B]) {
              const usage = (await engine.getSession(actor, sid))!.session.usage
              const want = expected.get(sid)!
              const where = `${sid} after ${JSON.stringify(order)}, ${grouping}`
              expect({ ...usage, costUsd: 0 }, where).toEqual({
                input: want.input,
                output: want.output,
                cacheWrite: want.cacheWrite,
                cacheRead: want.cacheRead,
                costUsd: 0,
              })
              expect(usage.costUsd, where).toBeCloseTo(want.costUsd, 9)
            }
          }
        }
      })

      it("stores nothing of a group when any append in it fails, and forgets what the failure undid", async () => {
        const s = await setup(make())
        const SID_X = "aaaaaaaa-0000-0000-0000-000000000001"
        const SID_Y = "aaaaaaaa-0000-0000-0000-000000000002"
        const appendOf = (sid: string, bad: boolean): Append => {
          const payload = enc.encode(`${user("u1", "hi").replaceAll(SID, sid)}\n`)
          return {
            header: {
              type: "append",
              seq: 1,
              fileKey: `-home-dev-proj/${sid}.jsonl`,
              generation: 0,
              identity: "1:1",
              fromOffset: 0,
              toOffset: payload.length,
            },
            payload,
            // Facts no daemon could send past the server's check: the engine fails binding them.
            ...(bad ? { facts: [{ kind: {} as unknown as string }] } : {}),
          }
        }
        await expect(async () =>
          s.engine.append(s.actor, [appendOf(SID_X, false), appendOf(SID_Y, true)]),
        ).rejects.toThrow()
        expect(await s.engine.getSession(s.actor, SID_X)).toBeNull()
        expect((await s.engine.listSessions(s.actor, {})).sessions).toHaveLength(0)
        // The session row the failure undid had an id that now goes to another session.
        const [out] = await s.engine.append(s.actor, [appendOf(SID_Y, false)])
        expect(out?._tag === "Ack" && out.stored[0]?.sessionId).toBe(SID_Y)
        const [again] = await s.engine.append(s.actor, [appendOf(SID_X, false)])
        expect(again?._tag === "Ack" && again.stored[0]?.sessionId).toBe(SID_X)
      })

      it("after a reset, a line left open is verified or superseded like any other", async () => {
        const s = await setup(make())
        const l1 = `${user("u1", "one")}\n`
        const l2 = user("u2", "two, still being written")
        // The file ends in a line without its newline: it stays open, to be continued.
        await s.append(l1 + l2.slice(0, 30))
        // Rewritten meanwhile: the same first line, the second now whole.
        expect((await s.reset(enc.encode(l1 + l2).length + 1))._tag).toBe("Ack")
        const out = await s.append(`${l1}${l2}\n`)
        expect(out._tag).toBe("Ack")
        expect(new TextDecoder().decode((await s.exported())!)).toBe(`${l1}${l2}\n`)
        const page = (await s.engine.listEntries(s.actor, SID, {}))!
        expect(page.entries.map((e) => [e.lineNo, e.kind, e.line])).toEqual([
          [0, "user", l1.trimEnd()],
          [1, "user", l2],
        ])
        const detail = (await s.engine.getSession(s.actor, SID))!
        expect(detail.session.entryCount).toBe(2)
        expect(detail.files[0]!.entryCount).toBe(2)
        // And the line goes on growing from where the file now stands, not from the old open line.
        const l3 = `${user("u3", "three")}\n`
        await s.append(l3)
        expect(new TextDecoder().decode((await s.exported())!)).toBe(`${l1}${l2}\n${l3}`)
      })

      it("after a reset that cuts a line left open, the re-read line replaces it", async () => {
        const s = await setup(make())
        const l1 = `${user("u1", "one")}\n`
        const l2 = user("u2", "two, being written")
        await s.append(l1 + l2.slice(0, 40))
        // The file now ends inside the open line's stored bytes.
        expect((await s.reset(enc.encode(l1).length + 10))._tag).toBe("Ack")
        const l2b = `${user("u2b", "two, rewritten")}\n`
        await s.append(l1 + l2b)
        expect(new TextDecoder().decode((await s.exported())!)).toBe(l1 + l2b)
        const page = (await s.engine.listEntries(s.actor, SID, {}))!
        expect(page.entries.map((e) => e.line)).toEqual([l1.trimEnd(), l2b.trimEnd()])
        expect((await s.engine.getSession(s.actor, SID))!.session.entryCount).toBe(2)
      })

      it.skipIf(!options.makeEnginePair)("gives seqs in commit order across two engines on one database", async () => {
        const [one, two] = await options.makeEnginePair!()
        opened.push(one, two)
        const a = await setupWith(one, facts, "m-1")
        const b = await setupWith(two, facts, "m-2")
        const SID_B = "99999999-8888-7777-6666-555555555555"
        const KEY_B = `-home-dev-proj/${SID_B}.jsonl`
        let head = 0
        const seen: number[] = []
        for (let i = 0; i < 6; i++) {
          for (const [m, key, sid] of [
            [a, KEY, SID],
            [b, KEY_B, SID_B],
          ] as const) {
            const out = await m.append(`${user(`u${i}`, `line ${i}`).replaceAll(SID, sid)}\n`, key)
            if (out._tag !== "Ack") throw new Error(`rejected: ${out.reason}`)
            const seqs = out.stored.map((r) => r.seq)
            // Each commit's seqs come after every seq committed before it, whichever engine stored it.
            for (const seq of seqs) expect(seq).toBeGreaterThan(head)
            head = Math.max(head, ...seqs)
            seen.push(...seqs)
            expect(await one.headSeq(a.actor)).toBe(head)
            expect(await two.headSeq(b.actor)).toBe(head)
          }
        }
        // Appends committed at the same time still get distinct seqs, each group's in its own order.
        // (Each to a file of its own: one file's appends follow each other's offsets.)
        const sidOf = (m: number, i: number) => `aaaaaaaa-0000-0000-000${m}-00000000000${i}`
        const outs = await Promise.all(
          [0, 1, 2].flatMap((i) =>
            ([a, b] as const).map((m, n) =>
              m.append(
                `${user(`x${i}`, "together").replaceAll(SID, sidOf(n, i))}\n`,
                `-home-dev-proj/${sidOf(n, i)}.jsonl`,
              ),
            ),
          ),
        )
        for (const out of outs) {
          if (out._tag !== "Ack") throw new Error(`rejected: ${out.reason}`)
          seen.push(...out.stored.map((r) => r.seq))
        }
        expect(new Set(seen).size).toBe(seen.length)
        // The live feed's question, "everything after seq N", finds each line once, from either engine.
        const mid = seen[5]!
        for (const engine of [one, two]) {
          const sessions = [SID, SID_B, ...[0, 1, 2].flatMap((i) => [sidOf(0, i), sidOf(1, i)])]
          const after: number[] = []
          for (const sid of sessions) {
            const page = (await engine.listEntries(a.actor, sid, { allFiles: true, after: mid, limit: 1000 }))!
            after.push(...page.entries.map((e) => e.seq))
          }
          expect(after.sort((x, y) => x - y)).toEqual(seen.filter((s) => s > mid).sort((x, y) => x - y))
        }
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

      it("counts a session's subagent entries apart from its main transcript's, with or without one", async () => {
        const s = await setup(make())
        const agentKey = `-home-dev-proj/${SID}/subagents/agent-a6c0688.jsonl`
        const agentLine = (uuid: string) =>
          JSON.stringify({
            type: "user",
            uuid,
            parentUuid: null,
            isSidechain: true,
            agentId: "a6c0688",
            sessionId: SID,
            timestamp: "2026-11-01T10:00:00.000Z",
            message: { role: "user", content: "count the walruses" },
          })
        // Only the subagent's file: its main transcript never synced (walkthrough-5's "0 entries").
        await s.append(`${agentLine("x1")}\n${agentLine("x2")}\n`, agentKey)
        const counts = async () => {
          const [summary] = (await s.engine.listSessions({ userId: s.actor.userId }, {})).sessions
          const detail = (await s.engine.getSession(s.actor, SID))!.session
          expect(detail).toEqual(summary)
          return [summary!.entryCount, summary!.subagentCount, summary!.subagentEntryCount]
        }
        expect(await counts()).toEqual([0, 1, 2])
        await s.append(`${user("u1", "hi")}\n`)
        expect(await counts()).toEqual([1, 1, 2])
      })
    })
  }
}
