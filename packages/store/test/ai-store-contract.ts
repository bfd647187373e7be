/**
 * The `AiStore` contract (issue #13): generated titles and chunk vectors, the same in every engine.
 * Not a test file: each engine's test file calls `runAiStoreContract`.
 */
import type { Sync } from "@overlord/protocol"
import type { Actor, AiChunk, AiStore, Engine, MachineActor } from "@overlord/store"
import { afterEach, describe, expect, it } from "vitest"

export interface AiStoreContractOptions {
  readonly name: string
  /** A new engine on a new, empty database; closed after each case. */
  readonly makeEngine: () => Engine | Promise<Engine>
}

const enc = new TextEncoder()

const userLine = (sid: string, uuid: string, text: string, ts: string) =>
  JSON.stringify({
    type: "user",
    uuid,
    parentUuid: null,
    sessionId: sid,
    cwd: "/home/dev/proj",
    timestamp: ts,
    isSidechain: false,
    message: { role: "user", content: text },
  })

/** A float32 little-endian blob (what `@overlord/ai`'s `vectorToBlob` writes). */
const blob = (values: readonly number[]) => {
  const out = new Uint8Array(values.length * 4)
  const view = new DataView(out.buffer)
  for (const [i, v] of values.entries()) view.setFloat32(i * 4, v, true)
  return out
}

async function setup(engine: Engine, userName: string, machineUid: string) {
  const userId = await engine.ensureUser(userName)
  const opened = await engine.openMachine({ userId }, machineUid, "laptop")
  const actor: MachineActor = { userId, machineId: opened.machineId }
  const offsets = new Map<string, number>()
  let frame = 0
  let lineNo = 0
  /** Appends `count` user lines to the session's file, each a minute after the last. */
  const lines = async (project: string, sid: string, count: number, extra: string[] = []) => {
    const fileKey = `${project}/${sid}.jsonl`
    const texts = Array.from({ length: count }, () => {
      lineNo++
      const ts = new Date(Date.UTC(2026, 10, 1, 10, lineNo)).toISOString()
      return userLine(sid, `u-${sid}-${lineNo}`, `prompt ${lineNo} about ${sid}`, ts)
    })
    const payload = enc.encode(`${[...texts, ...extra].join("\n")}\n`)
    const from = offsets.get(fileKey) ?? 0
    const header: Sync.AppendHeader = {
      type: "append",
      seq: frame++,
      fileKey,
      generation: 0,
      identity: "1:1",
      fromOffset: from,
      toOffset: from + payload.length,
    }
    const [out] = await engine.append(actor, [{ header, payload }])
    if (out?._tag !== "Ack") throw new Error(`append rejected: ${JSON.stringify(out)}`)
    offsets.set(fileKey, out.cursor.offset)
  }
  return { actor, lines }
}

