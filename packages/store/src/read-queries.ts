/**
 * What the REST API and the live feed read (`ReadStore`), written once for every engine: the
 * statements, the row -> DTO mapping and the paging rules, as queries an engine runs through its
 * `QueryDialect` (`query-dialect.ts`) with its runner (`sqlite/reads.ts`, `mysql/reads.ts`). An engine's
 * `ReadDialect` says only what its schema and planner need written differently (the session select, a
 * file's byte column, how `LIKE` compares) and where a line's bytes live: SQLite's line log
 * (`line-log.ts`), MySQL's `line_chunks` (`mysql/line-chunks.ts`). Exporting a file's bytes and the usage
 * report stay with the engine: they stream line bytes, or overlap their statements (MySQL).
 */
import type { Api } from "@overlord/protocol"
import { decodeLine } from "@overlord/transcript"
import { REMOTE_COLUMNS, type RemoteRow, remoteOfRow } from "./command-queries.ts"
import { type Step, step } from "./ingest/steps.ts"
import type { Mode, QueryDialect, Runner, SqlValue } from "./query-dialect.ts"
import { all } from "./query-dialect.ts"
import { type LikeDialect, sessionListPage, sessionListQuery } from "./session-list-query.ts"
import type { Actor, EntryQuery, EntryWithSession, SessionQuery } from "./store.ts"

const MAX_ENTRY_PAGE = 1000

/** A session row as `ReadDialect.sessionSelect` reads it. */
export interface SessionRow {
  readonly id: number
  readonly machine_uid: string
  readonly session_uid: string
  readonly project_dir: string
  readonly cwd: string | null
  readonly custom_title: string | null
  readonly ai_title: string | null
  readonly summary_title: string | null
  readonly first_prompt: string | null
  readonly first_at: string | null
  readonly last_at: string | null
  readonly entry_count: number
  readonly has_errors: number
  readonly models: string
  readonly subagent_count: number
  /** Entries in the session's subagent files (`files.line_count`), besides `entry_count`'s main ones. */
  readonly subagent_entries: number
  /** 1 when the session's main file is gone from its machine. */
  readonly source_gone: number
  readonly usage_input: number
  readonly usage_output: number
  readonly usage_cache_write: number
  readonly usage_cache_read: number
  readonly usage_cost: number
}

/** What an entry read takes of each entry and its file, besides where its bytes lie (`L`). */
export interface EntryRow {
  readonly seq: number
  readonly line_no: number
  readonly byte_offset: number
  readonly kind: string
  readonly file_key: string
  readonly agent_id: string | null
}

/**
 * What an engine's reads differ in. `L` is where a line's bytes lie, as the entry columns
 * `lineColumns` read it: `raw_at, raw_len, terminated` in SQLite's line log, `seq, raw_len` in MySQL's
 * `line_chunks`.
 */
export interface ReadDialect<L> {
  readonly db: QueryDialect
  readonly like: LikeDialect
  /**
   * `SELECT … FROM sessions s JOIN machines m ON m.id = s.machine_id` giving a `SessionRow` (the
   * subagent count and the source-gone flag, from each engine's own columns and tables).
   */
  readonly sessionSelect: string
  /** The `files f` column holding how many bytes of the file are stored. */
  readonly fileBytes: string
  /** The `entries e` columns that locate a line's bytes (`L`), e.g. `e.raw_len`. */
  readonly lineColumns: string
  /** Each line's bytes, without its newline, in the order given. */
  readLines(rows: readonly L[]): Step<Uint8Array[]>
}

export function toMachine(
  m: RemoteRow & {
    readonly machine_uid: string
    readonly name: string
    readonly online: number
    readonly last_seen_at: string | null
    readonly files_tracked: number
    readonly bytes_pending: number
    readonly last_error: string | null
    readonly accepts_commands: number
    readonly parent_uid: string | null
    readonly parent_kind: string | null
  },
): Api.Machine {
  const remote = remoteOfRow(m)
  return {
    machineId: m.machine_uid,
    name: m.name,
    online: m.online === 1,
    lastSeenAt: m.last_seen_at,
    filesTracked: m.files_tracked,
    bytesPending: m.bytes_pending,
    lastError: m.last_error,
    // MySQL's coalesce(r.enabled, 0) may come back as a string.
    acceptsCommands: Number(m.accepts_commands) === 1,
    ...(remote ? { remote } : {}),
    ...(m.parent_uid !== null && m.parent_kind === "sandbox"
      ? { parent: { machineId: m.parent_uid, kind: m.parent_kind } }
      : {}),
  }
}

