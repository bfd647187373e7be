/**
 * Generated titles and chunk vectors in SQLite (`AiStore`, issue #13). `ai_sessions` holds one row per
 * session the indexer has handled (its generated title and summary, the entry count it was made from,
 * how far its lines are embedded); `ai_chunks` one row per embedded chunk, the vector a BLOB of
 * float32 (1 KB at 256 dimensions). Vectors are searched in process (`@overlord/ai`'s `VectorIndex`),
 * so the only reads of them are "every vector after chunk id N".
 */
import type { Database } from "bun:sqlite"
import {
  type CandidateRow,
  candidateOf,
  filterWhere,
  INFO_SELECT,
  type InfoRow,
  inChunks,
  infoOf,
  PENDING_WHERE,
  placeholders,
  sessionRowId,
} from "../ai-rows.ts"
import type { LineLog } from "../line-log.ts"
import type {
  Actor,
  AiCandidate,
  AiChunk,
  AiProgress,
  AiSessionFilter,
  AiSessionInfo,
  AiStore,
  AiTitleRecord,
  ChunkText,
  GeneratedTitleRow,
  StoredVector,
} from "../store.ts"

const now = () => new Date().toISOString()
const decoder = new TextDecoder()

export class SqliteAi implements AiStore {
  constructor(
    private readonly db: Database,
    private readonly lines: LineLog,
  ) {}

  pendingSessions(limit: number): AiCandidate[] {
    const rows = this.db
      .query(
        `SELECT s.id, s.last_at, s.entry_count, s.last_seq,
           (s.custom_title IS NOT NULL OR s.ai_title IS NOT NULL) AS own, a.titled_at_entries, a.embedded_through_seq
         FROM sessions s LEFT JOIN ai_sessions a ON a.session_id = s.id
         WHERE s.entry_count > 0 AND ${PENDING_WHERE}
         ORDER BY s.last_at DESC, s.id DESC LIMIT ?`,
      )
      .all(Math.max(1, Math.min(limit, 1000))) as CandidateRow[]
    return rows.map(candidateOf)
  }

  sessionLines(sessionKey: string, afterSeq: number | null): { seq: number; line: string }[] {
    const rows = this.db
      .query(
        "SELECT seq, raw_at, raw_len FROM entries WHERE session_id = ? AND superseded = 0 AND seq > ? ORDER BY seq",
      )
      .all(sessionRowId(sessionKey), afterSeq ?? -1) as { seq: number; raw_at: number; raw_len: number }[]
    return rows.map((r) => ({ seq: r.seq, line: decoder.decode(this.lines.read(r.raw_at, r.raw_len)) }))
  }

  saveTitle(sessionKey: string, title: AiTitleRecord): void {
    const id = sessionRowId(sessionKey)
    this.db
      .query(
        `INSERT INTO ai_sessions (session_id, user_id, title, summary, title_model, titled_at_entries, titled_at)
         SELECT id, user_id, ?, ?, ?, ?, ? FROM sessions WHERE id = ?
         ON CONFLICT (session_id) DO UPDATE SET title = excluded.title, summary = excluded.summary,
           title_model = excluded.title_model, titled_at_entries = excluded.titled_at_entries, titled_at = excluded.titled_at`,
      )
      .run(title.title, title.summary, title.model, title.entryCount, now(), id)
  }

  saveChunks(sessionKey: string, chunks: readonly AiChunk[], throughSeq: number, model: string): void {
    const id = sessionRowId(sessionKey)
    this.db
      .transaction(() => {
        const owner = this.db.query("SELECT user_id FROM sessions WHERE id = ?").get(id) as { user_id: number } | null
        if (!owner) return
        const insert = this.db.query(
          "INSERT INTO ai_chunks (user_id, session_id, seq, role, text, model, vector) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        for (const c of chunks) insert.run(owner.user_id, id, c.seq, c.role, c.text, model, c.vector)
        this.db
          .query(
            `INSERT INTO ai_sessions (session_id, user_id, embedded_through_seq, embed_model) VALUES (?, ?, ?, ?)
             ON CONFLICT (session_id) DO UPDATE SET embedded_through_seq = excluded.embedded_through_seq,
               embed_model = excluded.embed_model`,
          )
          .run(id, owner.user_id, throughSeq, model)
      })
      .immediate()
  }

  vectorsAfter(afterId: number, limit: number): StoredVector[] {
    const rows = this.db
      .query("SELECT id, user_id, session_id, seq, vector FROM ai_chunks WHERE id > ? ORDER BY id LIMIT ?")
      .all(afterId, Math.max(1, limit)) as {
      id: number
      user_id: number
      session_id: number
      seq: number
      vector: Uint8Array
    }[]
    return rows.map((r) => ({
      chunkId: r.id,
      userId: r.user_id,
      sessionKey: String(r.session_id),
      seq: r.seq,
      vector: r.vector,
    }))
  }

  generatedTitles(actor: Actor, sessionIds: readonly string[]): GeneratedTitleRow[] {
    const out: GeneratedTitleRow[] = []
    for (const part of inChunks([...new Set(sessionIds)])) {
      const rows = this.db
        .query(
          `SELECT s.session_uid, m.machine_uid, a.title, a.summary, a.title_model FROM ai_sessions a
           JOIN sessions s ON s.id = a.session_id JOIN machines m ON m.id = s.machine_id
           WHERE a.user_id = ? AND a.title IS NOT NULL AND s.session_uid IN (${placeholders(part.length)})`,
        )
        .all(actor.userId, ...part) as {
        session_uid: string
        machine_uid: string
        title: string
        summary: string
        title_model: string
      }[]
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

  aiSessions(actor: Actor, filter: AiSessionFilter, sessionKeys?: readonly string[]): AiSessionInfo[] {
    const { where, params } = filterWhere(actor, filter)
    const run = (extra: string[], extraParams: number[]) =>
      (
        this.db
          .query(`${INFO_SELECT} WHERE ${[...where, ...extra].join(" AND ")}`)
          .all(...params, ...extraParams) as InfoRow[]
      ).map(infoOf)
    if (sessionKeys === undefined) return run([], [])
    const out: AiSessionInfo[] = []
    for (const part of inChunks(sessionKeys.map(sessionRowId))) {
      out.push(...run([`s.id IN (${placeholders(part.length)})`], part))
    }
    return out
  }

  chunkTexts(actor: Actor, chunkIds: readonly number[]): ChunkText[] {
    const out: ChunkText[] = []
    for (const part of inChunks(chunkIds)) {
      const rows = this.db
        .query(
          `SELECT id, session_id, seq, role, text FROM ai_chunks WHERE user_id = ? AND id IN (${placeholders(part.length)})`,
        )
        .all(actor.userId, ...part) as { id: number; session_id: number; seq: number; role: string; text: string }[]
      for (const r of rows) {
        out.push({ chunkId: r.id, sessionKey: String(r.session_id), seq: r.seq, role: r.role, text: r.text })
      }
    }
    return out
  }

  aiProgress(actor: Actor): AiProgress {
    const s = this.db.query("SELECT count(*) AS n FROM sessions WHERE user_id = ?").get(actor.userId) as { n: number }
    const a = this.db
      .query(
        `SELECT count(title) AS titled, count(embedded_through_seq) AS embedded FROM ai_sessions WHERE user_id = ?`,
      )
      .get(actor.userId) as { titled: number; embedded: number }
    const c = this.db.query("SELECT count(*) AS n FROM ai_chunks WHERE user_id = ?").get(actor.userId) as { n: number }
    return { sessions: s.n, titled: a.titled, embeddedSessions: a.embedded, chunks: c.n }
  }
}
