/**
 * The background indexer's logic: titles and summaries for sessions without their own, and chunk
 * embeddings for semantic search, newest session first, a few at a time. It talks to the store only
 * through `IndexerStore`, a narrow port each engine implements, and to Ollama through `OllamaClient`.
 *
 * Failures never reach the caller. While Ollama is unreachable, slow or missing a model, the indexer
 * backs off (1 s doubling to 60 s) and says why in `status()`; it catches up when Ollama returns.
 * A session whose answer is garbage is skipped until it changes, so one bad answer cannot stall the
 * rest.
 */
import { Effect } from "effect"
import { type Chunk, type ChunkOptions, sessionChunks } from "./chunks.ts"
import {
  describeOllamaHealth,
  fullModelName,
  isOutage,
  OllamaClient,
  type OllamaError,
  type OllamaHealth,
} from "./ollama-client.ts"
import { type DigestOptions, digestItems, parseSessionLines, type SessionLine } from "./session-digest.ts"
import { generateTitle, needsTitle, type TitleAnswerInvalid } from "./titles.ts"
import { vectorToBlob } from "./vectors.ts"

/** What the store knows about a session that may need work. */
export interface IndexCandidate {
  readonly sessionKey: string
  /** ISO time of the session's last entry: candidates are handled newest first. */
  readonly updatedAt: string
  readonly entryCount: number
  /** The highest `seq` of the session's lines. */
  readonly lastSeq: number
  /** A custom title or Claude Code's own AI title: nothing to generate. */
  readonly hasOwnTitle: boolean
  /** `entryCount` when the stored generated title was made; null: never. */
  readonly titledAtEntries: number | null
  /** Lines up to this `seq` are embedded; null: none. */
  readonly embeddedThroughSeq: number | null
}

export interface GeneratedTitleRecord {
  readonly title: string
  readonly summary: string
  readonly model: string
  /** The session's `entryCount` the title was made from (becomes `titledAtEntries`). */
  readonly entryCount: number
}

export interface EmbeddedChunk extends Chunk {
  /** float32 little-endian, L2-normalised (`vectorToBlob`). */
  readonly vector: Uint8Array
}

/** The narrow store port; each engine implements it with a few statements. */
export interface IndexerStore {
  /**
   * Up to `limit` sessions, newest first, that need a title (`needsTitle`: no own title, and never
   * titled or grown by `GROWTH_RATIO`/`GROWTH_ENTRIES` since) or embeddings (`lastSeq >
   * embeddedThroughSeq`).
   */
  readonly pendingSessions: (limit: number) => Promise<readonly IndexCandidate[]>
  /** The session's lines in file order, only those after `afterSeq` when given. */
  readonly sessionLines: (sessionKey: string, afterSeq: number | null) => Promise<readonly SessionLine[]>
  readonly saveTitle: (sessionKey: string, title: GeneratedTitleRecord) => Promise<void>
  /** Adds chunks (possibly none) and records that lines up to `throughSeq` are embedded. */
  readonly saveChunks: (
    sessionKey: string,
    chunks: readonly EmbeddedChunk[],
    throughSeq: number,
    model: string,
  ) => Promise<void>
}

export type IndexerState =
  | "starting"
  | "working"
  | "idle"
  | "ollama-unavailable"
  | "models-missing"
  | "store-error"
  | "stopped"

export interface IndexerStatus {
  readonly state: IndexerState
  /** Why semantic features are (partly) off, in one sentence; null when all is well. */
  readonly reason: string | null
  readonly health: OllamaHealth | null
  readonly titled: number
  readonly embeddedSessions: number
  readonly embeddedChunks: number
  /** Sessions skipped because Ollama's answer for them was unusable. */
  readonly failed: number
  readonly lastError: string | null
  /** When the indexer will try again after a failure (ISO), or null. */
  readonly retryAt: string | null
}

export interface IndexerOptions {
  /** Sessions handled at once (default 2: Ollama runs one model at a time on most laptops anyway). */
  readonly concurrency?: number
  /** Candidates fetched per pass (default 16). */
  readonly batch?: number
  /** Chunks per `/api/embed` request (default 32). */
  readonly embedBatch?: number
  /** Pause between passes when nothing is pending (default 30 s; `wake()` cuts it short). */
  readonly idleMs?: number
  readonly minBackoffMs?: number
  readonly maxBackoffMs?: number
  /** When a session skipped for an unusable answer is tried again even if unchanged (default 15 min). */
  readonly retrySkippedMs?: number
  readonly digest?: DigestOptions
  readonly chunks?: ChunkOptions
}

export interface PassResult {
  readonly titled: number
  readonly embeddedSessions: number
  readonly failed: number
  /** Sessions that got a title or embeddings (0: nothing was pending, or nothing could be done). */
  readonly handled: number
  /** Set when the pass stopped because Ollama or the store is unusable. */
  readonly stoppedBy: string | null
}

export interface Indexer {
  readonly status: () => IndexerStatus
  /** One pass over pending sessions. Never fails. */
  readonly runOnce: Effect.Effect<PassResult, never, OllamaClient>
  /** Passes forever: back to back while work is pending, then idle or backing off. Never fails. */
  readonly run: Effect.Effect<never, never, OllamaClient>
  /** New lines arrived: start the next pass now instead of after the idle pause. */
  readonly wake: () => void
}

