/**
 * The ingest core's dialect for MySQL, MariaDB and PlanetScale (`../ingest/dialect.ts`): each load is
 * one `SELECT … IN (…)` and a plan is written in a few multi-row statements, because on PlanetScale
 * every statement is an HTTP request (~20 ms from a laptop). Line bytes go to `line_chunks`
 * (`line-chunks.ts`) in statements of about `maxStatementBytes`.
 *
 * Rows the core reads stay locked until commit (`FOR UPDATE`). Seqs come from the `counters` row
 * `seq`, advanced inside the transaction, whose lock queues every storing transaction of every server
 * from the moment it takes seqs until it commits: seqs therefore commit in order.
 *
 * Columns whose names are reserved words here are aliased back to the core's names (`file_offset AS
 * offset`, `is_terminated AS terminated`); `raw_at` has no meaning here (bytes are found by seq) and is 0.
 */
import { createHash } from "node:crypto"
import type {
  EntryRow,
  FileRow,
  IngestDialect,
  IngestTx,
  KeptUsageRow,
  NewFile,
  NewFileOfSession,
  SessionKey,
  SessionLine,
  SessionRow,
  UsageWrite,
  WritePlan,
} from "../ingest/dialect.ts"
import { type Ingest, runAsync } from "../ingest/steps.ts"
import type { MachineActor } from "../store.ts"
import type { MysqlClient, MysqlQueryable, SqlValue } from "./client.ts"
import {
  type ChunkRow,
  decodeChunk,
  type EncodedChunkRow,
  encodeChunks,
  insertChunks,
  layoutLines,
  partChunks,
  readLineRange,
  readLines,
} from "./line-chunks.ts"

export const keyHash = (fileKey: string): string => createHash("sha256").update(fileKey, "utf8").digest("hex")

export const FILE_COLUMNS = `id, user_id, machine_id, file_key, session_id, agent_id, layout, generation,
  file_offset AS \`offset\`, identity, live_end, line_count, open_seq`
const FILE_COLUMNS_F = `f.id, f.user_id, f.machine_id, f.file_key, f.session_id, f.agent_id, f.layout, f.generation,
  f.file_offset AS \`offset\`, f.identity, f.live_end, f.line_count, f.open_seq, g.gone_at AS source_gone_at`
const ENTRY_COLUMNS =
  "seq, file_id, session_id, line_no, byte_offset, is_terminated AS `terminated`, 0 AS raw_at, raw_len, kind"
const ENTRY_COLUMNS_E =
  "e.seq, e.file_id, e.session_id, e.line_no, e.byte_offset, e.is_terminated AS `terminated`, 0 AS raw_at, e.raw_len, e.kind"
const SESSION_FIELDS = [
  "id",
  "session_uid",
  "cwd",
  "custom_title",
  "ai_title",
  "summary_title",
  "first_prompt",
  "first_at",
  "last_at",
  "entry_count",
  "has_errors",
  "models",
] as const
const SESSION_COLUMNS = SESSION_FIELDS.join(", ")
/** A file's session, read with it: `s_<column>`. */
const JOINED_SESSION_COLUMNS = SESSION_FIELDS.map((c) => `s.${c} AS s_${c}`).join(", ")
/** Open lines up to this long are read with their rows: the core needs them whole to end them (1 MiB, its parse limit). */
const PREFETCH_LINE_BYTES = 1024 * 1024
const KEPT_COLUMNS = `dedup_key, session_id, entry_seq, input, output, cache_write AS cacheWrite, cache_read AS cacheRead,
  cost_usd AS costUsd, total, is_sidechain`

const marks = (n: number, row = "?") => `${row}, `.repeat(n).slice(0, -2)
const tuple = (n: number) => `(${marks(n)})`

/** Refuses a fact that is not text (a daemon's facts are checked before; this is the last guard). */
function text(v: unknown, column: string): string {
  if (typeof v !== "string") throw new TypeError(`${column} must be text, got ${typeof v}`)
  return v
}
const optText = (v: unknown, column: string): string | null => (v === null || v === undefined ? null : text(v, column))

