/**
 * Local AI end to end (issue #13): the real server (sync socket, store, the indexer's worker thread,
 * the HTTP API) with the fake Ollama through the real `ollama` client, on SQLite and on MariaDB.
 * Sessions are realistic transcript files written in Claude Code's record format
 * (`support/ai-corpus.ts`: 32 topics, 13 lines each), synced through the sync socket.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { OllamaConfig } from "@overlord/ai"
import type { Api } from "@overlord/protocol"
import type { Engine } from "@overlord/store"
import { connectMysql2, MysqlEngine } from "@overlord/store/mysql"
import { SqliteEngine } from "@overlord/store/sqlite"
import { type FakeOllama, startFakeOllama } from "@overlord/testkit/fake-ollama"
import { testMariaDb } from "@overlord/testkit/mariadb"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { scoreRankings, sessionFile, TOPICS } from "./support/ai-corpus.ts"
import { type AiTestServer, startAiServer, until } from "./support/ai-server.ts"

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const sqliteEngine = (): Engine => {
  const dir = mkdtempSync(join(tmpdir(), "overlord-ai-"))
  dirs.push(dir)
  return new SqliteEngine({ path: join(dir, "overlord.db") })
}
const mariaDbEngine = async (): Promise<Engine> => {
  const db = testMariaDb()
  return MysqlEngine.open(connectMysql2({ url: db.url(await db.createDatabase()) }))
}

const ollamaOf = (fake: FakeOllama, timeoutMs = 5_000): OllamaConfig => ({
  url: fake.url,
  chatModel: "llama3.2",
  embedModel: "nomic-embed-text",
  timeoutMs,
  embedDimensions: 256,
})

const START = Date.UTC(2026, 9, 1, 9, 0)
const corpus = TOPICS.map((topic, n) => sessionFile(topic, n + 1, START + n * 3_600_000))
const words = (text: string) => new Set(text.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? [])

const status = (s: AiTestServer) => s.get<Api.AiStatus>("/api/v1/ai/status")
const search = (s: AiTestServer, q: string, mode: Api.SearchMode, extra = "") =>
  s.get<Api.HybridSearchResult>(`/api/v1/search?mode=${mode}&q=${encodeURIComponent(q)}&limit=20${extra}`)

for (const [name, makeEngine] of [
  ["SQLite", async () => sqliteEngine()],
  ["MariaDB", mariaDbEngine],
] as const) {
  describe(`local AI through the real server on ${name}`, () => {
    let fake: FakeOllama
    let server: AiTestServer

    beforeAll(async () => {
      fake = startFakeOllama()
      server = await startAiServer(await makeEngine(), ollamaOf(fake))
      for (const s of corpus) await server.append(s.fileKey, s.text)
      await until(
        () => status(server),
        (st) => st.titled === corpus.length && st.embeddedSessions === corpus.length,
      )
    }, 120_000)

    afterAll(async () => {
      await server?.close()
      await fake?.stop()
    })

    it("generates a title and summary for every session, marked with the model, in lists and details", async () => {
      const list = await server.get<Api.SessionList>("/api/v1/sessions?limit=100")
      expect(list.sessions).toHaveLength(corpus.length)
      for (const s of list.sessions) {
        expect(s.generatedTitle?.length).toBeGreaterThan(0)
        expect(s.summary).toMatch(/^The session is mostly about /)
        expect(s.titleModel).toBe("llama3.2")
      }
      const one = corpus[0]!
      const detail = await server.get<Api.SessionDetail>(`/api/v1/sessions/${one.sessionId}`)
      expect(detail.session.generatedTitle).toBe(
        list.sessions.find((s) => s.sessionId === one.sessionId)?.generatedTitle,
      )
      const st = await status(server)
      expect(st).toMatchObject({ enabled: true, reason: null, chatModel: "llama3.2", embedModel: "nomic-embed-text" })
      expect(st.chunks).toBeGreaterThanOrEqual(corpus.length * 6)
      // Ollama was asked for 256 dimensions (the fake's vectors have 100, so it returns those).
      const embeds = fake.requests.filter((r) => r.route === "POST /api/embed")
      expect(embeds.every((r) => (r.body as { dimensions?: number }).dimensions === 256)).toBe(true)
    })

    it("keeps titles cached, and regenerates one once its session has grown materially", async () => {
      const chatsBefore = fake.count("POST /api/chat")
      await Bun.sleep(800) // several idle passes of the indexer
      expect(fake.count("POST /api/chat")).toBe(chatsBefore)

      const target = corpus[3]!
      const before = (await server.get<Api.SessionDetail>(`/api/v1/sessions/${target.sessionId}`)).session
      // 24 more lines about something else: more than GROWTH_ENTRIES (20) new entries.
      const more = Array.from({ length: 24 }, (_, i) =>
        JSON.stringify({
          type: "user",
          uuid: `grow-${i}`,
          parentUuid: null,
          isSidechain: false,
          sessionId: target.sessionId,
          cwd: "/home/dev/api-server",
          timestamp: new Date(START + 400 * 3_600_000 + i * 60_000).toISOString(),
          message: { role: "user", content: `Now port the telescope firmware calibration routine, step ${i}.` },
        }),
      )
      await server.append(target.fileKey, `${more.join("\n")}\n`)
      const after = await until(
        () => server.get<Api.SessionDetail>(`/api/v1/sessions/${target.sessionId}`),
        (d) => d.session.generatedTitle !== before.generatedTitle,
      )
      expect(after.session.generatedTitle?.toLowerCase()).toContain("telescope")
      expect(fake.count("POST /api/chat")).toBe(chatsBefore + 1)
    })

    it("finds sessions by meaning: hybrid beats full text on paraphrased queries (MRR and top-1)", async () => {
      // The paraphrases are honest: no word of one occurs in its session.
      for (const s of corpus) {
        const inSession = words(s.text)
        const shared = [...words(s.topic.paraphraseQuery)].filter((w) => inSession.has(w))
        expect(shared, s.topic.id).toEqual([])
      }
      const rank = async (q: string, mode: Api.SearchMode) =>
        (await search(server, q, mode)).hits.map((h) => h.sessionId)
      const runs = { text: { keyword: [], paraphrase: [] }, hybrid: { keyword: [], paraphrase: [] } } as Record<
        "text" | "hybrid",
        Record<"keyword" | "paraphrase", { expected: string; ranked: string[] }[]>
      >
      for (const s of corpus) {
        for (const mode of ["text", "hybrid"] as const) {
          runs[mode].keyword.push({ expected: s.sessionId, ranked: await rank(s.topic.keywordQuery, mode) })
          runs[mode].paraphrase.push({ expected: s.sessionId, ranked: await rank(s.topic.paraphraseQuery, mode) })
        }
      }
      const score = (mode: "text" | "hybrid", subset: "keyword" | "paraphrase" | "all") =>
        scoreRankings(subset === "all" ? [...runs[mode].keyword, ...runs[mode].paraphrase] : runs[mode][subset])
      const table = (["keyword", "paraphrase", "all"] as const).map((subset) => ({
        subset,
        queries: subset === "all" ? corpus.length * 2 : corpus.length,
        textMRR: score("text", subset).mrr.toFixed(3),
        textTop1: score("text", subset).top1.toFixed(3),
        hybridMRR: score("hybrid", subset).mrr.toFixed(3),
        hybridTop1: score("hybrid", subset).top1.toFixed(3),
      }))
      console.log(`semantic search on ${name}, ${corpus.length} sessions:`)
      console.table(table)
      expect(score("hybrid", "all").mrr).toBeGreaterThanOrEqual(score("text", "all").mrr)
      expect(score("hybrid", "all").top1).toBeGreaterThanOrEqual(score("text", "all").top1)
      expect(score("hybrid", "paraphrase").mrr).toBeGreaterThan(score("text", "paraphrase").mrr)
      expect(score("hybrid", "paraphrase").top1).toBeGreaterThan(score("text", "paraphrase").top1)
    })

    it("says which part matched, jumps to the entry, and applies the filters", async () => {
      const target = corpus.find((s) => s.topic.id === "payments-webhook")!
      const both = await search(server, "Stripe webhook", "hybrid")
      const top = both.hits[0]!
      expect(top.sessionId).toBe(target.sessionId)
      expect(top.matched).toEqual(["text", "meaning"])
      expect(both.semantic).toEqual({ available: true, reason: null })
      const byMeaning = await search(server, target.topic.paraphraseQuery, "semantic")
      const hit = byMeaning.hits.find((h) => h.sessionId === target.sessionId)!
      expect(hit.matched).toEqual(["meaning"])
      // The hit's seq is an entry of that session: the dashboard opens the session there.
      const entry = await server.get<{ sessionId: string }>(`/api/v1/entries/${hit.seq}`)
      expect(entry.sessionId).toBe(target.sessionId)
      const filtered = await search(server, target.topic.paraphraseQuery, "hybrid", "&project=-home-dev-webapp")
      expect(filtered.hits.length).toBeGreaterThan(0)
      const webapp = new Set(corpus.filter((s) => s.topic.project === "webapp").map((s) => s.sessionId))
      expect(filtered.hits.every((h) => webapp.has(h.sessionId))).toBe(true)
      const none = await search(server, "Stripe webhook", "hybrid", "&machine=other-machine")
      expect(none.hits).toEqual([])
      const late = await search(server, "Stripe webhook", "hybrid", "&from=2030-01-01T00:00:00Z")
      expect(late.hits).toEqual([])
      expect((await server.getResponse("/api/v1/search?mode=fuzzy&q=x")).status).toBe(400)
    })

    it("finds a session shared with another user by meaning and by words, marked with its owner, only while shared", async () => {
      // Bob, a second user of this server; the corpus is "local"'s. One session is shared with Bob.
      const engine = server.engine
      const owner = await engine.ensureUser("local")
      const link = await engine.createAccountLink({ kind: "invite", createdBy: owner, role: "member", ttlMs: 60_000 })
      const bob = await engine.acceptAccountLink(link.token, "invite", "bob@example.com", "Bob")
      if (bob._tag !== "Accepted") throw new Error(`invite: ${bob._tag}`)
      const bobToken = await engine.issueToken({ userId: bob.user.userId, kind: "api" })
      const asBob = async (q: string, mode: Api.SearchMode) => {
        const res = await fetch(`${server.url}/api/v1/search?mode=${mode}&q=${encodeURIComponent(q)}&limit=20`, {
          headers: { authorization: `Bearer ${bobToken}` },
        })
        expect(res.status).toBe(200)
        return (await res.json()) as Api.HybridSearchResult
      }
      const target = corpus.find((s) => s.topic.id === "payments-webhook")!
      // Not shared: Bob finds nothing of local's, by either part.
      expect((await asBob(target.topic.paraphraseQuery, "semantic")).hits).toEqual([])
      expect((await asBob(target.topic.keywordQuery, "hybrid")).hits).toEqual([])

      const shared = await engine.shareSession({ userId: owner }, target.sessionId, "bob@example.com")
      expect(shared._tag).toBe("Shared")
      const sharedBy = { userId: owner, email: null, name: "local" }
      const byMeaning = await asBob(target.topic.paraphraseQuery, "semantic")
      expect(byMeaning.semantic.available).toBe(true)
      expect(byMeaning.hits).toMatchObject([{ sessionId: target.sessionId, matched: ["meaning"], sharedBy }])
      const hybrid = await asBob(target.topic.keywordQuery, "hybrid")
      expect(hybrid.hits).toMatchObject([{ sessionId: target.sessionId, matched: ["text", "meaning"], sharedBy }])
      // The owner's own results are not marked.
      const own = await search(server, target.topic.keywordQuery, "hybrid")
      expect(own.hits.some((h) => h.sessionId === target.sessionId)).toBe(true)
      expect(own.hits.every((h) => h.sharedBy === undefined)).toBe(true)

      expect(await engine.unshareSession({ userId: owner }, target.sessionId, bob.user.userId)).toBe(true)
      expect((await asBob(target.topic.paraphraseQuery, "semantic")).hits).toEqual([])
      expect((await asBob(target.topic.keywordQuery, "hybrid")).hits).toEqual([])
    })
  })
}
