/**
 * Generated titles and chunk vectors (`AiStore`, issue #13), written once for every engine: the rule
 * for a session that needs work, the filters search shares with session lists, the row mapping and the
 * statements, as queries an engine runs through its `QueryDialect` (`query-dialect.ts`; `sqlite/ai.ts`,
 * `mysql/ai.ts`). What differs per engine is where a line's bytes are (`sessionLines`), the upserts and
 * how many chunk rows go in one INSERT, which the dialect writes.
 *
 * `ai_sessions` holds one row per session the indexer has handled (its generated title and summary, the
 * entry count it was made from, how far its lines are embedded); `ai_chunks` one row per embedded chunk,
 * the vector a BLOB of float32 (1 KB at 256 dimensions; Debian's MariaDB has no vector type,
 * PlanetScale's is not MySQL's). Vectors are searched in process (`@overlord/ai`'s `VectorIndex`), so
 * the only reads of them are "every vector after chunk id N".
 */
import { step } from "./ingest/steps.ts"
import type { Mode, Query, QueryDialect, Runner } from "./query-dialect.ts"
import { all, inChunks, placeholders, run } from "./query-dialect.ts"
import { type LikeDialect, sessionListQuery } from "./session-list-query.ts"
import type {
  Actor,
  AiCandidate,
  AiChunk,
  AiProgress,
  AiSessionFilter,
  AiSessionInfo,
  AiTitleRecord,
  ChunkText,
  GeneratedTitleRow,
  StoredVector,
} from "./store.ts"

/** Kept in step with `@overlord/ai`'s `GROWTH_ENTRIES` / `GROWTH_RATIO` (a session titled again once grown). */
const GROWTH_ENTRIES = 20
const GROWTH_RATIO = 1.25
/** Candidates per `pendingSessions` call at most. */
const MAX_PENDING = 1000

/** The pending-session condition (`s` sessions, `a` ai_sessions). */
const PENDING_WHERE = `(a.session_id IS NULL OR a.embedded_through_seq IS NULL OR s.last_seq > a.embedded_through_seq
  OR (s.custom_title IS NULL AND s.ai_title IS NULL AND (a.titled_at_entries IS NULL
    OR s.entry_count >= a.titled_at_entries + ${GROWTH_ENTRIES} OR s.entry_count >= a.titled_at_entries * ${GROWTH_RATIO})))`

interface CandidateRow {
  id: number
  last_at: string | null
  entry_count: number
  last_seq: number
  own: number
  titled_at_entries: number | null
  embedded_through_seq: number | null
}

const candidateOf = (r: CandidateRow): AiCandidate => ({
  sessionKey: String(r.id),
  updatedAt: r.last_at ?? "",
  entryCount: Number(r.entry_count),
  lastSeq: Number(r.last_seq),
  hasOwnTitle: Number(r.own) === 1,
  titledAtEntries: r.titled_at_entries === null ? null : Number(r.titled_at_entries),
  embeddedThroughSeq: r.embedded_through_seq === null ? null : Number(r.embedded_through_seq),
})

/** The `sessions` row id a session key names; a key the store did not give out is refused. */
export const sessionRowId = (key: string): number => {
  if (!/^\d{1,15}$/.test(key)) throw new RangeError(`not a session key: ${key}`)
  return Number(key)
}

const INFO_SELECT = `SELECT s.id, s.session_uid, m.machine_uid, s.project_dir, s.last_at,
  coalesce(s.custom_title, s.ai_title, a.title, s.summary_title, s.first_prompt) AS title
  FROM sessions s JOIN machines m ON m.id = s.machine_id LEFT JOIN ai_sessions a ON a.session_id = s.id`

interface InfoRow {
  id: number
  session_uid: string
  machine_uid: string
  project_dir: string
  last_at: string | null
  title: string | null
}

const infoOf = (r: InfoRow): AiSessionInfo => ({
  sessionKey: String(r.id),
  sessionId: r.session_uid,
  machineId: r.machine_uid,
  projectDir: r.project_dir,
  title: r.title,
  lastAt: r.last_at,
})

/** AI filters match no text (a model or `q` is the session list's alone): no engine's LIKE is written. */
const noLike = (): never => {
  throw new Error("an AI session filter matches no text")
}
const NO_LIKE: LikeDialect = { like: noLike, likeIgnoringCase: noLike }

