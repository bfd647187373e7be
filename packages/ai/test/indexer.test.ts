import { type FakeOllama, startFakeOllama } from "@overlord/testkit/fake-ollama"
import { Effect, Fiber } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import {
  type EmbeddedChunk,
  type GeneratedTitleRecord,
  type IndexCandidate,
  type Indexer,
  type IndexerOptions,
  type IndexerStatus,
  type IndexerStore,
  makeIndexer,
} from "../src/indexer.ts"
import { layer, makeOllamaClient, type OllamaConfig } from "../src/ollama-client.ts"
import type { SessionLine } from "../src/session-digest.ts"
import { needsTitle } from "../src/titles.ts"
import { blobToVector, cosine, reciprocalRankFusion, VectorIndex } from "../src/vectors.ts"
import { assistant, migrationSession, readmeSession, uploadSession, userPrompt } from "./session-fixture.ts"

interface MemorySession {
  updatedAt: string
  lines: SessionLine[]
  hasOwnTitle: boolean
  title: GeneratedTitleRecord | null
  chunks: EmbeddedChunk[]
  embeddedThroughSeq: number | null
}

/** The port as an engine would implement it, in memory, with the package's own rules. */
class MemoryIndexStore implements IndexerStore {
  readonly sessions = new Map<string, MemorySession>()
  readonly saves: string[] = []
  failing = false
  private seq = 0

  add(key: string, lines: readonly string[], updatedAt: string, hasOwnTitle = false): void {
    this.sessions.set(key, { updatedAt, lines: [], hasOwnTitle, title: null, chunks: [], embeddedThroughSeq: null })
    this.append(key, lines, updatedAt)
  }

  append(key: string, lines: readonly string[], updatedAt?: string): void {
    const s = this.sessions.get(key)!
    for (const line of lines) s.lines.push({ seq: ++this.seq, line })
    if (updatedAt) s.updatedAt = updatedAt
  }

  candidate(key: string): IndexCandidate {
    const s = this.sessions.get(key)!
    return {
      sessionKey: key,
      updatedAt: s.updatedAt,
      entryCount: s.lines.length,
      lastSeq: s.lines.at(-1)?.seq ?? 0,
      hasOwnTitle: s.hasOwnTitle,
      titledAtEntries: s.title?.entryCount ?? null,
      embeddedThroughSeq: s.embeddedThroughSeq,
    }
  }

  pendingSessions = async (limit: number) => {
    if (this.failing) throw new Error("database is locked")
    return [...this.sessions.keys()]
      .map((key) => this.candidate(key))
      .filter((c) => needsTitle(c) || c.embeddedThroughSeq === null || c.lastSeq > c.embeddedThroughSeq)
      .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))
      .slice(0, limit)
  }

  sessionLines = async (key: string, afterSeq: number | null) =>
    this.sessions.get(key)!.lines.filter((l) => afterSeq === null || l.seq > afterSeq)

  saveTitle = async (key: string, title: GeneratedTitleRecord) => {
    this.saves.push(`title ${key}`)
    this.sessions.get(key)!.title = title
  }

  saveChunks = async (key: string, chunks: readonly EmbeddedChunk[], throughSeq: number, _model: string) => {
    this.saves.push(`chunks ${key}`)
    const s = this.sessions.get(key)!
    s.chunks.push(...chunks)
    s.embeddedThroughSeq = throughSeq
  }
}

let fake: FakeOllama | undefined
let fiber: Fiber.Fiber<never> | undefined
afterEach(async () => {
  if (fiber) await Effect.runPromise(Fiber.interrupt(fiber))
  fiber = undefined
  await fake?.stop()
  fake = undefined
})

const setup = (options: IndexerOptions = {}, config: Partial<OllamaConfig> = {}) => {
  fake = startFakeOllama()
  const store = new MemoryIndexStore()
  store.add("upload", uploadSession(), "2026-11-03T10:00:00Z")
  store.add("readme", readmeSession(), "2026-11-02T10:00:00Z")
  store.add("migration", migrationSession(), "2026-11-01T10:00:00Z", true)
  const indexer = makeIndexer(store, { concurrency: 1, minBackoffMs: 20, maxBackoffMs: 100, idleMs: 50, ...options })
  const ollama = layer({
    url: fake.url,
    chatModel: "llama3.2",
    embedModel: "nomic-embed-text",
    timeoutMs: 5_000,
    ...config,
  })
  const once = () => Effect.runPromise(indexer.runOnce.pipe(Effect.provide(ollama)))
  const runForever = () => {
    fiber = Effect.runFork(indexer.run.pipe(Effect.provide(ollama)))
  }
  return { fake, store, indexer, once, runForever }
}