export function runAiStoreContract(options: AiStoreContractOptions): void {
  describe(`AiStore contract: ${options.name}`, () => {
    const open: Engine[] = []
    afterEach(async () => {
      for (const e of open.splice(0)) await e.close()
    })
    const make = async (): Promise<{ engine: Engine; ai: AiStore }> => {
      const engine = await options.makeEngine()
      open.push(engine)
      if (!engine.ai) throw new Error(`${engine.name} keeps no AI data`)
      return { engine, ai: engine.ai }
    }
    const keyOf = async (ai: AiStore, actor: Actor, sid: string) => {
      const found = (await ai.aiSessions(actor, {})).find((s) => s.sessionId === sid)
      if (!found) throw new Error(`no session ${sid}`)
      return found.sessionKey
    }

    it("lists sessions needing work newest first, and not again once titled and embedded", async () => {
      const { engine, ai } = await make()
      const { actor, lines } = await setup(engine, "alice", "m-1")
      await lines("-p-a", "s-old", 3)
      await lines("-p-a", "s-new", 2)
      const custom = JSON.stringify({ type: "custom-title", customTitle: "My own", sessionId: "s-own" })
      await lines("-p-a", "s-own", 1, [custom])
      const pending = await ai.pendingSessions(10)
      const sids = await ai.aiSessions(actor, {})
      const sidOf = (key: string) => sids.find((s) => s.sessionKey === key)?.sessionId
      expect(pending.map((c) => sidOf(c.sessionKey))).toEqual(["s-own", "s-new", "s-old"])
      const own = pending.find((c) => sidOf(c.sessionKey) === "s-own")!
      expect(own.hasOwnTitle).toBe(true)
      const old = pending.find((c) => sidOf(c.sessionKey) === "s-old")!
      expect(old).toMatchObject({ hasOwnTitle: false, entryCount: 3, titledAtEntries: null, embeddedThroughSeq: null })

      await ai.saveTitle(old.sessionKey, {
        title: "Old work",
        summary: "It was old.",
        model: "llama3.2",
        entryCount: 3,
      })
      await ai.saveChunks(old.sessionKey, [], old.lastSeq, "nomic-embed-text")
      expect((await ai.pendingSessions(10)).map((c) => sidOf(c.sessionKey))).not.toContain("s-old")

      // Grown by new lines: embeddings are due at once, the title only once grown materially (20 entries).
      await lines("-p-a", "s-old", 1)
      const grown = (await ai.pendingSessions(10)).find((c) => c.sessionKey === old.sessionKey)!
      expect(grown).toMatchObject({ entryCount: 4, titledAtEntries: 3, embeddedThroughSeq: old.lastSeq })
      expect(grown.lastSeq).toBeGreaterThan(old.lastSeq)
    })

    it("gives a session's lines in seq order, after a seq when asked", async () => {
      const { engine, ai } = await make()
      const { actor, lines } = await setup(engine, "alice", "m-1")
      await lines("-p-a", "s-1", 3)
      const key = await keyOf(ai, actor, "s-1")
      const all = await ai.sessionLines(key, null)
      expect(all).toHaveLength(3)
      expect(JSON.parse(all[0]!.line).message.content).toBe("prompt 1 about s-1")
      expect(all.map((l) => l.seq)).toEqual([...all.map((l) => l.seq)].sort((a, b) => a - b))
      expect(await ai.sessionLines(key, all[0]!.seq)).toEqual(all.slice(1))
    })

    it("keeps chunk vectors byte for byte and scopes every read to its user", async () => {
      const { engine, ai } = await make()
      const alice = await setup(engine, "alice", "m-1")
      const bob = await setup(engine, "bob", "m-2")
      await alice.lines("-p-a", "s-a", 2)
      await bob.lines("-p-b", "s-b", 2)
      const keyA = await keyOf(ai, alice.actor, "s-a")
      const keyB = await keyOf(ai, bob.actor, "s-b")
      expect(await ai.aiSessions(alice.actor, {}, [keyB])).toEqual([])
      const linesA = await ai.sessionLines(keyA, null)
      const chunks: AiChunk[] = [
        { seq: linesA[0]!.seq, role: "user", text: "first chunk", vector: blob([1, 0, 0, 0]) },
        { seq: linesA[1]!.seq, role: "assistant", text: "second chunk", vector: blob([0, 0.6, 0.8, 0]) },
      ]
      await ai.saveChunks(keyA, chunks, linesA[1]!.seq, "nomic-embed-text")
      await ai.saveChunks(keyB, [{ seq: 1, role: "user", text: "bob's", vector: blob([0, 0, 0, 1]) }], 99, "m")
      const vectors = await ai.vectorsAfter(0, 100)
      expect(vectors.map((v) => [v.userId, v.sessionKey])).toEqual([
        [alice.actor.userId, keyA],
        [alice.actor.userId, keyA],
        [bob.actor.userId, keyB],
      ])
      expect([...vectors[1]!.vector]).toEqual([...chunks[1]!.vector])
      expect(vectors[0]!.chunkId).toBeLessThan(vectors[1]!.chunkId)
      expect(await ai.vectorsAfter(vectors[1]!.chunkId, 100)).toHaveLength(1)
      const texts = await ai.chunkTexts(
        alice.actor,
        vectors.map((v) => v.chunkId),
      )
      expect(texts.map((t) => t.text).sort()).toEqual(["first chunk", "second chunk"])
      expect(await ai.aiProgress(alice.actor)).toEqual({ sessions: 1, titled: 0, embeddedSessions: 1, chunks: 2 })
    })

    it("shows generated titles to their owner only, and filters sessions like the session list", async () => {
      const { engine, ai } = await make()
      const alice = await setup(engine, "alice", "m-1")
      const bob = await setup(engine, "bob", "m-2")
      await alice.lines("-p-a", "s-1", 2)
      await alice.lines("-p-b", "s-2", 2)
      await bob.lines("-p-a", "s-1", 2)
      const key = await keyOf(ai, alice.actor, "s-1")
      await ai.saveTitle(key, { title: "Fix the thing", summary: "Fixed.", model: "llama3.2", entryCount: 2 })
      await ai.saveTitle(key, { title: "Fix the thing well", summary: "Fixed well.", model: "llama3.2", entryCount: 2 })
      expect(await ai.generatedTitles(alice.actor, ["s-1", "s-2"])).toEqual([
        { sessionId: "s-1", machineId: "m-1", title: "Fix the thing well", summary: "Fixed well.", model: "llama3.2" },
      ])
      expect(await ai.generatedTitles(bob.actor, ["s-1"])).toEqual([])
      expect((await ai.aiSessions(alice.actor, { project: "-p-b" })).map((s) => s.sessionId)).toEqual(["s-2"])
      expect(await ai.aiSessions(alice.actor, { machine: "m-2" })).toEqual([])
      const titled = (await ai.aiSessions(alice.actor, { project: "-p-a" }))[0]!
      expect(titled).toMatchObject({ sessionId: "s-1", machineId: "m-1", projectDir: "-p-a" })
      expect(await ai.aiSessions(alice.actor, { from: "2030-01-01T00:00:00.000Z" })).toEqual([])
    })
  })
}
