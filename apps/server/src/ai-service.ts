/**
 * The server's local AI (issue #13): starts the indexer on a worker thread of its own
 * (`ai-indexer-worker.ts`) and answers its store calls here, holds the process's one in-memory vector
 * index, and runs hybrid search (full-text + meaning, fused by reciprocal rank).
 *
 * The vector index: every user's chunk vectors in one `VectorIndex` (a contiguous Float32Array),
 * loaded on the first semantic query and then brought up to date before each query and after each
 * save with "vectors after the last chunk id" (one indexed statement, empty most of the time). That
 * also picks up chunks another server process saved. Memory is bounded by `maxVectors` (default
 * 262,144: 256 MiB of vectors at 256 dimensions, plus ~32 bytes of keys each); past it, newer chunks
 * are not searched by meaning, and the status says so. Without Ollama nothing here fails: search
 * falls back to full text and says why.
 */
import {
  blobToVector,
  describeOllamaHealth,
  fullModelName,
  type IndexerOptions,
  type IndexerStatus,
  makeOllamaClient,
  type OllamaConfig,
  ollamaInClearWarning,
  reciprocalRankFusion,
  VectorIndex,
} from "@overlord/ai"
import type { Api } from "@overlord/protocol"
import type { Actor, AiSessionFilter, AiSessionInfo, Interface as StoreApi } from "@overlord/store"
import { Effect } from "effect"
import type { FromIndexer, PortCall, ToIndexer } from "./ai-indexer-worker.ts"
import { searchWithShared, sharedScopes, withoutOwnIds } from "./shared-search.ts"

/** Ollama is asked for 256 dimensions: a third of nomic-embed-text's 768 in memory (`@overlord/ai`'s measurement). */

/**
 * The reason a member is shown: an indexer that failed on the store (its reason is the error's text:
 * SQL, key values) or stopped is said without its text; Ollama's and the models' reasons are the
 * server's settings, the same for everyone, and say what to do.
 */
const memberReason = (member: boolean, state: string, reason: string | null): string | null =>
  member && reason !== null && (state === "store-error" || state === "stopped")
    ? "the indexer has stopped on an error; an admin sees the details in the AI status"
    : reason

export const DEFAULT_EMBED_DIMENSIONS = 256
export const DEFAULT_MAX_VECTORS = 262_144
/** Candidates each list contributes to the fusion. */
const LIST_DEPTH = 200
/** New lines arrived: wake the indexer at most this often (a live session is embedded as it grows). */
const WAKE_EVERY_MS = 5_000
const LOAD_PAGE = 4_096
/**
 * A search waits at most this long for its query's embedding, then answers by words and says why:
 * the indexer's own calls may take minutes (a 3B model on a laptop CPU), a person's search may not.
 */
export const QUERY_EMBED_TIMEOUT_MS = 2_000

export interface AiServiceOptions {
  readonly store: StoreApi
  readonly ollama: OllamaConfig
  readonly indexer?: IndexerOptions
  readonly maxVectors?: number
  /** When lines were last stored (the live hub's clock): the indexer is woken when it moves. */
  readonly lastStoredAt?: () => number
  /** Start the indexer's worker (default true); false: search only (e.g. another server indexes). */
  readonly runIndexer?: boolean
}

export interface AiSearchQuery {
  readonly q: string
  readonly mode: Api.SearchMode
  readonly filter: AiSessionFilter
  readonly limit: number
}

export interface AiService {
  readonly status: (actor: Actor) => Promise<Api.AiStatus>
  readonly search: (actor: Actor, query: AiSearchQuery) => Promise<Api.HybridSearchResult>
  /** The sessions with their generated title, summary and model added where there is one. */
  readonly withGeneratedTitles: (actor: Actor, sessions: readonly Api.SessionSummary[]) => Promise<Api.SessionSummary[]>
  /** The worker's last reported status (null before its first). */
  readonly indexerStatus: () => IndexerStatus | null
  readonly vectorStats: () => { readonly vectors: number; readonly bytes: number; readonly full: boolean }
  readonly wake: () => void
  readonly close: () => Promise<void>
}

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)

/** Every user's chunk vectors, keyed by row; side arrays say whose, which session and line. */
class ProcessVectors {
  private index: VectorIndex<number> | null = null
  private readonly userIds: number[] = []
  private readonly sessionKeys: number[] = []
  private readonly seqs: number[] = []
  private readonly chunkIds: number[] = []
  private lastChunkId = 0
  private refreshing: Promise<void> | null = null
  full = false
  otherDimensions = 0
  loaded = false

