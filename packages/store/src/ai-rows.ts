/**
 * What both engines' `AiStore` share (issue #13): the rule for a session that needs work, in SQL both
 * dialects accept, the filters search shares with session lists, and row shapes.
 */
import type { Actor, AiCandidate, AiSessionFilter, AiSessionInfo } from "./store.ts"

/** Kept in step with `@overlord/ai`'s `GROWTH_ENTRIES` / `GROWTH_RATIO` (a session titled again once grown). */
const GROWTH_ENTRIES = 20
const GROWTH_RATIO = 1.25
/** Placeholders per statement: SQLite's limit is 32,766; lists are cut well below it. */
const IN_LIST = 500

/** The pending-session condition, shared by both engines' SQL (`s` sessions, `a` ai_sessions). */
export const PENDING_WHERE = `(a.session_id IS NULL OR a.embedded_through_seq IS NULL OR s.last_seq > a.embedded_through_seq
  OR (s.custom_title IS NULL AND s.ai_title IS NULL AND (a.titled_at_entries IS NULL
    OR s.entry_count >= a.titled_at_entries + ${GROWTH_ENTRIES} OR s.entry_count >= a.titled_at_entries * ${GROWTH_RATIO})))`

export interface CandidateRow {
  id: number
  last_at: string | null
  entry_count: number
  last_seq: number
  own: number
  titled_at_entries: number | null
  embedded_through_seq: number | null
}

export const candidateOf = (r: CandidateRow): AiCandidate => ({
  sessionKey: String(r.id),
  updatedAt: r.last_at ?? "",
  entryCount: Number(r.entry_count),
  lastSeq: Number(r.last_seq),
  hasOwnTitle: Number(r.own) === 1,
  titledAtEntries: r.titled_at_entries === null ? null : Number(r.titled_at_entries),
  embeddedThroughSeq: r.embedded_through_seq === null ? null : Number(r.embedded_through_seq),
})

export const sessionRowId = (key: string): number => {
  if (!/^\d{1,15}$/.test(key)) throw new RangeError(`not a session key: ${key}`)
  return Number(key)
}

export const INFO_SELECT = `SELECT s.id, s.session_uid, m.machine_uid, s.project_dir, s.last_at,
  coalesce(s.custom_title, s.ai_title, a.title, s.summary_title, s.first_prompt) AS title
  FROM sessions s JOIN machines m ON m.id = s.machine_id LEFT JOIN ai_sessions a ON a.session_id = s.id`

export interface InfoRow {
  id: number
  session_uid: string
  machine_uid: string
  project_dir: string
  last_at: string | null
  title: string | null
}

export const infoOf = (r: InfoRow): AiSessionInfo => ({
  sessionKey: String(r.id),
  sessionId: r.session_uid,
  machineId: r.machine_uid,
  projectDir: r.project_dir,
  title: r.title,
  lastAt: r.last_at,
})

/** The filter's WHERE terms and their parameters (the same semantics as `listSessions`). */
export function filterWhere(actor: Actor, filter: AiSessionFilter): { where: string[]; params: (string | number)[] } {
  const where = ["s.user_id = ?"]
  const params: (string | number)[] = [actor.userId]
  if (filter.project) {
    where.push("s.project_dir = ?")
    params.push(filter.project)
  }
  if (filter.machine) {
    where.push("m.machine_uid = ?")
    params.push(filter.machine)
  }
  if (filter.from) {
    where.push("s.last_at >= ?")
    params.push(filter.from)
  }
  if (filter.to) {
    where.push("s.first_at <= ?")
    params.push(filter.to)
  }
  return { where, params }
}

export const placeholders = (n: number) => Array.from({ length: n }, () => "?").join(", ")

export function inChunks<T>(items: readonly T[], size = IN_LIST): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