// ---- the statements (`AiStore`'s methods, in its order; `sessionLines` is the engine's) -----------

function* pendingSessions(db: QueryDialect, limit: number): Query<AiCandidate[]> {
  const rows = yield* all<CandidateRow>(
    db,
    `SELECT s.id, s.last_at, s.entry_count, s.last_seq,
       (s.custom_title IS NOT NULL OR s.ai_title IS NOT NULL) AS own, a.titled_at_entries, a.embedded_through_seq
     FROM sessions s LEFT JOIN ai_sessions a ON a.session_id = s.id
     WHERE s.entry_count > 0 AND ${PENDING_WHERE}
     ORDER BY s.last_at DESC, s.id DESC LIMIT ?`,
    [Math.max(1, Math.min(limit, MAX_PENDING))],
  )
  return rows.map(candidateOf)
}

function* saveTitle(db: QueryDialect, sessionKey: string, title: AiTitleRecord): Query<void> {
  yield* run(
    db,
    `INSERT INTO ai_sessions (session_id, user_id, title, summary, title_model, titled_at_entries, titled_at)
     SELECT id, user_id, ?, ?, ?, ?, ? FROM sessions WHERE id = ?
     ${db.upsert("session_id", ["title", "summary", "title_model", "titled_at_entries", "titled_at"])}`,
    [title.title, title.summary, title.model, title.entryCount, new Date().toISOString(), sessionRowId(sessionKey)],
  )
}

/** One transaction: the chunks and how far the session is embedded are stored together. */
function saveChunks(
  db: QueryDialect,
  sessionKey: string,
  chunks: readonly AiChunk[],
  throughSeq: number,
  model: string,
): Query<void> {
  const id = sessionRowId(sessionKey)
  return step(
    db.transaction(function* (tx) {
      const [owner] = yield* all<{ user_id: number }>(tx, "SELECT user_id FROM sessions WHERE id = ?", [id])
      if (!owner) return
      const userId = Number(owner.user_id)
      yield* step(
        tx.insertRows(
          "ai_chunks",
          ["user_id", "session_id", "seq", "role", "text", "model", "vector"],
          chunks.map((c) => [userId, id, c.seq, c.role, c.text, model, c.vector]),
          false,
        ),
      )
      yield* run(
        tx,
        `INSERT INTO ai_sessions (session_id, user_id, embedded_through_seq, embed_model) VALUES (?, ?, ?, ?)
         ${tx.upsert("session_id", ["embedded_through_seq", "embed_model"])}`,
        [id, userId, throughSeq, model],
      )
    }),
  )
}

function* vectorsAfter(db: QueryDialect, afterId: number, limit: number): Query<StoredVector[]> {
  const rows = yield* all<{ id: number; user_id: number; session_id: number; seq: number; vector: Uint8Array }>(
    db,
    "SELECT id, user_id, session_id, seq, vector FROM ai_chunks WHERE id > ? ORDER BY id LIMIT ?",
    [afterId, Math.max(1, limit)],
  )
  return rows.map((r) => ({
    chunkId: Number(r.id),
    userId: Number(r.user_id),
    sessionKey: String(r.session_id),
    seq: Number(r.seq),
    vector: r.vector,
  }))
}

function* generatedTitles(db: QueryDialect, actor: Actor, sessionIds: readonly string[]): Query<GeneratedTitleRow[]> {
  const out: GeneratedTitleRow[] = []
  for (const part of inChunks([...new Set(sessionIds)])) {
    const rows = yield* all<{
      session_uid: string
      machine_uid: string
      title: string
      summary: string
      title_model: string
    }>(
      db,
      `SELECT s.session_uid, m.machine_uid, a.title, a.summary, a.title_model FROM ai_sessions a
       JOIN sessions s ON s.id = a.session_id JOIN machines m ON m.id = s.machine_id
       WHERE a.user_id = ? AND a.title IS NOT NULL AND s.session_uid IN (${placeholders(part.length)})`,
      [actor.userId, ...part],
    )
    for (const r of rows) {
      out.push({
        sessionId: r.session_uid,
        machineId: r.machine_uid,
        title: r.title,
        summary: r.summary,
        model: r.title_model,
      })
    }
  }
  return out
}

