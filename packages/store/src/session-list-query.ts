/**
 * The session list's filters and keyset page, the same for every engine: only how a column is
 * matched with `LIKE` differs (SQLite's LIKE is case-insensitive and needs its escape character named;
 * MySQL's columns compare byte for byte, so a search lowers both sides).
 */
import type { Api } from "@overlord/protocol"
import { decodeCursor, encodeCursor } from "./cursor.ts"
import type { Actor, SessionQuery } from "./store.ts"

export const MAX_SESSION_PAGE = 1000

/** `LIKE` with `\` escaping `%`, `_` and itself. */
export const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`)

/** The columns a session search (`q`) looks in. */
const SEARCHED = ["s.session_uid", "s.custom_title", "s.ai_title", "s.summary_title", "s.first_prompt", "s.cwd"]

export interface SessionListQuery {
  readonly where: string
  readonly params: (string | number)[]
  readonly limit: number
}

/** How an engine writes `column LIKE ?` (with `\` as the escape character). */
export interface LikeDialect {
  /** As the column's collation compares. */
  readonly like: (column: string) => string
  /** Ignoring case, for the free-text search. */
  readonly likeIgnoringCase: (column: string) => string
}

/**
 * The `WHERE` clause (over `sessions s` joined with `machines m`) and parameters for a page of the
 * actor's sessions, keyset on (last_at DESC, id DESC), plus the page size.
 */
export function sessionListQuery(actor: Actor, query: SessionQuery, dialect: LikeDialect): SessionListQuery {
  const limit = Math.min(Math.max(query.limit ?? 100, 1), MAX_SESSION_PAGE)
  const where = ["s.user_id = ?"]
  const params: (string | number)[] = [actor.userId]
  if (query.project) {
    where.push("s.project_dir = ?")
    params.push(query.project)
  }
  if (query.machine) {
    where.push("m.machine_uid = ?")
    params.push(query.machine)
  }
  if (query.model) {
    // Part of a model's id, in any case: the dashboard shows "opus-4-6" for claude-opus-4-6, and
    // "deepseek" or "opus" found nothing when only a whole id matched (walkthrough 3).
    where.push(dialect.likeIgnoringCase("s.models"))
    params.push(`%${likeEscape(query.model)}%`)
  }
  if (query.from) {
    where.push("s.last_at >= ?")
    params.push(query.from)
  }
  if (query.to) {
    where.push("s.first_at <= ?")
    params.push(query.to)
  }
  if (query.hasErrors) where.push("s.has_errors = 1")
  if (query.q) {
    where.push(`(${SEARCHED.map(dialect.likeIgnoringCase).join(" OR ")})`)
    const pattern = `%${likeEscape(query.q)}%`
    for (const _ of SEARCHED) params.push(pattern)
  }
  if (query.cursor) {
    // Sessions without a timestamp sort last (NULL is smallest).
    const c = decodeCursor(query.cursor)
    if (c.at === "") {
      where.push("(s.last_at IS NULL AND s.id < ?)")
      params.push(c.id)
    } else {
      where.push("(s.last_at < ? OR (s.last_at = ? AND s.id < ?) OR s.last_at IS NULL)")
      params.push(c.at, c.at, c.id)
    }
  }
  return { where: where.join(" AND "), params, limit }
}

/** A page from the `limit + 1` rows the query returned, with the cursor of the next one. */
export function sessionListPage<R extends { readonly id: number; readonly last_at: string | null }>(
  rows: readonly R[],
  limit: number,
  toSummary: (row: R) => Api.SessionSummary,
): Api.SessionList {
  const page = rows.slice(0, limit)
  const last = page[page.length - 1]
  return {
    sessions: page.map(toSummary),
    nextCursor: rows.length > limit && last ? encodeCursor({ at: last.last_at ?? "", id: last.id }) : null,
  }
}