export function toSummary(r: SessionRow): Api.SessionSummary {
  return {
    sessionId: r.session_uid,
    machineId: r.machine_uid,
    projectDir: r.project_dir,
    cwd: r.cwd,
    title: r.custom_title ?? r.ai_title ?? r.summary_title ?? r.first_prompt,
    firstAt: r.first_at,
    lastAt: r.last_at,
    entryCount: r.entry_count,
    subagentCount: r.subagent_count,
    // MySQL's sum() comes back as a DECIMAL string.
    subagentEntryCount: Number(r.subagent_entries),
    models: JSON.parse(r.models) as string[],
    hasErrors: r.has_errors === 1,
    usage: {
      input: r.usage_input,
      output: r.usage_output,
      cacheWrite: r.usage_cache_write,
      cacheRead: r.usage_cache_read,
      costUsd: r.usage_cost,
    },
    // MySQL's EXISTS may come back as a string.
    ...(Number(r.source_gone) === 1 ? { sourceGone: true } : {}),
  }
}

export function toEntry(row: EntryRow, raw: Uint8Array): Api.Entry {
  return {
    seq: row.seq,
    fileKey: row.file_key,
    agentId: row.agent_id,
    lineNo: row.line_no,
    byteOffset: row.byte_offset,
    kind: row.kind,
    line: decodeLine(raw),
  }
}

function* listMachines(db: QueryDialect, actor: Actor) {
  const rows = yield* all<Parameters<typeof toMachine>[0]>(
    db,
    `SELECT m.machine_uid, m.name, m.online, m.last_seen_at, m.files_tracked, m.bytes_pending, m.last_error,
       coalesce(r.enabled, 0) AS accepts_commands, ${REMOTE_COLUMNS}, parent.machine_uid AS parent_uid, p.kind AS parent_kind
     FROM machines m LEFT JOIN machine_remote r ON r.machine_id = m.id
     LEFT JOIN machine_parents p ON p.machine_id = m.id
     LEFT JOIN machines parent ON parent.id = p.parent_machine_id
     WHERE m.user_id = ? AND m.revoked_at IS NULL ORDER BY m.name`,
    [actor.userId],
  )
  return rows.map(toMachine)
}

function* listProjects(db: QueryDialect, actor: Actor) {
  const rows = yield* all<{ project_dir: string; cwd: string | null; n: number; last_activity: string | null }>(
    db,
    `SELECT project_dir, max(cwd) AS cwd, count(*) AS n, max(last_at) AS last_activity FROM sessions
     WHERE user_id = ? GROUP BY project_dir ORDER BY last_activity DESC`,
    [actor.userId],
  )
  return rows.map(
    (r): Api.Project => ({
      projectDir: r.project_dir,
      cwd: r.cwd,
      sessionCount: r.n,
      lastActivityAt: r.last_activity,
    }),
  )
}

function* listSessions<L>(d: ReadDialect<L>, actor: Actor, query: SessionQuery) {
  const { where, params, limit } = sessionListQuery(actor, query, d.like)
  const rows = yield* all<SessionRow>(
    d.db,
    `${d.sessionSelect} WHERE ${where} ORDER BY s.last_at DESC, s.id DESC LIMIT ?`,
    [...params, limit + 1],
  )
  return sessionListPage(rows, limit, toSummary)
}

/** The user's session row for a session id; the most recently active machine's when several have it. */
function* findSession<L>(d: ReadDialect<L>, actor: Actor, sessionUid: string) {
  const rows = yield* all<SessionRow>(
    d.db,
    `${d.sessionSelect} WHERE s.user_id = ? AND s.session_uid = ? ORDER BY coalesce(s.last_at, '') DESC LIMIT 1`,
    [actor.userId, sessionUid],
  )
  return rows[0] ?? null
}

function* getSession<L>(d: ReadDialect<L>, actor: Actor, sessionId: string) {
  const row = yield* findSession(d, actor, sessionId)
  if (!row) return null
  const files = yield* all<{ file_key: string; agent_id: string | null; bytes: number; line_count: number }>(
    d.db,
    `SELECT f.file_key, f.agent_id, ${d.fileBytes} AS bytes, f.line_count FROM files f
     WHERE f.session_id = ? AND f.user_id = ? ORDER BY f.agent_id IS NOT NULL, f.file_key`,
    [row.id, actor.userId],
  )
  const detail: Api.SessionDetail = {
    session: toSummary(row),
    files: files.map((f) => ({ fileKey: f.file_key, agentId: f.agent_id, bytes: f.bytes, entryCount: f.line_count })),
  }
  return detail
}

