/**
 * Ollama down, slow, or answering garbage (issue #13): sync and full-text search carry on untouched,
 * the API says why semantic features are off, and the indexer catches up once Ollama is back.
 * The real server and SQLite store, the fake Ollama through the real client.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import { SqliteEngine } from "@overlord/store/sqlite"
import { type FakeOllama, startFakeOllama } from "@overlord/testkit/fake-ollama"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { QUERY_EMBED_TIMEOUT_MS } from "../src/ai-service.ts"
import { sessionFile, TOPICS } from "./support/ai-corpus.ts"
import { type AiTestServer, startAiServer, until } from "./support/ai-server.ts"

const dirs: string[] = []
const open: { server: AiTestServer; fake: FakeOllama }[] = []
afterEach(async () => {
  for (const { server, fake } of open.splice(0)) {
    await server.close()
    await fake.stop()
  }
})
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const START = Date.UTC(2026, 9, 1, 9, 0)
const sessions = TOPICS.slice(0, 6).map((t, n) => sessionFile(t, n + 1, START + n * 3_600_000))

async function start(fake: FakeOllama, timeoutMs = 5_000, retrySkippedMs?: number) {
  const dir = mkdtempSync(join(tmpdir(), "overlord-ai-faults-"))
  dirs.push(dir)
  const server = await startAiServer(
    new SqliteEngine({ path: join(dir, "overlord.db") }),
    {
      url: fake.url,
      chatModel: "llama3.2",
      embedModel: "nomic-embed-text",
      timeoutMs,
    },
    { idleMs: 200, minBackoffMs: 100, maxBackoffMs: 400, ...(retrySkippedMs ? { retrySkippedMs } : {}) },
  )
  open.push({ server, fake })
  return server
}

const status = (s: AiTestServer) => s.get<Api.AiStatus>("/api/v1/ai/status")
const hybrid = (s: AiTestServer, q: string) =>
  s.get<Api.HybridSearchResult>(`/api/v1/search?mode=hybrid&q=${encodeURIComponent(q)}`)
/** Full-text search as before issue #13 (no `mode`), once the background index has the lines. */
const textFinds = (s: AiTestServer, q: string, sessionId: string) =>
  until(
    () => s.get<Api.SearchResult>(`/api/v1/search?q=${encodeURIComponent(q)}`),
    (r) => r.hits.some((h) => h.sessionId === sessionId),
    10_000,
  )

describe("local AI when Ollama misbehaves", () => {
  it("Ollama down: sync and full-text search work, the status says why, and the indexer catches up when it returns", async () => {
    const fake = startFakeOllama()
    await fake.down()
    const server = await start(fake)
    for (const s of sessions) await server.append(s.fileKey, s.text)
    const down = await until(
      () => status(server),
      (st) => st.state === "ollama-unavailable",
    )
    expect(down.reason).toContain("not reachable")
    expect(down.titled).toBe(0)
    const target = sessions[1]!
    await textFinds(server, target.topic.keywordQuery, target.sessionId)
    const result = await hybrid(server, target.topic.keywordQuery)
    expect(result.mode).toBe("text")
    expect(result.semantic.available).toBe(false)
    expect(result.semantic.reason).toContain("not reachable")
    expect(result.hits[0]).toMatchObject({ sessionId: target.sessionId, matched: ["text"] })

    fake.up()
    const caughtUp = await until(
      () => status(server),
      (st) => st.titled === sessions.length && st.embeddedSessions === sessions.length,
    )
    expect(caughtUp.reason).toBeNull()
    expect((await hybrid(server, target.topic.paraphraseQuery)).semantic.available).toBe(true)
  }, 90_000)

  it("Ollama slow: calls time out, the status says so, and sync and search do not wait for it", async () => {
    const fake = startFakeOllama({ delayMs: 3_000 })
    const server = await start(fake, 500)
    const started = performance.now()
    for (const s of sessions) await server.append(s.fileKey, s.text)
    const syncMs = performance.now() - started
    const slow = await until(
      () => status(server),
      (st) => st.state === "ollama-unavailable" && (st.reason ?? "").includes("did not answer"),
    )
    expect(slow.reason).toContain("within 500 ms")
    const target = sessions[2]!
    await textFinds(server, target.topic.keywordQuery, target.sessionId)
    const searchStarted = performance.now()
    const result = await hybrid(server, target.topic.keywordQuery)
    console.log(
      `Ollama answering after 3 s (timeout 500 ms): ${sessions.length} sessions synced in ${syncMs.toFixed(0)} ms, a hybrid search answered in ${(performance.now() - searchStarted).toFixed(0)} ms`,
    )
    expect(result.hits[0]).toMatchObject({ sessionId: target.sessionId, matched: ["text"] })
    expect(result.semantic.reason).toContain("did not answer")
  }, 90_000)

  it("Ollama answering garbage: nothing is stored from it, sessions are skipped, and sync and search go on", async () => {
    const fake = startFakeOllama({ garbage: "nonsense" })
    // A session whose answer was unusable is tried again once it changes, or after `retrySkippedMs`.
    const server = await start(fake, 5_000, 1_500)
    for (const s of sessions) await server.append(s.fileKey, s.text)
    await until(
      () => Promise.resolve(fake.count("POST /api/chat")),
      (n) => n >= sessions.length,
    )
    const st = await status(server)
    expect(st.titled).toBe(0)
    expect(st.chunks).toBe(0)
    const list = await server.get<Api.SessionList>("/api/v1/sessions")
    expect(list.sessions.every((s) => s.generatedTitle === undefined)).toBe(true)
    const target = sessions[3]!
    await textFinds(server, target.topic.keywordQuery, target.sessionId)
    const result = await hybrid(server, target.topic.keywordQuery)
    expect(result.hits[0]).toMatchObject({ sessionId: target.sessionId, matched: ["text"] })
    // More lines still sync while the garbage goes on.
    await server.append(
      sessions[0]!.fileKey,
      `${JSON.stringify({ type: "user", uuid: "late", sessionId: sessions[0]!.sessionId, timestamp: new Date(START).toISOString(), message: { role: "user", content: "late line" } })}\n`,
    )
    fake.setGarbage(null)
    // Sessions skipped for garbage are tried again (after `retrySkippedMs`) and now succeed.
    await until(
      () => status(server),
      (s) => s.titled === sessions.length,
      60_000,
    )
  }, 90_000)

  it("a search waits for its query's embedding at most QUERY_EMBED_TIMEOUT_MS, whatever the indexer's timeout", async () => {
    const fake = startFakeOllama()
    const server = await start(fake, 120_000)
    for (const s of sessions.slice(0, 2)) await server.append(s.fileKey, s.text)
    const target = sessions[0]!
    await textFinds(server, target.topic.keywordQuery, target.sessionId)
    fake.setDelay(QUERY_EMBED_TIMEOUT_MS + 3_000)
    const result = await hybrid(server, target.topic.keywordQuery)
    expect(result.semantic).toEqual({
      available: false,
      reason: `Ollama at ${fake.url} did not answer within ${QUERY_EMBED_TIMEOUT_MS} ms.`,
    })
    expect(result.hits[0]).toMatchObject({ sessionId: target.sessionId, matched: ["text"] })
    fake.setDelay(0)
  }, 90_000)
})