/** Consecutive runs of `rows` whose estimated SQL (`sizeOf`) stays within `maxBytes` (at least one row each). */
function bySize<T>(rows: readonly T[], sizeOf: (row: T) => number, maxBytes: number): T[][] {
  const runs: T[][] = []
  let run: T[] = []
  let bytes = 0
  for (const row of rows) {
    const size = sizeOf(row)
    if (run.length > 0 && bytes + size > maxBytes) {
      runs.push(run)
      run = []
      bytes = 0
    }
    run.push(row)
    bytes += size
  }
  if (run.length > 0) runs.push(run)
  return runs
}

function concatChunks(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

interface EntryWrite {
  seq: number
  user_id: number
  file_id: number
  session_id: number | null
  line_no: number
  byte_offset: number
  terminated: number
  raw_len: number
  kind: string
  subtype: string | null
  uuid: string | null
  parent_uuid: string | null
  ts: string | null
  /** Where its bytes are (`line-chunks.ts`): a block's first seq and the line's place in it, or null and 0. */
  block_seq: number | null
  block_at: number
}

/** A usage row's SQL, estimated as an entry's. */
const usageSqlBytes = (u: UsageWrite): number =>
  250 + 2 * (String(u.dedup_key).length + u.project_dir.length + String(u.model).length)

/** An entry row's SQL: its strings (escaping at most doubles them) and ~20 characters per number. */
const entrySqlBytes = (e: EntryWrite): number =>
  200 +
  2 *
    (e.kind.length +
      (e.subtype?.length ?? 0) +
      (e.uuid?.length ?? 0) +
      (e.parent_uuid?.length ?? 0) +
      (e.ts?.length ?? 0))

export class MysqlIngest implements IngestDialect {
  constructor(private readonly client: MysqlClient) {}

  transaction<A>(body: (tx: IngestTx) => Ingest<A>): Promise<A> {
    return this.client.transaction((q) => runAsync(body(new MysqlIngestTx(q, this.client.maxStatementBytes))))
  }
}

/**
 * One write transaction's statements, on one connection. Two loads bring along what the core asks for
 * next, saving a request each per group (~20 ms on PlanetScale): the files bring their sessions
 * (`loadSessions`), the open lines their bytes (`readLines`). Both are dropped at the first write.
 */
export class MysqlIngestTx implements IngestTx {
  private readonly sessionsRead = new Map<number, SessionRow>()
  private readonly linesRead = new Map<number, Uint8Array>()

  constructor(
    private readonly q: MysqlQueryable,
    private readonly maxStatementBytes: number,
  ) {}

  private async rows<T>(sql: string, params: readonly SqlValue[]): Promise<T[]> {
    return (await this.q.query<T>(sql, params)).rows
  }

  async loadFiles(actor: MachineActor, fileKeys: readonly string[]): Promise<FileRow[]> {
    if (fileKeys.length === 0) return []
    const rows = await this.rows<FileRow & Record<`s_${(typeof SESSION_FIELDS)[number]}`, unknown>>(
      `SELECT ${FILE_COLUMNS_F}, ${JOINED_SESSION_COLUMNS} FROM files f LEFT JOIN sessions s ON s.id = f.session_id
       LEFT JOIN files_gone g ON g.file_id = f.id
       WHERE f.machine_id = ? AND f.user_id = ? AND f.key_hash IN (${marks(fileKeys.length)}) FOR UPDATE`,
      [actor.machineId, actor.userId, ...fileKeys.map(keyHash)],
    )
    return rows.map((row) => {
      const file: Record<string, unknown> = {}
      const session: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(row)) {
        if (k.startsWith("s_")) session[k.slice(2)] = v
        else file[k] = v
      }
      if (session.id !== null && session.id !== undefined)
        this.sessionsRead.set(session.id as number, session as unknown as SessionRow)
      return file as unknown as FileRow
    })
  }

  async insertFiles(actor: MachineActor, files: readonly NewFile[]): Promise<FileRow[]> {
    if (files.length === 0) return []
    // A file another server inserted meanwhile is kept as it is.
    await this.q.query(
      `INSERT INTO files (user_id, machine_id, file_key, key_hash, session_id, agent_id, layout, identity)
       VALUES ${marks(files.length, tuple(8))} ON DUPLICATE KEY UPDATE id = id`,
      files.flatMap((f) => [
        actor.userId,
        actor.machineId,
        f.file_key,
        keyHash(f.file_key),
        f.session_id,
        f.agent_id,
        f.layout,
        f.identity,
      ]),
    )
    return this.loadFiles(
      actor,
      files.map((f) => f.file_key),
    )
  }

  async ensureSessions(actor: MachineActor, keys: readonly SessionKey[]): Promise<SessionRow[]> {
    if (keys.length === 0) return []
    await this.insertSessions(actor, keys)
    return this.selectSessions(actor, keys)
  }

  private async insertSessions(actor: MachineActor, keys: readonly SessionKey[]): Promise<void> {
    await this.q.query(
      `INSERT INTO sessions (user_id, machine_id, session_uid, project_dir, models) VALUES ${marks(keys.length, "(?, ?, ?, ?, '[]')")}
       ON DUPLICATE KEY UPDATE id = id`,
      keys.flatMap((k) => [actor.userId, actor.machineId, text(k.session_uid, "session id"), k.project_dir]),
    )
  }

  private selectSessions(actor: MachineActor, keys: readonly SessionKey[]): Promise<SessionRow[]> {
    return this.rows<SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM sessions WHERE user_id = ? AND machine_id = ? AND session_uid IN (${marks(keys.length)}) FOR UPDATE`,
      [actor.userId, actor.machineId, ...keys.map((k) => k.session_uid)],
    )
  }

  /**
   * The sessions, then the files, each inserted in one statement, each file's `session_id` looked up
   * by its session id inside its row; then one read of the files joined with their sessions (locked
   * alike, `loadFiles`) answers both: one request fewer than `ensureSessions` + `insertFiles`.
   */
  async createFiles(
    actor: MachineActor,
    keys: readonly SessionKey[],
    files: readonly NewFileOfSession[],
  ): Promise<{ sessions: SessionRow[]; files: FileRow[] }> {
    if (keys.length > 0) await this.insertSessions(actor, keys)
    if (files.length === 0)
      return { sessions: keys.length > 0 ? await this.selectSessions(actor, keys) : [], files: [] }
    // A file another server inserted meanwhile is kept as it is.
    await this.q.query(
      `INSERT INTO files (user_id, machine_id, file_key, key_hash, session_id, agent_id, layout, identity)
       VALUES ${marks(files.length, "(?, ?, ?, ?, (SELECT id FROM sessions WHERE user_id = ? AND machine_id = ? AND session_uid = ?), ?, ?, ?)")}
       ON DUPLICATE KEY UPDATE id = id`,
      files.flatMap((f) => [
        actor.userId,
        actor.machineId,
        f.file_key,
        keyHash(f.file_key),
        actor.userId,
        actor.machineId,
        f.session_uid === null ? null : text(f.session_uid, "session id"),
        f.agent_id,
        f.layout,
        f.identity,
      ]),
    )
    const rows = await this.loadFiles(
      actor,
      files.map((f) => f.file_key),
    )
    const byUid = new Map([...this.sessionsRead.values()].map((s) => [s.session_uid, s]))
    const sessions = keys.map((k) => byUid.get(k.session_uid))
    // Every session asked for is a new file's, so each came back with one; if not, read them.
    if (sessions.every((s): s is SessionRow => s !== undefined)) return { sessions, files: rows }
    return { sessions: await this.selectSessions(actor, keys), files: rows }
  }

  async loadSessions(ids: readonly number[]): Promise<SessionRow[]> {
    const known = ids.filter((id) => this.sessionsRead.has(id)).map((id) => this.sessionsRead.get(id)!)
    const rest = ids.filter((id) => !this.sessionsRead.has(id))
    if (rest.length === 0) return known
    return [
      ...known,
      ...(await this.rows<SessionRow>(
        `SELECT ${SESSION_COLUMNS} FROM sessions WHERE id IN (${marks(rest.length)}) FOR UPDATE`,
        rest,
      )),
    ]
  }

  async loadEntries(seqs: readonly number[]): Promise<EntryRow[]> {
    if (seqs.length === 0) return []
    const rows = await this.rows<EntryRow & { chunk: Uint8Array | null; chunk_codec: number | null }>(
      `SELECT ${ENTRY_COLUMNS_E}, c.codec AS chunk_codec, c.bytes AS chunk FROM entries e
       LEFT JOIN line_chunks c ON c.entry_seq = e.seq AND e.block_seq IS NULL AND e.raw_len <= ${PREFETCH_LINE_BYTES}
       WHERE e.seq IN (${marks(seqs.length)}) ORDER BY e.seq, c.at FOR UPDATE`,
      seqs,
    )
    const entries: EntryRow[] = []
    const chunks = new Map<number, Uint8Array[]>()
    for (const { chunk, chunk_codec, ...entry } of rows) {
      if (entries[entries.length - 1]?.seq !== entry.seq) {
        entries.push(entry)
        if (entry.raw_len <= PREFETCH_LINE_BYTES) chunks.set(entry.seq, [])
      }
      if (chunk) chunks.get(entry.seq)?.push(decodeChunk(chunk_codec ?? 0, chunk, entry.seq))
    }
    for (const [seq, parts] of chunks) this.linesRead.set(seq, concatChunks(parts))
    return entries
  }

  loadLiveEntries(fileId: number, from: number, to: number): Promise<EntryRow[]> {
    return this.rows<EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM entries WHERE file_id = ? AND superseded = 0 AND byte_offset >= ? AND byte_offset < ?
       ORDER BY byte_offset`,
      [fileId, from, to],
    )
  }

  async countLiveFrom(fileId: number, from: number): Promise<number> {
    const [row] = await this.rows<{ n: number }>(
      "SELECT count(*) AS n FROM entries WHERE file_id = ? AND superseded = 0 AND byte_offset >= ?",
      [fileId, from],
    )
    return row!.n
  }

  loadLastEntries(fileId: number, count: number): Promise<EntryRow[]> {
    return this.rows<EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM entries WHERE file_id = ? AND superseded = 0 ORDER BY byte_offset DESC LIMIT ?`,
      [fileId, count],
    )
  }

  async firstLiveLineEndingAfter(fileId: number, size: number): Promise<number | null> {
    const [row] = await this.rows<{ byte_offset: number }>(
      `SELECT byte_offset FROM entries WHERE file_id = ? AND superseded = 0
       AND byte_offset + raw_len + is_terminated > ? ORDER BY byte_offset LIMIT 1`,
      [fileId, size],
    )
    return row ? row.byte_offset : null
  }

  async readLines(entries: readonly EntryRow[]): Promise<Uint8Array[]> {
    const missing = entries.filter((e) => this.linesRead.get(e.seq)?.length !== e.raw_len)
    const read = missing.length > 0 ? await readLines(this.q, missing, this.maxStatementBytes) : []
    const bytes = new Map(missing.map((e, i) => [e.seq, read[i]!]))
    return entries.map((e) => bytes.get(e.seq) ?? this.linesRead.get(e.seq)!)
  }

  readLinePart(entry: EntryRow, from: number, length: number): Promise<Uint8Array> {
    return readLineRange(this.q, entry.seq, from, length)
  }

  async loadKeptUsage(userId: number, dedupKeys: readonly string[]): Promise<KeptUsageRow[]> {
    const out: KeptUsageRow[] = []
    // A key is ~60 characters: a group's keys fit one statement (20,000 tiny lines: ~1.5 MB).
    for (const batch of bySize(dedupKeys, (k) => 2 * k.length + 4, this.maxStatementBytes)) {
      out.push(
        ...(await this.rows<KeptUsageRow>(
          `SELECT ${KEPT_COLUMNS} FROM usage_messages WHERE user_id = ? AND dedup_key IN (${marks(batch.length)}) FOR UPDATE`,
          [userId, ...batch],
        )),
      )
    }
    return out
  }

  loadOrphanUsage(userId: number, fileId: number): Promise<KeptUsageRow[]> {
    return this.rows<KeptUsageRow>(
      `SELECT ${KEPT_COLUMNS} FROM usage_messages WHERE user_id = ? AND session_id IS NULL
       AND entry_seq IN (SELECT seq FROM entries WHERE file_id = ?) FOR UPDATE`,
      [userId, fileId],
    )
  }

  async loadSessionLines(sessionId: number): Promise<SessionLine[]> {
    const rows = await this.rows<{ seq: number; raw_len: number; agent_id: string | null }>(
      `SELECT e.seq, e.raw_len, f.agent_id FROM entries e JOIN files f ON f.id = e.file_id
       WHERE e.session_id = ? AND e.superseded = 0 ORDER BY e.seq`,
      [sessionId],
    )
    const bytes = await readLines(this.q, rows, this.maxStatementBytes)
    return rows.map((r, i) => ({ seq: r.seq, main: r.agent_id === null, bytes: bytes[i]! }))
  }

  async allocateSeqs(count: number): Promise<number> {
    // One statement: the row stays locked until commit (the next transaction's seqs come after every
    // seq of this one), and `LAST_INSERT_ID(expr)` hands back the new value in the same answer.
    const { affectedRows, insertId } = await this.q.query(
      "UPDATE counters SET value = LAST_INSERT_ID(value + ?) WHERE name = 'seq'",
      [count],
    )
    if (count > 0 && (affectedRows !== 1 || insertId < count)) {
      throw new Error(`allocating ${count} seqs: the 'seq' counter answered ${affectedRows} row(s), value ${insertId}`)
    }
    return insertId - count + 1
  }

  async write(plan: WritePlan): Promise<void> {
    // What was read along is as the group found it: after this write, ask the database again.
    this.sessionsRead.clear()
    this.linesRead.clear()
    const q = this.q
    if (plan.supersede.length > 0) {
      await q.query(
        `UPDATE entries SET superseded = 1 WHERE superseded = 0 AND (${plan.supersede.map(() => "(file_id = ? AND byte_offset >= ?)").join(" OR ")})`,
        plan.supersede.flatMap((s) => [s.fileId, s.fromOffset]),
      )
    }
    // Continued lines and new lines in one upsert: a continued row exists, so only the columns after
    // UPDATE change (its `user_id`, never changed, is bound as 0).
    const writes: EntryWrite[] = []
    const chunks: ChunkRow[] = []
    for (const c of plan.continued) {
      writes.push({
        seq: c.entry.seq,
        user_id: 0,
        file_id: c.entry.file_id,
        session_id: c.entry.session_id,
        line_no: c.entry.line_no,
        byte_offset: c.entry.byte_offset,
        terminated: c.terminated,
        raw_len: c.raw_len,
        kind: text(c.kind, "kind"),
        subtype: optText(c.subtype, "subtype"),
        uuid: optText(c.uuid, "uuid"),
        parent_uuid: optText(c.parent_uuid, "parent uuid"),
        ts: optText(c.ts, "timestamp"),
        block_seq: null,
        block_at: 0,
      })
      chunks.push(...partChunks(c.entry.seq, c.added, c.entry.raw_len, c.raw_len - c.entry.raw_len))
    }
    const layout = layoutLines(
      plan.entries.map((e) => ({
        seq: e.seq,
        fileId: e.file_id,
        terminated: e.terminated === 1,
        rawLen: e.raw_len,
        parts: e.parts,
      })),
    )
    chunks.push(...layout.rows)
    plan.entries.forEach((e, i) => {
      writes.push({
        ...e,
        kind: text(e.kind, "kind"),
        subtype: optText(e.subtype, "subtype"),
        uuid: optText(e.uuid, "uuid"),
        parent_uuid: optText(e.parent_uuid, "parent uuid"),
        ts: optText(e.ts, "timestamp"),
        block_seq: layout.places[i]!.block_seq,
        block_at: layout.places[i]!.block_at,
      })
    })
    // Statements of about `maxStatementBytes` of SQL, however many lines: 8,000 lines are one or two.
    // The line bytes are compressed while the first of them runs on the server (`encodeChunks`).
    let encoded: EncodedChunkRow[] | undefined
    for (const batch of bySize(writes, entrySqlBytes, this.maxStatementBytes)) {
      const inserting = q.query(
        `INSERT INTO entries (seq, user_id, file_id, session_id, line_no, byte_offset, is_terminated, raw_len, kind, subtype, uuid,
         parent_uuid, ts, block_seq, block_at) VALUES ${marks(batch.length, tuple(15))}
         ON DUPLICATE KEY UPDATE is_terminated = VALUES(is_terminated), raw_len = VALUES(raw_len), kind = VALUES(kind),
         subtype = VALUES(subtype), uuid = VALUES(uuid), parent_uuid = VALUES(parent_uuid), ts = VALUES(ts)`,
        batch.flatMap((e) => [
          e.seq,
          e.user_id,
          e.file_id,
          e.session_id,
          e.line_no,
          e.byte_offset,
          e.terminated,
          e.raw_len,
          e.kind,
          e.subtype,
          e.uuid,
          e.parent_uuid,
          e.ts,
          e.block_seq,
          e.block_at,
        ]),
      )
      try {
        encoded ??= encodeChunks(chunks)
      } finally {
        await inserting
      }
    }
    if (chunks.length > 0) await insertChunks(q, encoded ?? encodeChunks(chunks), this.maxStatementBytes)
    for (const a of plan.attach) {
      await q.query("UPDATE entries SET session_id = ? WHERE file_id = ? AND session_id IS NULL", [
        a.sessionId,
        a.fileId,
      ])
    }
    // Moves to one session in one statement (a flat agent file's messages all go to its session).
    const moves = new Map<string, { userId: number; sessionId: number; keys: string[] }>()
    for (const m of plan.usageMoves) {
      const id = `${m.userId}:${m.sessionId}`
      const move = moves.get(id) ?? { userId: m.userId, sessionId: m.sessionId, keys: [] }
      move.keys.push(m.dedupKey)
      moves.set(id, move)
    }
    for (const m of moves.values()) {
      await q.query(
        `UPDATE usage_messages SET session_id = ? WHERE user_id = ? AND dedup_key IN (${marks(m.keys.length)})`,
        [m.sessionId, m.userId, ...m.keys],
      )
    }
    // Inserts and replacements alike: the kept copy is the row at (user, dedup key).
    for (const batch of bySize(plan.usage, usageSqlBytes, this.maxStatementBytes)) {
      await q.query(
        `INSERT INTO usage_messages (user_id, dedup_key, session_id, project_dir, entry_seq, model, day, input, output, cache_write,
         cache_read, total, is_sidechain, cost_usd) VALUES ${marks(batch.length, tuple(14))}
         ON DUPLICATE KEY UPDATE session_id = VALUES(session_id), project_dir = VALUES(project_dir), entry_seq = VALUES(entry_seq),
         model = VALUES(model), day = VALUES(day), input = VALUES(input), output = VALUES(output), cache_write = VALUES(cache_write),
         cache_read = VALUES(cache_read), total = VALUES(total), is_sidechain = VALUES(is_sidechain), cost_usd = VALUES(cost_usd)`,
        batch.flatMap((u) => [
          u.user_id,
          text(u.dedup_key, "dedup key"),
          u.session_id,
          u.project_dir,
          u.entry_seq,
          text(u.model, "model"),
          u.day,
          u.input,
          u.output,
          u.cache_write,
          u.cache_read,
          u.total,
          u.is_sidechain,
          u.cost_usd,
        ]),
      )
    }
    await this.writeSessions(plan)
    if (plan.files.length > 0) {
      // Every file exists (loaded or inserted above): the upsert updates each, in one statement. The
      // columns it does not update are bound only because an INSERT names them.
      await q.query(
        `INSERT INTO files (id, user_id, machine_id, file_key, key_hash, layout, session_id, generation, file_offset, identity,
         live_end, line_count, open_seq) VALUES ${marks(plan.files.length, tuple(13))}
         ON DUPLICATE KEY UPDATE session_id = VALUES(session_id), generation = VALUES(generation), file_offset = VALUES(file_offset),
         identity = VALUES(identity), live_end = VALUES(live_end), line_count = VALUES(line_count), open_seq = VALUES(open_seq)`,
        plan.files.flatMap((f) => [
          f.id,
          f.user_id,
          f.machine_id,
          f.file_key,
          keyHash(f.file_key),
          f.layout,
          f.session_id,
          f.generation,
          f.offset,
          f.identity,
          f.live_end,
          f.line_count,
          f.open_seq,
        ]),
      )
    }
    // The indexer may have passed a line while it was open (no text then): one that ends below the cursor
    // sends the cursor back to it, so it is indexed now whole; the lines after it are indexed again (the
    // indexer upserts), a few when it keeps up. Before `entry_search`: the indexer locks the cursor first too.
    const ended = plan.continued.filter((line) => line.terminated === 1)
    if (ended.length > 0) {
      await q.query("UPDATE counters SET value = LEAST(value, ?) WHERE name = 'search_cursor'", [
        Math.min(...ended.map((line) => line.entry.seq)) - 1,
      ])
    }
    if (plan.searchDrops.length > 0) {
      await q.query(`DELETE FROM entry_search WHERE seq IN (${marks(plan.searchDrops.length)})`, plan.searchDrops)
    }
    // Rare (a file held as gone appended to again): no statement otherwise.
    const back = plan.sourcesBack ?? []
    if (back.length > 0) await q.query(`DELETE FROM files_gone WHERE file_id IN (${marks(back.length)})`, back)
  }

  /**
   * Sessions whose facts change, then sessions whose usage alone moves: one upsert each (every row
   * exists, so each is an UPDATE; the NOT NULL columns it does not touch are bound only because an
   * INSERT names them). Usage columns add what they are given.
   */
  private async writeSessions(plan: WritePlan): Promise<void> {
    const usageUpdate = `last_seq = GREATEST(last_seq, VALUES(last_seq)), usage_input = usage_input + VALUES(usage_input),
      usage_output = usage_output + VALUES(usage_output), usage_cache_write = usage_cache_write + VALUES(usage_cache_write),
      usage_cache_read = usage_cache_read + VALUES(usage_cache_read), usage_cost = usage_cost + VALUES(usage_cost)`
    const withFacts = plan.sessions.filter((w) => w.facts !== null)
    const usageOnly = plan.sessions.filter((w) => w.facts === null)
    if (withFacts.length > 0) {
      await this.q.query(
        `INSERT INTO sessions (id, user_id, machine_id, session_uid, project_dir, cwd, custom_title, ai_title, summary_title,
         first_prompt, first_at, last_at, entry_count, has_errors, models, last_seq, usage_input, usage_output, usage_cache_write,
         usage_cache_read, usage_cost) VALUES ${marks(withFacts.length, `(?, 0, 0, '', '', ${marks(16)})`)}
         ON DUPLICATE KEY UPDATE cwd = VALUES(cwd), custom_title = VALUES(custom_title), ai_title = VALUES(ai_title),
         summary_title = VALUES(summary_title), first_prompt = VALUES(first_prompt), first_at = VALUES(first_at),
         last_at = VALUES(last_at), entry_count = VALUES(entry_count), has_errors = VALUES(has_errors), models = VALUES(models),
         ${usageUpdate}`,
        withFacts.flatMap((w) => {
          const f = w.facts!
          return [
            w.id,
            optText(f.cwd, "cwd"),
            optText(f.custom_title, "title"),
            optText(f.ai_title, "title"),
            optText(f.summary_title, "summary"),
            optText(f.first_prompt, "prompt"),
            optText(f.first_at, "timestamp"),
            optText(f.last_at, "timestamp"),
            f.entry_count,
            f.has_errors,
            f.models,
            w.last_seq,
            w.usage.input,
            w.usage.output,
            w.usage.cacheWrite,
            w.usage.cacheRead,
            w.usage.costUsd,
          ]
        }),
      )
    }
    if (usageOnly.length > 0) {
      await this.q.query(
        `INSERT INTO sessions (id, user_id, machine_id, session_uid, project_dir, models, last_seq, usage_input, usage_output,
         usage_cache_write, usage_cache_read, usage_cost) VALUES ${marks(usageOnly.length, `(?, 0, 0, '', '', '[]', ${marks(6)})`)}
         ON DUPLICATE KEY UPDATE ${usageUpdate}`,
        usageOnly.flatMap((w) => [
          w.id,
          w.last_seq,
          w.usage.input,
          w.usage.output,
          w.usage.cacheWrite,
          w.usage.cacheRead,
          w.usage.costUsd,
        ]),
      )
    }
  }
}
