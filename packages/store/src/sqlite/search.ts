/**
 * Full-text search in SQLite (`SearchStore`): `entry_fts` is a contentless FTS5 index keyed by `seq`,
 * filled in the background in batches that stop after 15 ms, so an API request never waits long behind
 * one; snippets are cut from the line itself (read from the line log).
 */
import type { Database } from "bun:sqlite"
import type { Api } from "@overlord/protocol"
import { searchTextOfStored } from "../line-facts.ts"
import type { LineLog } from "../line-log.ts"
import { buildSnippet, ftsQuery } from "../search-text.ts"
import type { Actor, SearchStore } from "../store.ts"

/** Longest a search-index batch holds the thread (and the write lock). */
const INDEX_BATCH_BUDGET_MS = 15

export class SqliteSearch implements SearchStore {
  constructor(
    private readonly db: Database,
    private readonly lines: LineLog,
    /** Told how many bytes of index text a batch wrote (the checkpointer counts WAL growth). */
    private readonly wrote: (bytes: number) => void,
  ) {}

  private part = new Uint8Array(0)

  /** A buffer for a long line's chunks (`searchTextOfStored` keeps none of them); none for a whole long line. */
  private partBuffer(length: number): Uint8Array | undefined {
    if (length > 1024 * 1024) return undefined
    if (this.part.length < length) this.part = new Uint8Array(length)
    return this.part
  }

  indexForSearch(limit: number): number {
    let textBytes = 0
    const indexed = this.db
      .transaction(() => {
        const cursor = Number(
          (this.db.query("SELECT value FROM meta WHERE key = 'search_cursor'").get() as { value: string }).value,
        )
        const rows = this.db
          .query(
            "SELECT seq, raw_at, raw_len, terminated FROM entries WHERE seq > ? AND superseded = 0 ORDER BY seq LIMIT ?",
          )
          .iterate(cursor, limit) as IterableIterator<{
          seq: number
          raw_at: number
          raw_len: number
          terminated: number
        }>
        const insert = this.db.query("INSERT OR REPLACE INTO entry_fts (rowid, text) VALUES (?, ?)")
        // Requests wait for a batch on this thread: a batch of large lines (a session of 100 KB tool
        // results) stops at a time budget rather than at its count.
        const deadline = performance.now() + INDEX_BATCH_BUDGET_MS
        let last = -1
        let n = 0
        for (const row of rows) {
          // A line still open has no search text (a JSON value cut short) and is not read: the append that
          // ends it sends the cursor back to it (`searchFrom` in the ingest dialect).
          const text =
            row.terminated === 1
              ? searchTextOfStored(row.raw_len, (from, length) =>
                  this.lines.read(row.raw_at + from, length, this.partBuffer(length)),
                )
              : ""
          if (text) insert.run(row.seq, text)
          textBytes += text.length
          last = row.seq
          n += 1
          if (performance.now() > deadline) break
        }
        if (n === 0) return 0
        this.db.query("UPDATE meta SET value = ? WHERE key = 'search_cursor'").run(String(last))
        return n
      })
      .immediate()
    this.wrote(textBytes)
    return indexed
  }

  search(actor: Actor, q: string, limit: number, sessionIds?: readonly string[]): Api.SearchResult {
    const match = ftsQuery(q)
    const cursor = Number(
      (this.db.query("SELECT value FROM meta WHERE key = 'search_cursor'").get() as { value: string }).value,
    )
    const lag = (
      this.db.query("SELECT count(*) AS n FROM entries WHERE seq > ? AND user_id = ?").get(cursor, actor.userId) as {
        n: number
      }
    ).n
    if (!match || sessionIds?.length === 0) return { hits: [], indexLag: lag }
    const within = sessionIds ? `AND s.session_uid IN (${sessionIds.map(() => "?").join(", ")})` : ""
    const rows = this.db
      .query(
        `SELECT e.seq, e.kind, e.ts, e.raw_at, e.raw_len, s.session_uid, coalesce(s.custom_title, s.ai_title, s.summary_title, s.first_prompt) AS title,
         bm25(entry_fts) AS score
         FROM entry_fts JOIN entries e ON e.seq = entry_fts.rowid JOIN sessions s ON s.id = e.session_id
         WHERE entry_fts MATCH ? AND e.user_id = ? AND e.superseded = 0 ${within} ORDER BY score LIMIT ?`,
      )
      .all(match.expression, actor.userId, ...(sessionIds ?? []), Math.min(Math.max(limit, 1), 200)) as {
      seq: number
      kind: string
      ts: string | null
      raw_at: number
      raw_len: number
      session_uid: string
      title: string | null
      score: number
    }[]
    return {
      hits: rows.map((r) => ({
        sessionId: r.session_uid,
        seq: r.seq,
        kind: r.kind,
        snippet: buildSnippet(
          searchTextOfStored(r.raw_len, (from, length) =>
            this.lines.read(r.raw_at + from, length, this.partBuffer(length)),
          ),
          match.terms,
        ),
        score: -r.score,
        timestamp: r.ts,
        title: r.title,
      })),
      indexLag: lag,
    }
  }
}