  constructor(
    private readonly store: StoreApi,
    private readonly maxVectors: number,
  ) {}

  get size(): number {
    return this.chunkIds.length
  }

  /** Vector bytes plus ~32 bytes of keys per vector (four numbers in arrays). */
  get bytes(): number {
    return (this.index?.vectorBytes ?? 0) + this.size * 32
  }

  /** Loads what is new since the last call; concurrent callers share one load. */
  refresh(): Promise<void> {
    this.refreshing ??= this.load().finally(() => {
      this.refreshing = null
    })
    return this.refreshing
  }

  private async load(): Promise<void> {
    const ai = this.store.ai
    if (!ai) return
    for (;;) {
      if (this.size >= this.maxVectors) {
        this.full = true
        break
      }
      const rows = await run(ai.vectorsAfter(this.lastChunkId, LOAD_PAGE))
      for (const r of rows) {
        this.lastChunkId = Math.max(this.lastChunkId, r.chunkId)
        if (this.size >= this.maxVectors) {
          this.full = true
          break
        }
        const vector = blobToVector(r.vector)
        this.index ??= new VectorIndex<number>(vector.length, 4_096)
        if (vector.length !== this.index.dimensions) {
          // Made by another model or size: not comparable with the rest (re-embedding is not automatic).
          this.otherDimensions++
          continue
        }
        this.index.add(this.size, vector)
        this.userIds.push(r.userId)
        this.sessionKeys.push(Number(r.sessionKey))
        this.seqs.push(r.seq)
        this.chunkIds.push(r.chunkId)
      }
      if (rows.length < LOAD_PAGE || this.full) break
    }
    this.loaded = true
  }

  topK(
    query: Float32Array,
    userId: number,
    sessions: ReadonlySet<number> | null,
    k: number,
  ): { chunkId: number; sessionKey: number; seq: number; score: number }[] {
    const index = this.index
    if (!index || query.length !== index.dimensions) return []
    const accept = (row: number) =>
      this.userIds[row] === userId && (sessions === null || sessions.has(this.sessionKeys[row] as number))
    return index.topK(query, k, accept).map((hit) => ({
      chunkId: this.chunkIds[hit.key] as number,
      sessionKey: this.sessionKeys[hit.key] as number,
      seq: this.seqs[hit.key] as number,
      score: hit.score,
    }))
  }
}

/** One ranked list's item: a session at one of its entries. */
interface Found {
  readonly sessionId: string
  readonly machineId: string | null
  readonly projectDir: string | null
  readonly seq: number
  readonly kind: string
  readonly snippet: string
  readonly timestamp: string | null
  readonly title: string | null
  /** The session is another user's, shared with the searcher. */
  readonly sharedBy?: Api.ShareOwner
}

const hasFilter = (f: AiSessionFilter) =>
  f.project !== undefined || f.machine !== undefined || f.from !== undefined || f.to !== undefined