/** The filter is the session list's own (`sessionListQuery`): search narrows exactly as lists do. */
function* aiSessions(
  db: QueryDialect,
  actor: Actor,
  filter: AiSessionFilter,
  sessionKeys?: readonly string[],
): Query<AiSessionInfo[]> {
  const { where, params } = sessionListQuery(actor, filter, NO_LIKE)
  if (sessionKeys === undefined) return (yield* all<InfoRow>(db, `${INFO_SELECT} WHERE ${where}`, params)).map(infoOf)
  const out: AiSessionInfo[] = []
  for (const part of inChunks(sessionKeys.map(sessionRowId))) {
    const rows = yield* all<InfoRow>(db, `${INFO_SELECT} WHERE ${where} AND s.id IN (${placeholders(part.length)})`, [
      ...params,
      ...part,
    ])
    out.push(...rows.map(infoOf))
  }
  return out
}

function* chunkTexts(db: QueryDialect, actor: Actor, chunkIds: readonly number[]): Query<ChunkText[]> {
  const out: ChunkText[] = []
  for (const part of inChunks(chunkIds)) {
    const rows = yield* all<{ id: number; session_id: number; seq: number; role: string; text: string }>(
      db,
      `SELECT id, session_id, seq, role, text FROM ai_chunks WHERE user_id = ? AND id IN (${placeholders(part.length)})`,
      [actor.userId, ...part],
    )
    for (const r of rows) {
      out.push({
        chunkId: Number(r.id),
        sessionKey: String(r.session_id),
        seq: Number(r.seq),
        role: r.role,
        text: r.text,
      })
    }
  }
  return out
}

function* aiProgress(db: QueryDialect, actor: Actor): Query<AiProgress> {
  const [s] = yield* all<{ n: number }>(db, "SELECT count(*) AS n FROM sessions WHERE user_id = ?", [actor.userId])
  const [a] = yield* all<{ titled: number; embedded: number }>(
    db,
    "SELECT count(title) AS titled, count(embedded_through_seq) AS embedded FROM ai_sessions WHERE user_id = ?",
    [actor.userId],
  )
  const [c] = yield* all<{ n: number }>(db, "SELECT count(*) AS n FROM ai_chunks WHERE user_id = ?", [actor.userId])
  return {
    sessions: Number(s?.n ?? 0),
    titled: Number(a?.titled ?? 0),
    embeddedSessions: Number(a?.embedded ?? 0),
    chunks: Number(c?.n ?? 0),
  }
}

/**
 * The `AiStore` on an engine but for `sessionLines` (where a line's bytes are is the engine's): each
 * method runs its query on the engine's dialect with the engine's runner (`runSync` or `runAsync`).
 * `sqlite/ai.ts` and `mysql/ai.ts` extend it.
 */
export function aiStoreOn<M extends Mode>(runQuery: Runner<M>) {
  return class AiQueries {
    constructor(protected readonly db: QueryDialect) {}
    pendingSessions(limit: number) {
      return runQuery(pendingSessions(this.db, limit))
    }
    saveTitle(sessionKey: string, title: AiTitleRecord) {
      return runQuery(saveTitle(this.db, sessionKey, title))
    }
    saveChunks(sessionKey: string, chunks: readonly AiChunk[], throughSeq: number, model: string) {
      return runQuery(saveChunks(this.db, sessionKey, chunks, throughSeq, model))
    }
    vectorsAfter(afterId: number, limit: number) {
      return runQuery(vectorsAfter(this.db, afterId, limit))
    }
    generatedTitles(actor: Actor, sessionIds: readonly string[]) {
      return runQuery(generatedTitles(this.db, actor, sessionIds))
    }
    aiSessions(actor: Actor, filter: AiSessionFilter, sessionKeys?: readonly string[]) {
      return runQuery(aiSessions(this.db, actor, filter, sessionKeys))
    }
    chunkTexts(actor: Actor, chunkIds: readonly number[]) {
      return runQuery(chunkTexts(this.db, actor, chunkIds))
    }
    aiProgress(actor: Actor) {
      return runQuery(aiProgress(this.db, actor))
    }
  }
}
