/**
 * Generated titles and chunk vectors in MySQL, MariaDB and PlanetScale (`AiStore`, issue #13), the
 * same tables as SQLite's (`../sqlite/ai.ts`): vectors are BLOBs of float32 (Debian's MariaDB has no
 * vector type, PlanetScale's is not MySQL's), searched in process.
 */
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
import type { MysqlClient, SqlValue } from "./client.ts"
import { readLines } from "./line-chunks.ts"

const now = () => new Date().toISOString()
const decoder = new TextDecoder()
/** Chunk rows per INSERT: 64 rows of 1 KB vectors and 1 KB texts stay far below any packet limit. */
const CHUNK_ROWS = 64

export class MysqlAi implements AiStore {
  constructor(private readonly client: MysqlClient) {}

  async pendingSessions(limit: number): Promise<AiCandidate[]> {
    const { rows } = await this.client.query<CandidateRow>(
      `SELECT s.id, s.last_at, s.entry_count, s.last_seq,
         (s.custom_title IS NOT NULL OR s.ai_title IS NOT NULL) AS own, a.titled_at_entries, a.embedded_through_seq
       FROM sessions s LEFT JOIN ai_sessions a ON a.session_id = s.id
       WHERE s.entry_count > 0 AND ${PENDING_WHERE}
       ORDER BY s.last_at DESC, s.id DESC LIMIT ?`,
      [Math.max(1, Math.min(limit, 1000))],
    )
    return rows.map(candidateOf)
  }

  async sessionLines(sessionKey: string, afterSeq: number | null): Promise<{ seq: number; line: string }[]> {
    const { rows } = await this.client.query<{ seq: number; raw_len: number }>(
      "SELECT seq, raw_len FROM entries WHERE session_id = ? AND superseded = 0 AND seq > ? ORDER BY seq",
      [sessionRowId(sessionKey), afterSeq ?? -1],
    )
    const lines = rows.map((r) => ({ seq: Number(r.seq), raw_len: Number(r.raw_len) }))
    const bytes = await readLines(this.client, lines, this.client.maxStatementBytes)
    return lines.map((l, i) => ({ seq: l.seq, line: decoder.decode(bytes[i]) }))
  }

  async saveTitle(sessionKey: string, title: AiTitleRecord): Promise<void> {
    await this.client.query(
      `INSERT INTO ai_sessions (session_id, user_id, title, summary, title_model, titled_at_entries, titled_at)
       SELECT id, user_id, ?, ?, ?, ?, ? FROM sessions WHERE id = ?
       ON DUPLICATE KEY UPDATE title = VALUES(title), summary = VALUES(summary), title_model = VALUES(title_model),
         titled_at_entries = VALUES(titled_at_entries), titled_at = VALUES(titled_at)`,
      [title.title, title.summary, title.model, title.entryCount, now(), sessionRowId(sessionKey)],
    )
  }

  async saveChunks(sessionKey: string, chunks: readonly AiChunk[], throughSeq: number, model: string): Promise<void> {
    const id = sessionRowId(sessionKey)
    await this.client.transaction(async (tx) => {
      const owner = (await tx.query<{ user_id: number }>("SELECT user_id FROM sessions WHERE id = ?", [id])).rows[0]
      if (!owner) return
      const userId = Number(owner.user_id)
      for (const part of inChunks(chunks, CHUNK_ROWS)) {
        const params: SqlValue[] = []
        for (const c of part) params.push(userId, id, c.seq, c.role, c.text, model, c.vector)
        await tx.query(
          `INSERT INTO ai_chunks (user_id, session_id, seq, role, text, model, vector) VALUES ${part
            .map(() => "(?, ?, ?, ?, ?, ?, ?)")
            .join(", ")}`,
          params,
        )
      }
      await tx.query(
        `INSERT INTO ai_sessions (session_id, user_id, embedded_through_seq, embed_model) VALUES (?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE embedded_through_seq = VALUES(embedded_through_seq), embed_model = VALUES(embed_model)`,
        [id, userId, throughSeq, model],
      )
    })
  }

  async vectorsAfter(afterId: number, limit: number): Promise<StoredVector[]> {
    const { rows } = await this.client.query<{
      id: number
      user_id: number
      session_id: number
      seq: number
      vector: Uint8Array
    }>("SELECT id, user_id, session_id, seq, vector FROM ai_chunks WHERE id > ? ORDER BY id LIMIT ?", [
      afterId,
      Math.max(1, limit),
    ])
    return rows.map((r) => ({
      chunkId: Number(r.id),
      userId: Number(r.user_id),
      sessionKey: String(r.session_id),
      seq: Number(r.seq),
      vector: r.vector,
    }))
  }

  async generatedTitles(actor: Actor, sessionIds: readonly string[]): Promise<GeneratedTitleRow[]> {
    const out: GeneratedTitleRow[] = []
    for (const part of inChunks([...new Set(sessionIds)])) {
      const { rows } = await this.client.query<{
        session_uid: string
        machine_uid: string
        title: string
        summary: string
        title_model: string
      }>(
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

  async aiSessions(actor: Actor, filter: AiSessionFilter, sessionKeys?: readonly string[]): Promise<AiSessionInfo[]> {
    const { where, params } = filterWhere(actor, filter)
    const run = async (extra: string[], extraParams: number[]) =>
      (
        await this.client.query<InfoRow>(`${INFO_SELECT} WHERE ${[...where, ...extra].join(" AND ")}`, [
          ...params,
          ...extraParams,
        ])
      ).rows.map(infoOf)
    if (sessionKeys === undefined) return run([], [])
    const out: AiSessionInfo[] = []
    for (const part of inChunks(sessionKeys.map(sessionRowId))) {
      out.push(...(await run([`s.id IN (${placeholders(part.length)})`], part)))
    }
    return out
  }

  async chunkTexts(actor: Actor, chunkIds: readonly number[]): Promise<ChunkText[]> {
    const out: ChunkText[] = []
    for (const part of inChunks(chunkIds)) {
      const { rows } = await this.client.query<{
        id: number
        session_id: number
        seq: number
        role: string
        text: string
      }>(
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

  async aiProgress(actor: Actor): Promise<AiProgress> {
    const s = await this.client.query<{ n: number }>("SELECT count(*) AS n FROM sessions WHERE user_id = ?", [
      actor.userId,
    ])
    const a = await this.client.query<{ titled: number; embedded: number }>(
      "SELECT count(title) AS titled, count(embedded_through_seq) AS embedded FROM ai_sessions WHERE user_id = ?",
      [actor.userId],
    )
    const c = await this.client.query<{ n: number }>("SELECT count(*) AS n FROM ai_chunks WHERE user_id = ?", [
      actor.userId,
    ])
    return {
      sessions: Number(s.rows[0]?.n ?? 0),
      titled: Number(a.rows[0]?.titled ?? 0),
      embeddedSessions: Number(a.rows[0]?.embedded ?? 0),
      chunks: Number(c.rows[0]?.n ?? 0),
    }
  }
}