export function startAiService(options: AiServiceOptions): AiService {
  const { store } = options
  const ollama: OllamaConfig = {
    ...options.ollama,
    embedDimensions: options.ollama.embedDimensions ?? DEFAULT_EMBED_DIMENSIONS,
  }
  const client = makeOllamaClient({ ...ollama, timeoutMs: Math.min(ollama.timeoutMs, QUERY_EMBED_TIMEOUT_MS) })
  const vectors = new ProcessVectors(store, options.maxVectors ?? DEFAULT_MAX_VECTORS)
  let workerStatus: IndexerStatus | null = null

  // ---- the indexer's worker, and its store calls answered on this thread -------------------------
  const ext = import.meta.url.endsWith(".ts") ? "ts" : "js"
  const worker =
    store.ai && options.runIndexer !== false
      ? new Worker(new URL(`./ai-indexer-worker.${ext}`, import.meta.url).href)
      : null
  const send = (m: ToIndexer) => worker?.postMessage(m)
  let stopped: (() => void) | null = null

  const answer = (id: number, call: PortCall) => {
    const ai = store.ai
    if (!ai) return
    const effect: Effect.Effect<unknown, unknown> =
      call.method === "pendingSessions"
        ? ai.pendingSessions(...call.args)
        : call.method === "sessionLines"
          ? ai.sessionLines(...call.args)
          : call.method === "saveTitle"
            ? ai.saveTitle(...call.args)
            : ai.saveChunks(...call.args)
    run(effect).then(
      (value) => {
        send({ type: "reply", id, ok: true, value })
        // Kept current as chunks are saved, once loaded (before that, the first query loads all).
        if (call.method === "saveChunks" && vectors.loaded) void vectors.refresh().catch(() => {})
      },
      (error: unknown) => {
        const message = error instanceof Error ? error.message : String(error)
        send({ type: "reply", id, ok: false, message })
      },
    )
  }

  if (worker) {
    worker.addEventListener("message", (event: MessageEvent<FromIndexer>) => {
      const msg = event.data
      if (msg.type === "call") answer(msg.id, msg)
      else if (msg.type === "status") workerStatus = msg.status
      else if (msg.type === "stopped") stopped?.()
    })
    worker.addEventListener("error", (event) => {
      workerStatus = {
        ...(workerStatus ?? emptyStatus()),
        state: "stopped",
        reason: `the indexer's thread failed: ${event.message}`,
        lastError: event.message,
      }
    })
    send({ type: "start", ollama, options: options.indexer ?? {} })
  }

  let lastStored = options.lastStoredAt?.() ?? 0
  const wakeTimer = options.lastStoredAt
    ? setInterval(() => {
        const at = options.lastStoredAt?.() ?? 0
        if (at !== lastStored) {
          lastStored = at
          send({ type: "wake" })
        }
      }, WAKE_EVERY_MS)
    : null

  // ---- semantic availability -----------------------------------------------------------------------
  const indexerReason = (): string | null => {
    if (!store.ai) return `the ${store.engine} store keeps no vectors`
    const s = workerStatus
    if (!s) return null
    if (s.state === "ollama-unavailable" || s.state === "store-error" || s.state === "stopped") return s.reason
    // Both models missing stops everything; one missing is said in the reason while the other works.
    if (s.state === "models-missing") return s.reason
    if (
      s.reason !== null &&
      s.health?._tag === "ModelsMissing" &&
      s.health.missing.some((m) => sameModel(m, ollama.embedModel))
    ) {
      return s.reason
    }
    return null
  }

  const embedQuery = async (q: string): Promise<{ vector: Float32Array } | { reason: string }> => {
    const result = await run(
      client.embed([q]).pipe(
        Effect.map((v) => ({ vector: v[0] ?? new Float32Array(0) })),
        Effect.catch((error) =>
          Effect.succeed({ reason: describeOllamaHealth({ _tag: "Unavailable", url: ollama.url, error }) }),
        ),
      ),
    )
    return result
  }

  // ---- hybrid search -----------------------------------------------------------------------------
  /**
   * One reader's best chunks by meaning, one per session: the actor's own (`sharedBy` absent), or an
   * owner's sessions shared with the actor, read as that owner and limited to `allowedKeys`.
   */
  const meaningOf = async (
    reader: Actor,
    vector: Float32Array,
    allowedKeys: ReadonlySet<number> | null,
    limit: number,
    sharedBy?: Api.ShareOwner,
  ): Promise<(Found & { readonly score: number })[]> => {
    const ai = store.ai
    if (!ai) return []
    const hits = vectors.topK(vector, reader.userId, allowedKeys, LIST_DEPTH)
    // One item per session, at its best chunk.
    const best = new Map<number, (typeof hits)[number]>()
    for (const h of hits) if (!best.has(h.sessionKey)) best.set(h.sessionKey, h)
    const picked = [...best.values()]
    if (picked.length === 0) return []
    const infos = new Map<string, AiSessionInfo>()
    for (const info of await run(
      ai.aiSessions(
        reader,
        {},
        picked.map((h) => String(h.sessionKey)),
      ),
    )) {
      infos.set(info.sessionKey, info)
    }
    const texts = new Map<number, { text: string; role: string }>()
    for (const t of await run(
      ai.chunkTexts(
        reader,
        picked.slice(0, Math.max(limit, 1) * 2).map((h) => h.chunkId),
      ),
    )) {
      texts.set(t.chunkId, t)
    }
    return picked.flatMap((h) => {
      const info = infos.get(String(h.sessionKey))
      if (!info) return []
      const chunk = texts.get(h.chunkId)
      return [
        {
          sessionId: info.sessionId,
          machineId: info.machineId,
          projectDir: info.projectDir,
          seq: h.seq,
          kind: chunk?.role === "assistant" || chunk?.role === "tool" ? "assistant" : "user",
          snippet: (chunk?.text ?? "").replace(/\s+/g, " ").slice(0, 240),
          timestamp: info.lastAt,
          title: info.title,
          score: h.score,
          ...(sharedBy ? { sharedBy } : {}),
        },
      ]
    })
  }

  const search = async (actor: Actor, query: AiSearchQuery): Promise<Api.HybridSearchResult> => {
    const ai = store.ai
    const filtered = hasFilter(query.filter)
    const allowed = ai && filtered ? await run(ai.aiSessions(actor, query.filter)) : null
    const allowedUids = allowed ? new Set(allowed.map((s) => s.sessionId)) : null
    const allowedKeys = allowed ? new Set(allowed.map((s) => Number(s.sessionKey))) : null
    // Sessions other users shared with the actor (issue #11 §5), each owner's read as that owner. By
    // meaning, only the shared sessions' vectors are candidates: their keys come from the owner's
    // sessions that pass the filter (one query per owner who shares with the actor).
    const scopes = await sharedScopes(store, actor)
    const sharedAllowed = new Map<number, { uids: Set<string>; keys: Set<number> }>()
    if (ai) {
      for (const scope of scopes) {
        const ids = new Set(scope.sessionIds)
        const rows = (await run(ai.aiSessions(scope.owner, query.filter))).filter((s) => ids.has(s.sessionId))
        sharedAllowed.set(scope.owner.userId, {
          uids: new Set(rows.map((s) => s.sessionId)),
          keys: new Set(rows.map((s) => Number(s.sessionKey))),
        })
      }
    }

    // The indexer's reason as this user may read it (`memberReason`); the role is read only when it matters.
    const reasonNow = indexerReason()
    const state = currentStatus().state
    const reason =
      reasonNow !== null && (state === "store-error" || state === "stopped")
        ? memberReason(await isMember(actor), state, reasonNow)
        : reasonNow
    let semantic: Api.SemanticAvailability = { available: false, reason }
    let meaning: Found[] = []
    const wantMeaning = query.mode !== "text" && ai !== undefined
    if (wantMeaning) {
      const embedded = await embedQuery(query.q)
      if ("reason" in embedded) semantic = { available: false, reason: embedded.reason }
      else {
        semantic = { available: true, reason: null }
        await vectors.refresh()
        const own = await meaningOf(actor, embedded.vector, allowedKeys, query.limit)
        const shared: (Found & { readonly score: number })[] = []
        for (const scope of scopes) {
          const keys = sharedAllowed.get(scope.owner.userId)?.keys
          if (!keys || keys.size === 0) continue
          shared.push(...(await meaningOf(scope.owner, embedded.vector, keys, query.limit, scope.sharedBy)))
        }
        // Cosine similarities of one query vector: comparable across readers.
        meaning = [...own, ...(await withoutOwnIds(store, actor, shared))].sort((a, b) => b.score - a.score)
      }
    } else if (query.mode === "text") {
      semantic = { available: reasonNow === null && ai !== undefined, reason }
    }

    let textList: Found[] = []
    let indexLag = 0
    const useText = query.mode !== "semantic" || !semantic.available
    if (useText) {
      const result = await searchWithShared(store, actor, query.q, LIST_DEPTH)
      indexLag = result.indexLag
      const seen = new Set<string>()
      for (const h of result.hits) {
        // The filter applies to shared sessions too, as their owner's sessions (none pass without the AI store).
        const uids = !h.sharedBy
          ? allowedUids
          : filtered
            ? (sharedAllowed.get(h.sharedBy.userId)?.uids ?? new Set())
            : null
        if (uids && !uids.has(h.sessionId)) continue
        if (seen.has(h.sessionId)) continue
        seen.add(h.sessionId)
        textList.push({
          sessionId: h.sessionId,
          machineId: null,
          projectDir: null,
          seq: h.seq,
          kind: h.kind,
          snippet: h.snippet,
          timestamp: h.timestamp,
          title: h.title,
          ...(h.sharedBy ? { sharedBy: h.sharedBy } : {}),
        })
      }
    }
    if (query.mode === "semantic" && semantic.available) textList = []

    const fused = reciprocalRankFusion<Found>(
      [
        { source: "text", items: textList },
        { source: "meaning", items: meaning },
      ],
      (f) => f.sessionId,
    )
    const hits = fused.slice(0, query.limit).map((r): Api.HybridSearchHit => {
      const text = r.matches.find((m) => m.source === "text")?.item
      const byMeaning = r.matches.find((m) => m.source === "meaning")?.item
      const at = (text ?? byMeaning) as Found
      return {
        ...at,
        machineId: at.machineId ?? byMeaning?.machineId ?? null,
        projectDir: at.projectDir ?? byMeaning?.projectDir ?? null,
        title: at.title ?? byMeaning?.title ?? null,
        score: r.score,
        matched: [...(text ? ["text" as const] : []), ...(byMeaning ? ["meaning" as const] : [])],
      }
    })
    const mode: Api.SearchMode = query.mode !== "text" && !semantic.available ? "text" : query.mode
    return { mode, hits, indexLag, semantic }
  }

  /**
   * A member of a server with accounts (an admin exists). A user without a profile reads as a member,
   * but on a server without accounts (the embedded one, `overlord serve` before its setup) that user is
   * the server's owner.
   */
  const isMember = async (actor: Actor): Promise<boolean> =>
    (await run(store.getUser(actor.userId)))?.role === "member" && (await run(store.hasAdmin()))

  const inClear = ollamaInClearWarning(ollama.url, { allowHttp: ollama.allowHttp })
  const status = async (actor: Actor): Promise<Api.AiStatus> => {
    const progress = store.ai
      ? await run(store.ai.aiProgress(actor))
      : { sessions: 0, titled: 0, embeddedSessions: 0, chunks: 0 }
    const s = currentStatus()
    // Server-wide facts (the indexer's error text, which can quote any user's transcript or the store's
    // SQL; the vector index of every user) go to an admin, or the owner of a server without accounts (a
    // user without a role), never to a member: a member gets their own counts and what to expect.
    const member = await isMember(actor)
    const full = vectors.full
      ? `the vector index is full (${vectors.size} vectors); newer chunks are not searched by meaning`
      : null
    return {
      enabled: store.ai !== undefined,
      state: s.state,
      // The indexer's own reason too: a missing chat model ("lacks llama3.2: run `ollama pull …`") keeps
      // search working, so indexerReason() leaves it out, and the status said "working" with no reason
      // while no title ever came.
      reason: memberReason(
        member,
        s.state,
        indexerReason() ?? (s.health?._tag === "ModelsMissing" ? s.reason : null) ?? full,
      ),
      ollamaUrl: ollama.url,
      chatModel: ollama.chatModel,
      embedModel: ollama.embedModel,
      embedDimensions: ollama.embedDimensions ?? null,
      ...progress,
      ...(member ? {} : { vectorsInMemory: vectors.size, vectorBytes: vectors.bytes }),
      lastError: member ? null : s.lastError,
      retryAt: s.retryAt,
      ...(inClear ? { warning: inClear } : {}),
    }
  }
  const currentStatus = (): IndexerStatus => workerStatus ?? emptyStatus()

  const withGeneratedTitles = async (actor: Actor, sessions: readonly Api.SessionSummary[]) => {
    const ai = store.ai
    if (!ai || sessions.length === 0) return [...sessions]
    const rows = await run(
      ai.generatedTitles(
        actor,
        sessions.map((s) => s.sessionId),
      ),
    )
    const byKey = new Map(rows.map((r) => [`${r.machineId}/${r.sessionId}`, r]))
    return sessions.map((s) => {
      const row = byKey.get(`${s.machineId}/${s.sessionId}`)
      return row ? { ...s, generatedTitle: row.title, summary: row.summary, titleModel: row.model } : s
    })
  }

  const close = async () => {
    if (wakeTimer) clearInterval(wakeTimer)
    if (!worker) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2_000)
      stopped = () => {
        clearTimeout(timer)
        resolve()
      }
      send({ type: "stop" })
    })
    worker.terminate()
  }

  return {
    status,
    search,
    withGeneratedTitles,
    indexerStatus: () => workerStatus,
    vectorStats: () => ({ vectors: vectors.size, bytes: vectors.bytes, full: vectors.full }),
    wake: () => send({ type: "wake" }),
    close,
  }
}

const sameModel = (a: string, b: string) => fullModelName(a) === fullModelName(b)

function emptyStatus(): IndexerStatus {
  return {
    state: "starting",
    reason: null,
    health: null,
    titled: 0,
    embeddedSessions: 0,
    embeddedChunks: 0,
    failed: 0,
    lastError: null,
    retryAt: null,
  }
}