function* listEntries<L>(d: ReadDialect<L>, actor: Actor, sessionId: string, query: EntryQuery) {
  const session = yield* findSession(d, actor, sessionId)
  if (!session) return null
  const limit = Math.min(Math.max(query.limit ?? 200, 1), MAX_ENTRY_PAGE)
  const fileFilter = query.allFiles ? "1 = 1" : query.agentId === undefined ? "f.agent_id IS NULL" : "f.agent_id = ?"
  // `e.session_id` lets the engine walk entries by (session_id, seq) for the page instead of reading
  // and sorting the whole session (SQLite: 1.2 s -> 3 ms for the last page of 100,000 entries).
  const params: SqlValue[] = [session.id, session.id, actor.userId]
  if (!query.allFiles && query.agentId !== undefined) params.push(query.agentId)
  let order = "ASC"
  let bound = ""
  if (query.before !== undefined) {
    bound = "AND e.seq < ?"
    params.push(query.before)
    order = "DESC"
  } else if (query.after !== undefined) {
    bound = "AND e.seq > ?"
    params.push(query.after)
  }
  params.push(limit + 1)
  const rows = yield* all<EntryRow & L>(
    d.db,
    `SELECT e.seq, e.line_no, e.byte_offset, e.kind, ${d.lineColumns}, f.file_key, f.agent_id
     FROM entries e JOIN files f ON f.id = e.file_id
     WHERE f.session_id = ? AND e.session_id = ? AND e.user_id = ? AND ${fileFilter} AND e.superseded = 0 ${bound}
     ORDER BY e.seq ${order} LIMIT ?`,
    params,
  )
  const more = rows.length > limit
  const page = rows.slice(0, limit)
  if (order === "DESC") page.reverse()
  const raws = yield* step(d.readLines(page))
  const entries = page.map((row, i) => toEntry(row, raws[i]!))
  let nextCursor: string | null = null
  if (more) {
    const edge = order === "DESC" ? entries[0] : entries[entries.length - 1]
    nextCursor = edge ? String(edge.seq) : null
  }
  const entryPage: Api.EntryPage = { entries, nextCursor }
  return entryPage
}

function* getEntry<L>(d: ReadDialect<L>, actor: Actor, seq: number) {
  const rows = yield* all<EntryRow & L & { session_uid: string }>(
    d.db,
    `SELECT e.seq, e.line_no, e.byte_offset, e.kind, ${d.lineColumns}, f.file_key, f.agent_id, s.session_uid
     FROM entries e JOIN files f ON f.id = e.file_id JOIN sessions s ON s.id = e.session_id
     WHERE e.seq = ? AND e.user_id = ?`,
    [seq, actor.userId],
  )
  const row = rows[0]
  if (!row) return null
  const [raw] = yield* step(d.readLines([row]))
  const found: EntryWithSession = { sessionId: row.session_uid, entry: toEntry(row, raw!) }
  return found
}

/**
 * The id of a session's file to export, or null. The key is compared here, byte for byte: a MySQL
 * column's collation might not be.
 */
function* exportFileId<L>(d: ReadDialect<L>, actor: Actor, sessionId: string, fileKey: string) {
  const session = yield* findSession(d, actor, sessionId)
  if (!session) return null
  const files = yield* all<{ id: number; file_key: string }>(
    d.db,
    "SELECT id, file_key FROM files WHERE session_id = ? AND user_id = ?",
    [session.id, actor.userId],
  )
  return files.find((f) => f.file_key === fileKey)?.id ?? null
}

function* headSeq(db: QueryDialect, actor: Actor) {
  const rows = yield* all<{ s: number | null }>(db, "SELECT max(last_seq) AS s FROM sessions WHERE user_id = ?", [
    actor.userId,
  ])
  return Number(rows[0]?.s ?? 0)
}

/**
 * The `ReadStore` reads on an engine, but for `exportFile` and `usage`: each method runs its query on
 * the engine's `ReadDialect` with the engine's runner. `sqlite/reads.ts` and `mysql/reads.ts` extend it.
 */
export function readStoreOn<M extends Mode, L>(runQuery: Runner<M>) {
  return class ReadQueries {
    constructor(protected readonly reads: ReadDialect<L>) {}
    listMachines(actor: Actor) {
      return runQuery(listMachines(this.reads.db, actor))
    }
    listProjects(actor: Actor) {
      return runQuery(listProjects(this.reads.db, actor))
    }
    listSessions(actor: Actor, query: SessionQuery) {
      return runQuery(listSessions(this.reads, actor, query))
    }
    getSession(actor: Actor, sessionId: string) {
      return runQuery(getSession(this.reads, actor, sessionId))
    }
    listEntries(actor: Actor, sessionId: string, query: EntryQuery) {
      return runQuery(listEntries(this.reads, actor, sessionId, query))
    }
    getEntry(actor: Actor, seq: number) {
      return runQuery(getEntry(this.reads, actor, seq))
    }
    headSeq(actor: Actor) {
      return runQuery(headSeq(this.reads.db, actor))
    }
    /** The id of the session's file `fileKey`, for the engine's `exportFile`; null when there is none. */
    protected exportFileId(actor: Actor, sessionId: string, fileKey: string) {
      return runQuery(exportFileId(this.reads, actor, sessionId, fileKey))
    }
  }
}
