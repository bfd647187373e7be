/**
 * Local AI (issue #13): indexing throughput, semantic query latency over 10,000 sessions of vectors,
 * and the memory the vectors take.
 *
 *   bun scripts/bench/ai.ts [--index-sessions 320] [--sessions 10000] [--chunks 20] [--queries 50]
 *
 * 1. Indexing: realistic sessions (the test corpus's 32 topics, 13 lines each, cycled) in a SQLite
 *    file; the real indexer (`makeIndexer` over the engine's `AiStore`) against the fake Ollama
 *    through the real client, first embeddings alone (chunks/s), then titles alone (sessions/s). The
 *    fake answers in microseconds (word-vector averages), so this is Overlord's own overhead: digest,
 *    chunking, HTTP and JSON through the client, normalisation, the store's writes.
 * 2. Queries: `--sessions` sessions with `--chunks` chunk vectors each (random unit vectors of the
 *    fake's 100 dimensions, written through `saveChunks`), then semantic and hybrid searches through
 *    the server's AI service (query embedding by the fake, the in-process index, RRF with full text,
 *    the store's lookups): the first query (which loads the index) and p50/p95 of the rest.
 * 3. The vector scan alone at 256 dimensions (the default asked of Ollama) over the same count.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { startFakeOllama } from "@overlord/testkit/fake-ollama"
import { Effect } from "effect"
import { startAiService } from "../../apps/server/src/ai-service.ts"
import { sessionFile, TOPICS } from "../../apps/server/test/support/ai-corpus.ts"
import {
  type IndexerStore,
  makeIndexer,
  type OllamaConfig,
  layer as ollamaLayer,
  VectorIndex,
  vectorToBlob,
} from "../../packages/ai/src/index.ts"
import type { Append, MachineActor } from "../../packages/store/src/index.ts"
import { SqliteEngine } from "../../packages/store/src/sqlite/index.ts"
import { fromEngine } from "../../packages/store/src/store.ts"
import { argValue } from "./corpus.ts"

const args = process.argv.slice(2)
const indexSessions = argValue(args, "--index-sessions", 320)
const sessions = argValue(args, "--sessions", 10_000)
const chunksPer = argValue(args, "--chunks", 20)
const queries = argValue(args, "--queries", 50)
const enc = new TextEncoder()
const MB = 1024 * 1024

const pct = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0
const rssMb = () => process.memoryUsage().rss / MB

const dir = mkdtempSync(join(tmpdir(), "overlord-bench-ai-"))
const fake = startFakeOllama()
const ollama: OllamaConfig = {
  url: fake.url,
  chatModel: "llama3.2",
  embedModel: "nomic-embed-text",
  timeoutMs: 30_000,
  embedDimensions: 256,
}

async function appendAll(
  engine: SqliteEngine,
  actor: MachineActor,
  files: readonly { fileKey: string; text: string }[],
) {
  for (let i = 0; i < files.length; i += 200) {
    const group: Append[] = files.slice(i, i + 200).map((f, j) => {
      const payload = enc.encode(f.text)
      return {
        header: {
          type: "append",
          seq: i + j,
          fileKey: f.fileKey,
          generation: 0,
          identity: "1:1",
          fromOffset: 0,
          toOffset: payload.length,
        },
        payload,
      }
    })
    await engine.append(actor, group)
  }
}

try {
  // ---- 1. indexing throughput ----------------------------------------------------------------------
  {
    const engine = new SqliteEngine({ path: join(dir, "index.db") })
    const userId = engine.ensureUser("local")
    const { machineId } = engine.openMachine({ userId }, "m-1", "laptop")
    const files = Array.from({ length: indexSessions }, (_, n) =>
      sessionFile(TOPICS[n % TOPICS.length]!, n + 1, Date.UTC(2026, 0, 1) + n * 60_000),
    )
    await appendAll(engine, { userId, machineId }, files)
    const ai = engine.ai
    // The port takes promises; SQLite answers synchronously.
    const port: IndexerStore = {
      pendingSessions: async (limit) => ai.pendingSessions(limit),
      sessionLines: async (key, after) => ai.sessionLines(key, after),
      saveTitle: async (key, title) => ai.saveTitle(key, title),
      saveChunks: async (key, chunks, through, model) => ai.saveChunks(key, chunks, through, model),
    }
    const run = async (label: string, models: string[]) => {
      fake.setModels(models)
      const indexer = makeIndexer(port, { batch: 32, concurrency: 2 })
      const started = performance.now()
      // Sessions that need only what the missing model makes are skipped, and the next pass asks for
      // that many more: done once two passes in a row handle nothing.
      let idlePasses = 0
      while (idlePasses < 2) {
        const pass = await Effect.runPromise(indexer.runOnce.pipe(Effect.provide(ollamaLayer(ollama))))
        if (pass.stoppedBy) throw new Error(`${label} stopped: ${pass.stoppedBy}`)
        idlePasses = pass.handled === 0 ? idlePasses + 1 : 0
      }
      const s = (performance.now() - started) / 1000
      const st = indexer.status()
      return { label, seconds: s, status: st }
    }
    const embeds = await run("embeddings", ["nomic-embed-text:latest"])
    const titles = await run("titles", ["llama3.2:latest", "nomic-embed-text:latest"])
    console.log(`indexing ${indexSessions} sessions (13 lines each) against the fake Ollama:`)
    console.log(
      `  embeddings: ${embeds.status.embeddedChunks} chunks of ${embeds.status.embeddedSessions} sessions in ${embeds.seconds.toFixed(2)} s = ${(embeds.status.embeddedChunks / embeds.seconds).toFixed(0)} chunks/s`,
    )
    console.log(
      `  titles: ${titles.status.titled} sessions in ${titles.seconds.toFixed(2)} s = ${(titles.status.titled / titles.seconds).toFixed(0)} titles/s`,
    )
    engine.close()
  }

  // ---- 2. query latency over `sessions` sessions of vectors ----------------------------------------
  {
    fake.setModels(["llama3.2:latest", "nomic-embed-text:latest"])
    const engine = new SqliteEngine({ path: join(dir, "query.db") })
    const userId = engine.ensureUser("local")
    const { machineId } = engine.openMachine({ userId }, "m-1", "laptop")
    const files = Array.from({ length: sessions }, (_, n) => {
      const sid = `${n.toString(16).padStart(8, "0")}-0000-4000-8000-000000000000`
      const topic = TOPICS[n % TOPICS.length]!
      const line = JSON.stringify({
        type: "user",
        uuid: `u${n}`,
        sessionId: sid,
        cwd: `/home/dev/${topic.project}`,
        timestamp: new Date(Date.UTC(2026, 0, 1) + n * 60_000).toISOString(),
        message: { role: "user", content: `${topic.prompts[0]} (${n})` },
      })
      return { fileKey: `-home-dev-${topic.project}/${sid}.jsonl`, text: `${line}\n` }
    })
    const t0 = performance.now()
    await appendAll(engine, { userId, machineId }, files)
    const ai = engine.ai
    const keys = ai.aiSessions({ userId }, {})
    let seed = 7
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed / 0x7fffffff - 0.5
    }
    const dims = 100
    for (const k of keys) {
      const lines = ai.sessionLines(k.sessionKey, null)
      const seq = lines[0]?.seq ?? 0
      const chunks = Array.from({ length: chunksPer }, (_, i) => {
        const v = new Float32Array(dims).map(() => random())
        const norm = Math.hypot(...v)
        return {
          seq,
          role: "user" as const,
          text: `chunk ${i} of ${k.sessionId}`,
          vector: vectorToBlob(v.map((x) => x / norm)),
        }
      })
      ai.saveChunks(k.sessionKey, chunks, seq, "nomic-embed-text")
    }
    // The text index, as the server's background indexer would fill it.
    while (engine.indexForSearch(5_000) > 0) {}
    console.log(
      `\n${sessions} sessions with ${chunksPer} vectors each (${sessions * chunksPer} vectors, ${dims} dimensions) written in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    )
    // The indexer's one query per pass, on the storing thread: every session lacks a title here (the worst case).
    const pendingTimes: number[] = []
    for (let i = 0; i < 20; i++) {
      const s0 = performance.now()
      ai.pendingSessions(48)
      pendingTimes.push(performance.now() - s0)
    }
    pendingTimes.sort((a, b) => a - b)
    console.log(
      `  pendingSessions(48) with ${sessions} sessions all pending: p50 ${pct(pendingTimes, 50).toFixed(1)} ms`,
    )
    const service = startAiService({ store: fromEngine(engine), ollama, runIndexer: false })
    const actor = { userId }
    const words = [
      "database migration",
      "flaky test",
      "memory leak",
      "docker image",
      "login page",
      "rate limit",
      "translate",
      "backup",
      "reconnect socket",
      "thumbnails",
    ]
    const rssBefore = rssMb()
    const first = performance.now()
    await service.search(actor, { q: "schema change", mode: "semantic", filter: {}, limit: 20 })
    const loadMs = performance.now() - first
    const stats = service.vectorStats()
    console.log(
      `  first query (loads the index): ${loadMs.toFixed(0)} ms; index: ${stats.vectors} vectors, ${(stats.bytes / MB).toFixed(1)} MiB (vectors + keys); RSS +${(rssMb() - rssBefore).toFixed(0)} MiB`,
    )
    for (const mode of ["semantic", "hybrid"] as const) {
      const times: number[] = []
      for (let i = 0; i < queries; i++) {
        const q = `${words[i % words.length]} ${i}`
        const s = performance.now()
        const r = await service.search(actor, { q, mode, filter: {}, limit: 20 })
        times.push(performance.now() - s)
        if (r.hits.length === 0) throw new Error(`no hits for ${q}`)
      }
      times.sort((a, b) => a - b)
      console.log(
        `  ${mode}: p50 ${pct(times, 50).toFixed(1)} ms, p95 ${pct(times, 95).toFixed(1)} ms over ${queries} queries`,
      )
    }
    const filtered: number[] = []
    for (let i = 0; i < queries; i++) {
      const s = performance.now()
      await service.search(actor, {
        q: `${words[i % words.length]}`,
        mode: "hybrid",
        filter: { project: "-home-dev-webapp" },
        limit: 20,
      })
      filtered.push(performance.now() - s)
    }
    filtered.sort((a, b) => a - b)
    console.log(
      `  hybrid with a project filter: p50 ${pct(filtered, 50).toFixed(1)} ms, p95 ${pct(filtered, 95).toFixed(1)} ms`,
    )
    await service.close()
    engine.close()
  }

  // ---- 3. the scan alone at 256 dimensions -------------------------------------------------------
  {
    const n = sessions * chunksPer
    const index = new VectorIndex<number>(256, n)
    const v = new Float32Array(256)
    for (let i = 0; i < n; i++) {
      for (let d = 0; d < 256; d++) v[d] = Math.sin(i * 31 + d * 7)
      index.add(i, v)
    }
    const times: number[] = []
    for (let i = 0; i < queries; i++) {
      for (let d = 0; d < 256; d++) v[d] = Math.cos(i * 17 + d)
      const s = performance.now()
      index.topK(v, 200, (k) => k % 2 === 0 || k % 2 === 1)
      times.push(performance.now() - s)
    }
    times.sort((a, b) => a - b)
    console.log(
      `\nVectorIndex.topK(200) over ${n} vectors of 256 dimensions (${(index.vectorBytes / MB).toFixed(0)} MiB): p50 ${pct(times, 50).toFixed(1)} ms, p95 ${pct(times, 95).toFixed(1)} ms`,
    )
  }
} finally {
  await fake.stop()
  rmSync(dir, { recursive: true, force: true })
}