class StoreFailed {
  readonly _tag = "StoreFailed"
  constructor(
    readonly operation: string,
    readonly cause: unknown,
  ) {}
}

/** An error that stops the pass (Ollama as a whole or the store), as opposed to one session's. */
type PassError = OllamaError | StoreFailed

const store$ = <A>(operation: string, f: () => Promise<A>): Effect.Effect<A, StoreFailed> =>
  Effect.tryPromise({ try: f, catch: (cause) => new StoreFailed(operation, cause) })

const describeError = (error: OllamaError | TitleAnswerInvalid | StoreFailed): string =>
  error instanceof StoreFailed
    ? `store ${error.operation} failed: ${error.cause instanceof Error ? error.cause.message : String(error.cause)}`
    : `${error._tag}: ${error.message}`

export function makeIndexer(store: IndexerStore, options: IndexerOptions = {}): Indexer {
  const concurrency = options.concurrency ?? 2
  const batch = options.batch ?? 16
  const embedBatch = options.embedBatch ?? 32
  const idleMs = options.idleMs ?? 30_000
  const minBackoffMs = options.minBackoffMs ?? 1_000
  const maxBackoffMs = options.maxBackoffMs ?? 60_000

  let status: IndexerStatus = {
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
  const update = (patch: Partial<IndexerStatus>) => {
    status = { ...status, ...patch }
  }
  /**
   * Sessions whose answer was unusable (or that had nothing to do), with the entry count they had:
   * retried once they change, or after `retrySkippedMs` (Ollama may have been fixed meanwhile).
   */
  const skipped = new Map<string, { entryCount: number; at: number }>()
  const retrySkippedMs = options.retrySkippedMs ?? 15 * 60_000
  let worked = 0
  let lastCapabilities = ""
  let wakeUp: (() => void) | null = null
  let woken = false

  const skip = (candidate: IndexCandidate) =>
    skipped.set(candidate.sessionKey, { entryCount: candidate.entryCount, at: Date.now() })

  /**
   * One session's unusable answer is that session's problem: it is skipped until it changes. An
   * outage (Ollama unreachable, slow, without the model) or a store failure stops the pass.
   */
  const onSessionError =
    (candidate: IndexCandidate) =>
    (error: OllamaError | TitleAnswerInvalid | StoreFailed): Effect.Effect<boolean, PassError> => {
      if (error instanceof StoreFailed) return Effect.fail(error)
      if (error._tag !== "TitleAnswerInvalid" && isOutage(error)) return Effect.fail(error)
      return Effect.sync(() => {
        skip(candidate)
        update({ failed: status.failed + 1, lastError: describeError(error) })
        return false
      })
    }

  /** Title and embeddings fail apart: a model's garbage title does not hold up the session's search. */
  const handleSession = (candidate: IndexCandidate, canTitle: boolean, canEmbed: boolean, model: string) =>
    Effect.gen(function* () {
      const wantTitle = canTitle && needsTitle(candidate)
      const wantChunks =
        canEmbed && (candidate.embeddedThroughSeq === null || candidate.lastSeq > candidate.embeddedThroughSeq)
      if (!wantTitle && !wantChunks) {
        // Pending for a model that is not pulled, or listed by a lenient port: not again until it changes.
        skip(candidate)
        return false
      }
      const lines = yield* store$("sessionLines", () =>
        store.sessionLines(candidate.sessionKey, wantTitle ? null : candidate.embeddedThroughSeq),
      )
      const records = parseSessionLines(lines)
      const titled = wantTitle
        ? yield* generateTitle(records, options.digest).pipe(
            Effect.flatMap((title) =>
              store$("saveTitle", () =>
                store.saveTitle(candidate.sessionKey, { ...title, entryCount: candidate.entryCount }),
              ),
            ),
            Effect.as(true),
            Effect.catch(onSessionError(candidate)),
          )
        : false
      const embedded = wantChunks
        ? yield* Effect.gen(function* () {
            const after = candidate.embeddedThroughSeq ?? Number.NEGATIVE_INFINITY
            const chunks = sessionChunks(digestItems(records.filter((r) => r.seq > after)), options.chunks)
            const out: EmbeddedChunk[] = []
            const ollama = yield* OllamaClient
            for (let i = 0; i < chunks.length; i += embedBatch) {
              const part = chunks.slice(i, i + embedBatch)
              const vectors = yield* ollama.embed(part.map((c) => c.text))
              for (const [j, chunk] of part.entries()) {
                const vector = vectors[j]
                if (vector) out.push({ ...chunk, vector: vectorToBlob(normaliseInPlace(vector)) })
              }
            }
            const throughSeq = lines.reduce((max, l) => Math.max(max, l.seq), candidate.embeddedThroughSeq ?? -1)
            yield* store$("saveChunks", () => store.saveChunks(candidate.sessionKey, out, throughSeq, model))
            update({ embeddedChunks: status.embeddedChunks + out.length })
            return true
          }).pipe(Effect.catch(onSessionError(candidate)))
        : false
      update({
        titled: status.titled + (titled ? 1 : 0),
        embeddedSessions: status.embeddedSessions + (embedded ? 1 : 0),
      })
      if (titled || embedded) worked++
      return titled || embedded
    })

  const pass: Effect.Effect<PassResult, PassError, OllamaClient> = Effect.gen(function* () {
    const ollama = yield* OllamaClient
    const health = yield* ollama.health
    update({ health })
    if (health._tag === "Unavailable") return yield* Effect.fail(health.error)
    const pulled = new Set(health.models.map(fullModelName))
    const canTitle = pulled.has(fullModelName(ollama.config.chatModel))
    const canEmbed = pulled.has(fullModelName(ollama.config.embedModel))
    if (!canTitle && !canEmbed) {
      update({ state: "models-missing", reason: describeOllamaHealth(health) })
      return { titled: 0, embeddedSessions: 0, failed: 0, handled: 0, stoppedBy: describeOllamaHealth(health) }
    }
    // A model pulled (or removed) since the last pass: sessions skipped for lack of it are due now.
    const capabilities = `${canTitle}/${canEmbed}`
    if (capabilities !== lastCapabilities) skipped.clear()
    lastCapabilities = capabilities
    const now = Date.now()
    for (const [key, skip] of skipped) if (now - skip.at >= retrySkippedMs) skipped.delete(key)
    // Ask for as many more as are skipped, so skipped sessions cannot crowd out the others.
    const found = yield* store$("pendingSessions", () => store.pendingSessions(batch + skipped.size))
    const candidates = found
      .filter((c) => {
        const skip = skipped.get(c.sessionKey)
        return skip === undefined || skip.entryCount !== c.entryCount
      })
      .sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : 0))
      .slice(0, batch)
    update({
      state: candidates.length > 0 ? "working" : "idle",
      reason: health._tag === "ModelsMissing" ? describeOllamaHealth(health) : null,
      retryAt: null,
    })
    const before = status
    const workedBefore = worked
    yield* Effect.forEach(candidates, (c) => handleSession(c, canTitle, canEmbed, ollama.config.embedModel), {
      concurrency,
      discard: true,
    })
    return {
      titled: status.titled - before.titled,
      embeddedSessions: status.embeddedSessions - before.embeddedSessions,
      failed: status.failed - before.failed,
      handled: worked - workedBefore,
      stoppedBy: null,
    }
  })

  const runOnce: Effect.Effect<PassResult, never, OllamaClient> = pass.pipe(
    Effect.catch((error: PassError) =>
      Effect.sync((): PassResult => {
        const reason = error instanceof StoreFailed ? describeError(error) : unavailableReason(error, status.health)
        update({
          state:
            error instanceof StoreFailed
              ? "store-error"
              : error._tag === "OllamaModelMissing"
                ? "models-missing"
                : "ollama-unavailable",
          reason,
          lastError: describeError(error),
        })
        return { titled: 0, embeddedSessions: 0, failed: 0, handled: 0, stoppedBy: reason }
      }),
    ),
    // A defect (a bug, a throwing port) must not end the loop either.
    Effect.catchCause((cause) =>
      Effect.sync((): PassResult => {
        const reason = `indexer failed: ${String(cause)}`
        update({ state: "store-error", reason, lastError: reason })
        return { titled: 0, embeddedSessions: 0, failed: 0, handled: 0, stoppedBy: reason }
      }),
    ),
  )

  const pause = (ms: number): Effect.Effect<void> =>
    woken
      ? Effect.sync(() => {
          woken = false
        })
      : Effect.race(
          Effect.sleep(ms),
          Effect.callback<void>((resume) => {
            wakeUp = () => resume(Effect.void)
            return Effect.sync(() => {
              wakeUp = null
            })
          }),
        ).pipe(
          Effect.ensuring(
            Effect.sync(() => {
              woken = false
            }),
          ),
        )

  const run: Effect.Effect<never, never, OllamaClient> = Effect.gen(function* () {
    let backoff = minBackoffMs
    for (;;) {
      const result = yield* runOnce
      if (result.stoppedBy !== null) {
        update({ retryAt: new Date(Date.now() + backoff).toISOString() })
        yield* pause(backoff)
        backoff = Math.min(backoff * 2, maxBackoffMs)
        continue
      }
      backoff = minBackoffMs
      if (result.handled === 0) yield* pause(idleMs)
    }
  })

  return {
    status: () => status,
    runOnce,
    run,
    wake: () => {
      woken = true
      wakeUp?.()
    },
  }
}

function unavailableReason(error: OllamaError, health: OllamaHealth | null): string {
  const url = health?.url ?? ""
  return describeOllamaHealth({ _tag: "Unavailable", url, error })
}

/** Ollama's embeddings are normalised already; a model that does not normalise is made to. */
function normaliseInPlace(vector: Float32Array): Float32Array {
  let sum = 0
  for (const x of vector) sum += x * x
  const norm = Math.sqrt(sum)
  if (norm > 0 && Math.abs(norm - 1) > 1e-4) for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] ?? 0) / norm
  return vector
}