/** Polls the indexer's status until `done` holds (the test's own timeout bounds the wait). */
async function until(indexer: Indexer, done: (s: IndexerStatus) => boolean): Promise<IndexerStatus> {
  for (;;) {
    const s = indexer.status()
    if (done(s)) return s
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe("indexer against the fake Ollama (real client) and an in-memory port", () => {
  it("titles sessions without their own, embeds all, newest first, and caches", async () => {
    const { fake, store, once, indexer } = setup()
    const pass = await once()
    expect(pass).toMatchObject({ titled: 2, embeddedSessions: 3, failed: 0, handled: 3, stoppedBy: null })
    expect(store.saves).toEqual(["title upload", "chunks upload", "title readme", "chunks readme", "chunks migration"])
    const upload = store.sessions.get("upload")!
    expect(upload.title?.title.toLowerCase()).toContain("upload")
    expect(upload.title?.summary.split(". ").length).toBeGreaterThanOrEqual(2)
    expect(upload.title).toMatchObject({ model: "llama3.2", entryCount: 6 })
    expect(store.sessions.get("migration")!.title).toBeNull()
    // Each chunk knows its line and carries a 100-dimension float32 blob.
    expect(upload.chunks.map((c) => c.seq)).toEqual([1, 2, 2, 4, 4, 6])
    expect(upload.chunks.every((c) => c.vector.byteLength === 400)).toBe(true)
    expect(indexer.status()).toMatchObject({ state: "working", titled: 2, embeddedSessions: 3, reason: null })

    const chats = fake.count("POST /api/chat")
    const embeds = fake.count("POST /api/embed")
    expect(chats).toBe(2)
    expect(await once()).toMatchObject({ titled: 0, embeddedSessions: 0, handled: 0 })
    expect(fake.count("POST /api/chat")).toBe(chats)
    expect(fake.count("POST /api/embed")).toBe(embeds)
    expect(indexer.status().state).toBe("idle")
  })

  it("re-titles only after material growth, and embeds only the new lines", async () => {
    const { fake, store, once } = setup()
    await once()
    const upload = store.sessions.get("upload")!
    const chunksBefore = upload.chunks.length

    store.append("upload", [userPrompt("Also retry the upload when the network times out")], "2026-11-03T11:00:00Z")
    await once()
    expect(fake.count("POST /api/chat")).toBe(2) // 7 entries vs 6: not material
    expect(upload.chunks.length).toBe(chunksBefore + 1)
    expect(upload.chunks.at(-1)).toMatchObject({ seq: 12, role: "user" })

    const timeout = "The upload retry on network timeout is done: timeout timeout timeout."
    store.append("upload", [assistant(timeout), assistant(timeout)], "2026-11-03T12:00:00Z")
    await once()
    expect(fake.count("POST /api/chat")).toBe(3) // 9 entries vs 6: +50 %
    expect(upload.title?.entryCount).toBe(9)
    expect(upload.title?.title.toLowerCase()).toContain("timeout")
  })

  it("reports Ollama down with a clear status, then catches up when it returns", async () => {
    const { fake, store, indexer, once, runForever } = setup()
    await fake.down()
    const pass = await once()
    expect(pass.stoppedBy).toContain("not reachable")
    expect(indexer.status()).toMatchObject({ state: "ollama-unavailable" })
    expect(indexer.status().reason).toContain(`not reachable at ${fake.url}`)
    expect(indexer.status().lastError).toMatch(/^OllamaUnreachable/)
    expect(store.saves).toEqual([])

    runForever()
    await until(indexer, (s) => s.retryAt !== null)
    fake.up()
    const caughtUp = await until(indexer, (s) => s.titled === 2 && s.embeddedSessions === 3)
    expect(caughtUp.reason).toBeNull()
    expect(store.sessions.get("readme")!.title?.title).toBeTruthy()
  })

  it("starts the next pass at once when woken instead of waiting out the idle pause", async () => {
    const { store, indexer, runForever } = setup({ idleMs: 10 * 60_000 })
    runForever()
    await until(indexer, (s) => s.state === "idle")
    store.add("late", [userPrompt("Rename the flaky upload test helper")], "2026-11-05T10:00:00Z")
    indexer.wake()
    const done = await until(indexer, (s) => s.titled === 3)
    expect(done.embeddedSessions).toBe(4)
    expect(store.sessions.get("late")!.title?.title.toLowerCase()).toContain("rename")
  })

  it("reports a slow Ollama as a timeout and recovers when it is fast again", async () => {
    const { fake, indexer, once } = setup({}, { timeoutMs: 200 })
    fake.setDelay(5_000)
    const pass = await once()
    expect(pass.stoppedBy).toContain("did not answer within 200 ms")
    expect(indexer.status()).toMatchObject({ state: "ollama-unavailable" })
    expect(indexer.status().lastError).toMatch(/^OllamaTimeout/)
    fake.setDelay(0)
    expect(await once()).toMatchObject({ titled: 2, embeddedSessions: 3 })
  })

  it("survives garbage: unusable titles are skipped per session, broken JSON stops the pass", async () => {
    const { fake, store, indexer, once } = setup()
    fake.setGarbage("nonsense")
    const pass = await once()
    // Titles are garbage and embeddings are empty lists: every part fails, nothing is saved, nothing throws.
    expect(pass).toMatchObject({ titled: 0, embeddedSessions: 0, failed: 5, stoppedBy: null })
    expect(indexer.status().lastError).toMatch(/^(TitleAnswerInvalid|OllamaBadResponse)/)
    expect(store.saves).toEqual([])
    // Skipped until they change: the next pass asks Ollama nothing about them.
    const chats = fake.count("POST /api/chat")
    await once()
    expect(fake.count("POST /api/chat")).toBe(chats)

    fake.setGarbage("invalid-json")
    const broken = await once()
    expect(broken.stoppedBy).toContain("answered something unexpected")
    expect(indexer.status().state).toBe("ollama-unavailable")

    fake.setGarbage(null)
    store.append("upload", [userPrompt("one more thing about the upload")], "2026-11-04T10:00:00Z")
    expect(await once()).toMatchObject({ titled: 1, embeddedSessions: 1, handled: 1 })
    expect(store.sessions.get("upload")!.title).not.toBeNull()
  })

  it("says which models are missing and still does what it can", async () => {
    const { fake, store, indexer, once } = setup()
    fake.setModels(["llama3.2"])
    const pass = await once()
    expect(pass).toMatchObject({ titled: 2, embeddedSessions: 0 })
    expect(indexer.status().reason).toContain("ollama pull nomic-embed-text")
    expect(store.sessions.get("upload")!.chunks).toEqual([])
    fake.setModels([])
    expect((await once()).stoppedBy).toContain("lacks llama3.2 and nomic-embed-text")
    expect(indexer.status().state).toBe("models-missing")
    // Pulled at last: the sessions that waited for the embedding model are embedded at once.
    fake.setModels(["llama3.2", "nomic-embed-text"])
    expect(await once()).toMatchObject({ titled: 0, embeddedSessions: 3 })
    expect(store.sessions.get("upload")!.chunks.length).toBeGreaterThan(0)
  })

  it("turns a failing store into a status, not an exception", async () => {
    const { store, indexer, once } = setup()
    store.failing = true
    const pass = await once()
    expect(pass.stoppedBy).toContain("database is locked")
    expect(indexer.status()).toMatchObject({ state: "store-error" })
    store.failing = false
    expect((await once()).handled).toBe(3)
  })

  it("feeds hybrid search: vector hits fused with full-text hits say which part matched", async () => {
    const { fake, store, once } = setup()
    await once()
    const index = new VectorIndex<{ session: string; seq: number }>(100)
    for (const [session, s] of store.sessions) {
      for (const chunk of s.chunks) index.add({ session, seq: chunk.seq }, blobToVector(chunk.vector))
    }
    const [query] = await Effect.runPromise(
      makeOllamaClient({
        url: fake.url,
        chatModel: "llama3.2",
        embedModel: "nomic-embed-text",
        timeoutMs: 5_000,
      }).embed(["repair intermittent file upload failures in tests"]),
    )
    const vectorHits = index.topK(query!, 5)
    expect(vectorHits[0]?.key.session).toBe("upload")
    // What a full-text index would answer for the word "README".
    const textHits = [{ session: "readme", seq: store.sessions.get("readme")!.lines[0]!.seq }]
    const fused = reciprocalRankFusion(
      [
        { source: "vector", items: vectorHits.map((h) => h.key) },
        { source: "text", items: textHits },
      ],
      (hit) => hit.session,
    )
    expect(fused[0]?.key).toBe("upload")
    expect(fused[0]?.matches[0]).toMatchObject({ source: "vector", rank: 1 })
    expect(fused.find((r) => r.key === "readme")?.matches.map((m) => m.source)).toContain("text")
    // The best chunk is about the upload test, and it is a real line of the session.
    const best = fused[0]?.matches[0]?.item
    expect(store.sessions.get("upload")!.lines.some((l) => l.seq === best?.seq)).toBe(true)
    expect(cosine(query!, blobToVector(store.sessions.get("upload")!.chunks[0]!.vector))).toBeGreaterThan(
      cosine(query!, blobToVector(store.sessions.get("readme")!.chunks[0]!.vector)),
    )
  })
})
