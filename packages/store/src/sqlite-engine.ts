/**
 * The embedded store: SQLite through bun:sqlite, WAL mode. Synchronous by design: each group of
 * appends is one short transaction, so the bytes and the files' new offsets commit together or not
 * at all.
 * Write transactions begin IMMEDIATE: one that began by reading could not wait for the write lock
 * held by a checkpoint on the other thread (SQLite fails it at once to avoid a deadlock).
 */
import { Database, type Statement } from "bun:sqlite"
import { isUtf8 } from "node:buffer"
import { chmodSync, existsSync, mkdirSync } from "node:fs"
import { dirname } from "node:path"
import type { Api, Sync } from "@overlord/protocol"
import {
  analyzeLine,
  costOf,
  decodeLine,
  type LineFacts,
  shouldReplace,
  splitPieces,
  usageTotal,
} from "@overlord/transcript"
import { decodeCursor, encodeCursor } from "./cursor.ts"
import { type StoreError, StoreQueryError } from "./errors.ts"
import {
  addUsage,
  emptyDelta,
  mergeDelta,
  partialLineFacts,
  pricingSource,
  projectOf,
  type SessionDelta,
  searchTextOf,
  type UsageAmounts,
} from "./line-facts.ts"
import { type LineLog, lineLogPath, openLineLog, readLines, readRuns } from "./line-log.ts"
import { bytesEqual, concatBytes, storedLength } from "./lines.ts"
import { buildSnippet, ftsQuery } from "./search-text.ts"
import { Checkpointer } from "./sqlite-checkpointer.ts"
import { SQLITE_MIGRATIONS } from "./sqlite-schema.ts"
import type {
  Actor,
  Append,
  AppendOutcome,
  Engine,
  EntryQuery,
  EntryWithSession,
  IssueToken,
  MachineActor,
  MachineState,
  SessionQuery,
  StoredRef,
  TokenGrant,
  TokenKind,
  UsageQuery,
} from "./store.ts"
import { hashToken, newToken, tokensEqual } from "./tokens.ts"

interface FileRow {
  id: number
  user_id: number
  machine_id: number
  file_key: string
  session_id: number | null
  agent_id: string | null
  layout: string
  generation: number
  offset: number
  identity: string | null
  live_end: number
  line_count: number
  open_seq: number | null
}

interface EntryRow {
  seq: number
  file_id: number
  session_id: number | null
  line_no: number
  byte_offset: number
  terminated: number
  /** Where the line's bytes lie in the line log (`line-log.ts`). */
  raw_at: number
  raw_len: number
  kind: string
}

/** The kept copy of a deduplicated message, as far as the dedup rule and the totals need it. */
interface KeptUsageRow extends UsageAmounts {
  session_id: number | null
  total: number
  is_sidechain: number
}

interface SessionRow {
  id: number
  machine_id: number
  machine_uid: string
  session_uid: string
  project_dir: string
  cwd: string | null
  custom_title: string | null
  ai_title: string | null
  summary_title: string | null
  first_prompt: string | null
  first_at: string | null
  last_at: string | null
  entry_count: number
  has_errors: number
  models: string
  subagent_count: number
  usage_input: number
  usage_output: number
  usage_cache_write: number
  usage_cache_read: number
  usage_cost: number
}

const now = () => new Date().toISOString()
const TAIL_BYTES = 32
const MAX_PAGE = 1000
const EXPORT_PAGE_ROWS = 500
const NEWLINE_BYTE = new Uint8Array([0x0a])

export interface SqliteOptions {
  /** A file path, or ":memory:". */
  readonly path: string
  /**
   * `background` (the default for a file): WAL checkpoints run on a thread of their own
   * (`sqlite-checkpointer.ts`); `inline`: SQLite runs them in the committing thread.
   */
  readonly checkpoints?: "background" | "inline"
  /** With background checkpoints: how long writes must pause before the WAL file is truncated. */
  readonly walQuietMs?: number
  /** Something the engine repaired at open (default: `console.warn`). */
  readonly onWarning?: (message: string) => void
}

const PAGE_SIZE = 4096
/** Longest a search-index batch holds the thread (and the write lock). */
const INDEX_BATCH_BUDGET_MS = 15
const MB = 1024 * 1024
const CACHE_BYTES = 8 * MB
/** Inline checkpoints: pages of WAL between them (64 MB). */
const INLINE_CHECKPOINT_PAGES = (64 * MB) / PAGE_SIZE
/**
 * Background checkpoints: SQLite's own, in the writer, only every 256 MB of WAL. It restarts the WAL
 * (which the thread cannot do while the writer is busy) and finds all but the last rounds' pages copied.
 */
const WRITER_CHECKPOINT_PAGES = (256 * MB) / PAGE_SIZE

export class SqliteEngine implements Engine {
  readonly name = "sqlite"
  errorOf(operation: string, cause: unknown): StoreError {
    return new StoreQueryError({ operation, cause })
  }
  private readonly db: Database
  private readonly stmt: Record<string, Statement>
  private readonly checkpointer: Checkpointer | null = null
  private readonly lines: LineLog

  constructor(options: SqliteOptions) {
    if (options.path !== ":memory:") {
      mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 })
    }
    const fresh = options.path === ":memory:" || !existsSync(options.path)
    this.db = new Database(options.path, { create: true, strict: true })
    if (fresh && options.path !== ":memory:") chmodSync(options.path, 0o600)
    this.lines = openLineLog(options.path)
    // A log left from a database that was deleted names nothing the new one knows.
    if (fresh) this.lines.truncate(0)
    // Rows are small since lines moved to the line log: 4 KiB pages write ~15 % less (a commit rewrites
    // every page it touches) and make half the file of 16 KiB ones, which were worth it only while
    // rows carried 1–4 KB lines (BENCHMARKS.md). Only takes effect on a new database.
    this.db.run(`PRAGMA page_size = ${PAGE_SIZE}`)
    this.db.run("PRAGMA journal_mode = WAL")
    // Checkpoints on their own thread for a file; inline, every 64 MB of WAL, otherwise.
    const background = options.path !== ":memory:" && (options.checkpoints ?? "background") === "background"
    const cyclePages = background ? WRITER_CHECKPOINT_PAGES : INLINE_CHECKPOINT_PAGES
    this.db.run(`PRAGMA wal_autocheckpoint = ${cyclePages}`)
    // The WAL file keeps its size from one cycle to the next while lines keep coming: cutting it back
    // when it starts over, and reallocating its blocks, cost the storing thread ~15 % of a backfill.
    // It is truncated once writes pause (`Checkpointer`), and at close.
    this.db.run(`PRAGMA journal_size_limit = ${cyclePages * PAGE_SIZE + 64 * MB}`)
    if (background) {
      this.checkpointer = new Checkpointer({
        path: options.path,
        lineLogPath: lineLogPath(options.path),
        everyBytes: 16 * MB,
        quietMs: options.walQuietMs ?? 2_000,
        // The page cache is sized for a backfill's transactions; an idle store gives it back.
        onQuiet: () => this.db.run("PRAGMA shrink_memory"),
        // Without the thread, SQLite checkpoints inline again, as often as it would have.
        onFailed: () => this.db.run(`PRAGMA wal_autocheckpoint = ${INLINE_CHECKPOINT_PAGES}`),
      })
    }
    this.db.run("PRAGMA synchronous = NORMAL")
    // A transaction larger than the page cache spills pages into the WAL early and writes them again
    // at commit; a group of appends is up to 4 MB of lines plus the pages they touch. 16 MiB was no
    // faster than 8 (three interleaved backfill pairs) and held more memory during a backfill.
    this.db.run(`PRAGMA cache_size = -${(CACHE_BYTES / 1024) | 0}`)
    // What statement journals remain (an AUTOINCREMENT insert keeps one) stay out of temp files.
    this.db.run("PRAGMA temp_store = MEMORY")
    this.db.run("PRAGMA busy_timeout = 5000")
    this.db.run("PRAGMA foreign_keys = ON")
    this.migrate()
    const q = (sql: string) => this.db.prepare(sql)
    this.stmt = {
      fileByKey: q("SELECT * FROM files WHERE machine_id = ? AND file_key = ?"),
      insertFile: q(
        "INSERT INTO files (user_id, machine_id, file_key, session_id, agent_id, layout, identity) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
      ),
      saveFile: q(
        "UPDATE files SET generation = ?, offset = ?, identity = ?, live_end = ?, line_count = ?, open_seq = ?, session_id = ? WHERE id = ?",
      ),
      insertEntry: q(
        `INSERT INTO entries (user_id, file_id, session_id, line_no, byte_offset, terminated, raw_at, raw_len, kind, subtype, uuid, parent_uuid, ts)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      updateEntry: q(
        "UPDATE entries SET raw_at = ?, raw_len = ?, terminated = ?, kind = ?, subtype = ?, uuid = ?, parent_uuid = ?, ts = ? WHERE seq = ?",
      ),
      entryBySeq: q("SELECT * FROM entries WHERE seq = ?"),
      liveEntryAt: q("SELECT * FROM entries WHERE file_id = ? AND byte_offset = ? AND superseded = 0"),
      supersedeFrom: q("UPDATE entries SET superseded = 1 WHERE file_id = ? AND byte_offset >= ? AND superseded = 0"),
      countLive: q("SELECT count(*) AS n FROM entries WHERE file_id = ? AND superseded = 0"),
      sessionByKey: q("SELECT id FROM sessions WHERE user_id = ? AND machine_id = ? AND session_uid = ?"),
      insertSession: q(
        "INSERT INTO sessions (user_id, machine_id, session_uid, project_dir) VALUES (?, ?, ?, ?) RETURNING id",
      ),
      sessionAgg: q("SELECT * FROM sessions WHERE id = ?"),
      saveSessionAgg: q(
        `UPDATE sessions SET cwd = ?, custom_title = ?, ai_title = ?, summary_title = ?, first_prompt = ?, first_at = ?,
         last_at = ?, entry_count = ?, has_errors = ?, models = ?, last_seq = max(last_seq, ?),
         usage_input = usage_input + ?, usage_output = usage_output + ?, usage_cache_write = usage_cache_write + ?,
         usage_cache_read = usage_cache_read + ?, usage_cost = usage_cost + ? WHERE id = ?`,
      ),
      keptUsage: q(
        `SELECT session_id, input, output, cache_write AS cacheWrite, cache_read AS cacheRead, cost_usd AS costUsd,
         total, is_sidechain FROM usage_messages WHERE user_id = ? AND dedup_key = ?`,
      ),
      // Plain single-row statements: an upsert or a trigger would make SQLite journal every page the
      // statement touches (to undo just it), which cost more than the rest of the usage bookkeeping.
      insertUsage: q(
        `INSERT INTO usage_messages (session_id, project_dir, entry_seq, model, day, input, output, cache_write, cache_read, total, is_sidechain, cost_usd, user_id, dedup_key)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      replaceUsage: q(
        `UPDATE usage_messages SET session_id = ?, project_dir = ?, entry_seq = ?, model = ?, day = ?, input = ?, output = ?,
         cache_write = ?, cache_read = ?, total = ?, is_sidechain = ?, cost_usd = ? WHERE user_id = ? AND dedup_key = ?`,
      ),
      tailOf: q(
        "SELECT raw_at, raw_len, terminated FROM entries WHERE file_id = ? AND superseded = 0 ORDER BY byte_offset DESC LIMIT 2",
      ),
      setLineLogEnd: q("UPDATE meta SET value = ? WHERE key = 'line_log_end'"),
    }
    this.recoverLineLog(options.onWarning ?? ((message) => console.warn(message)))
  }

  private migrate(): void {
    const row = this.db.query("PRAGMA user_version").get() as { user_version: number }
    for (let v = row.user_version; v < SQLITE_MIGRATIONS.length; v++) {
      const migration = SQLITE_MIGRATIONS[v]!
      this.db
        .transaction(() => {
          if (typeof migration === "string") this.db.run(migration)
          else migration(this.db, this.lines)
          this.db.run(`PRAGMA user_version = ${v + 1}`)
        })
        .immediate()
    }
  }

  /**
   * The database may reach the disk ahead of the line log (neither is synced at each commit): after a
   * power loss, a log shorter than the end the last commit recorded has lost lines the database names.
   * Each file with such a line is rolled back to its first lost line, as if it had never arrived; the
   * daemon learns the file's offset at its next hello and sends those bytes again.
   */
  private recoverLineLog(warn: (message: string) => void): void {
    const recorded = Number(
      (this.db.query("SELECT value FROM meta WHERE key = 'line_log_end'").get() as { value: string }).value,
    )
    const size = this.lines.size()
    if (size >= recorded) return
    this.db
      .transaction(() => {
        const lost = this.db
          .query(
            `SELECT file_id, min(byte_offset) AS from_offset FROM entries
             WHERE superseded = 0 AND raw_at + raw_len + terminated > ? GROUP BY file_id`,
          )
          .all(size) as { file_id: number; from_offset: number }[]
        const sessions = new Set<number>()
        for (const { file_id, from_offset } of lost) {
          const file = this.db.query("SELECT * FROM files WHERE id = ?").get(file_id) as FileRow
          // Sessions are recomputed once every file is rolled back: one may have lines in two of them.
          this.supersedeLines(file, from_offset)
          // The lost lines include the file's last, so the line left open (always the last) too.
          file.open_seq = null
          file.offset = Math.min(file.offset, from_offset)
          this.saveFile(file)
          if (file.session_id !== null) sessions.add(file.session_id)
        }
        for (const sessionId of sessions) this.recomputeSession(sessionId)
        this.stmt.setLineLogEnd!.run(String(size))
        warn(
          `line log ${size} bytes, the database names ${recorded}: ${lost.length} file(s) rolled back to their first lost line, to be synced again`,
        )
      })
      .immediate()
  }

  close(): void {
    this.checkpointer?.close()
    this.lines.sync()
    this.lines.close()
    // Leave no WAL behind: the next open (or a copy of the file) needs nothing but the database.
    try {
      this.db.run("PRAGMA wal_checkpoint(TRUNCATE)")
    } catch {
      // Busy (a reader still open): SQLite checkpoints at the next open instead.
    }
    this.db.close()
  }

  // ---- accounts ---------------------------------------------------------------------------------

  ensureUser(name: string): number {
    const found = this.db.query("SELECT id FROM users WHERE name = ?").get(name) as { id: number } | null
    if (found) return found.id
    const row = this.db.query("INSERT INTO users (name, created_at) VALUES (?, ?) RETURNING id").get(name, now()) as {
      id: number
    }
    return row.id
  }

  issueToken(input: IssueToken): string {
    const token = newToken(input.kind)
    const expires = input.ttlMs === undefined ? null : new Date(Date.now() + input.ttlMs).toISOString()
    this.db
      .query(
        "INSERT INTO tokens (user_id, kind, token_hash, machine_uid, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
      )
      .run(input.userId, input.kind, hashToken(token), input.machineUid ?? null, now(), expires)
    return token
  }

  private findToken(plaintext: string, kinds: readonly TokenKind[]) {
    const hash = hashToken(plaintext)
    const row = this.db
      .query(
        "SELECT id, user_id, kind, token_hash, machine_uid, expires_at, used_at, revoked_at FROM tokens WHERE token_hash = ?",
      )
      .get(hash) as {
      id: number
      user_id: number
      kind: TokenKind
      token_hash: string
      machine_uid: string | null
      expires_at: string | null
      used_at: string | null
      revoked_at: string | null
    } | null
    if (!row || !tokensEqual(row.token_hash, hash)) return null
    if (!kinds.includes(row.kind) || row.revoked_at) return null
    if (row.expires_at && row.expires_at < now()) return null
    return row
  }

  verifyToken(plaintext: string, kinds: readonly TokenKind[]): TokenGrant | null {
    const row = this.findToken(plaintext, kinds)
    if (!row || row.used_at) return null
    return { userId: row.user_id, kind: row.kind, machineUid: row.machine_uid }
  }

  consumeToken(plaintext: string, kind: TokenKind): TokenGrant | null {
    return this.db
      .transaction(() => {
        const row = this.findToken(plaintext, [kind])
        if (!row || row.used_at) return null
        this.db.query("UPDATE tokens SET used_at = ? WHERE id = ?").run(now(), row.id)
        return { userId: row.user_id, kind: row.kind, machineUid: row.machine_uid }
      })
      .immediate()
  }

  // ---- sync -------------------------------------------------------------------------------------

  openMachine(actor: Actor, machineUid: string, name: string): { machineId: number; cursors: Sync.FileCursor[] } {
    const machine = this.db
      .query(
        `INSERT INTO machines (user_id, machine_uid, name, created_at, last_seen_at, online) VALUES (?, ?, ?, ?, ?, 1)
         ON CONFLICT (user_id, machine_uid) DO UPDATE SET name = excluded.name, last_seen_at = excluded.last_seen_at, online = 1
         RETURNING id`,
      )
      .get(actor.userId, machineUid, name, now(), now()) as { id: number }
    const files = this.db
      .query("SELECT * FROM files WHERE user_id = ? AND machine_id = ?")
      .all(actor.userId, machine.id) as FileRow[]
    return { machineId: machine.id, cursors: files.map((f) => this.cursorOf(f)) }
  }

  private cursorOf(file: FileRow): Sync.FileCursor {
    const cursor: { -readonly [K in keyof Sync.FileCursor]: Sync.FileCursor[K] } = {
      fileKey: file.file_key,
      generation: file.generation,
      offset: file.offset,
    }
    if (file.identity) cursor.identity = file.identity
    if (file.live_end > file.offset) cursor.end = file.live_end
    const tail = this.tailBytes(file)
    if (tail.length > 0) cursor.tail = Buffer.from(tail).toString("base64")
    return cursor
  }

  /** The last bytes before the file's offset, so the daemon can tell an in-place rewrite. */
  private tailBytes(file: FileRow): Uint8Array {
    if (file.offset === 0) return new Uint8Array()
    const rows = this.stmt.tailOf!.all(file.id) as { raw_at: number; raw_len: number; terminated: number }[]
    let bytes: Uint8Array = new Uint8Array()
    for (const row of rows) {
      const line = this.lines.read(row.raw_at, row.raw_len + row.terminated)
      bytes = concatBytes(line, bytes)
      if (bytes.length >= TAIL_BYTES) break
    }
    return bytes.subarray(Math.max(0, bytes.length - TAIL_BYTES))
  }

  private sessionFor(actor: MachineActor, sessionUid: string, projectDir: string): number {
    const found = this.stmt.sessionByKey!.get(actor.userId, actor.machineId, sessionUid) as { id: number } | null
    if (found) return found.id
    return (this.stmt.insertSession!.get(actor.userId, actor.machineId, sessionUid, projectDir) as { id: number }).id
  }

  private openFile(actor: MachineActor, fileKey: string, identity: string | null): FileRow {
    const existing = this.stmt.fileByKey!.get(actor.machineId, fileKey) as FileRow | null
    if (existing) return existing
    const where = projectOf(fileKey)
    const sessionId = where.sessionUid ? this.sessionFor(actor, where.sessionUid, where.projectDir) : null
    return this.stmt.insertFile!.get(
      actor.userId,
      actor.machineId,
      fileKey,
      sessionId,
      where.agentId,
      where.layout,
      identity,
    ) as FileRow
  }

  /**
   * One transaction for the whole group: a commit rewrites the pages every append touches (the
   * tables' last pages, the usage index), so committing 4 MB at once writes ~25 % less WAL than
   * committing each append. Any failure rolls the group back; nothing in it was acknowledged.
   */
  append(actor: MachineActor, appends: readonly Append[]): AppendOutcome[] {
    let bytes = 0
    for (const { header, payload } of appends) {
      if (header.toOffset - header.fromOffset !== payload.length) {
        throw new Error(
          `append for ${header.fileKey}: payload is ${payload.length} bytes, header says ${header.toOffset - header.fromOffset}`,
        )
      }
      bytes += payload.length
    }
    const outcomes = this.writing(() => appends.map((a) => this.appendOne(actor, a)))
    this.checkpointer?.wrote(bytes)
    return outcomes
  }

  private appendOne(actor: MachineActor, { header, payload, facts }: Append): AppendOutcome {
    const file = this.openFile(actor, header.fileKey, header.identity)
    if (header.generation !== file.generation || header.fromOffset !== file.offset) {
      return {
        _tag: "Rejected",
        reason: `expected generation ${file.generation} at offset ${file.offset}, got generation ${header.generation} at ${header.fromOffset}`,
        cursor: this.cursorOf(file),
      }
    }
    if (file.identity === null) file.identity = header.identity
    const stored = this.storePieces(actor, file, payload, header.fromOffset, facts)
    file.offset = header.toOffset
    this.saveFile(file)
    return { _tag: "Ack", cursor: ackCursor(file), stored }
  }

  /**
   * A write transaction; on failure, what was cached from inside it is forgotten with it. The lines it
   * appended are written to the log before it commits, and the log's new end is committed with them.
   */
  private writing<A>(body: () => A): A {
    try {
      return this.db
        .transaction(() => {
          this.lines.begin()
          const start = this.lines.end()
          const result = body()
          if (this.lines.end() !== start) {
            this.lines.flush()
            this.stmt.setLineLogEnd!.run(String(this.lines.end()))
          }
          return result
        })
        .immediate()
    } catch (error) {
      // A rolled-back session's id is handed out again, to another session.
      this.sessionUidCache.clear()
      // Never written later, over lines another connection may append meanwhile.
      this.lines.discard()
      throw error
    }
  }

  reset(actor: MachineActor, reset: Sync.Reset): AppendOutcome {
    return this.writing((): AppendOutcome => {
      const file = this.openFile(actor, reset.fileKey, reset.identity)
      if (reset.generation !== file.generation + 1) {
        return {
          _tag: "Rejected",
          reason: `reset to generation ${reset.generation}, but the server is at ${file.generation}`,
          cursor: this.cursorOf(file),
        }
      }
      // Lines past the new end no longer exist; lines before it are verified as the daemon re-reads.
      this.supersedeFrom(file, this.lineStartAtOrAfter(file, reset.size))
      file.generation = reset.generation
      file.identity = reset.identity
      file.offset = 0
      file.open_seq = null
      this.saveFile(file)
      return { _tag: "Ack", cursor: ackCursor(file), stored: [] }
    })
  }

  /** The byte offset of the first live line that does not fit entirely below `size`. */
  private lineStartAtOrAfter(file: FileRow, size: number): number {
    const row = this.db
      .query(
        `SELECT byte_offset FROM entries WHERE file_id = ? AND superseded = 0
         AND byte_offset + raw_len + terminated > ? ORDER BY byte_offset LIMIT 1`,
      )
      .get(file.id, size) as { byte_offset: number } | null
    return row ? row.byte_offset : file.live_end
  }

  private supersedeFrom(file: FileRow, byteOffset: number): void {
    if (byteOffset >= file.live_end) return
    this.supersedeLines(file, byteOffset)
    if (file.session_id !== null) this.recomputeSession(file.session_id)
  }

  /** Marks the file's live lines from `byteOffset` on superseded; its session is left to the caller. */
  private supersedeLines(file: FileRow, byteOffset: number): void {
    this.stmt.supersedeFrom!.run(file.id, byteOffset)
    file.live_end = byteOffset
    file.line_count = (this.stmt.countLive!.get(file.id) as { n: number }).n
  }

  private saveFile(file: FileRow): void {
    this.stmt.saveFile!.run(
      file.generation,
      file.offset,
      file.identity,
      file.live_end,
      file.line_count,
      file.open_seq,
      file.session_id,
      file.id,
    )
  }

  /** `given[i]`, when present, are the facts of the payload's i-th line, computed by the daemon. */
  private storePieces(
    actor: MachineActor,
    file: FileRow,
    payload: Uint8Array,
    fromOffset: number,
    given?: readonly (LineFacts | null)[],
  ): StoredRef[] {
    const stored: StoredRef[] = []
    const deltas = new Map<number, SessionDelta>()
    const deltaOf = (sessionId: number) => {
      let delta = deltas.get(sessionId)
      if (!delta) {
        delta = emptyDelta()
        deltas.set(sessionId, delta)
      }
      return delta
    }
    const touch = (sessionId: number | null, facts: LineFacts | null, seq: number, newLine: boolean) => {
      if (sessionId !== null) mergeDelta(deltaOf(sessionId), facts, seq, file.agent_id === null, newLine)
    }

    const pieces = splitPieces(payload, fromOffset)
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!
      if (file.open_seq !== null) {
        // The first piece continues the line left open by the previous append.
        const open = this.stmt.entryBySeq!.get(file.open_seq) as EntryRow
        const rawLen = open.raw_len + piece.bytes.length
        // Read only when the facts need the whole line (see `factsOf`).
        const raw = needsFacts(rawLen, piece.terminated)
          ? concatBytes(this.lines.read(open.raw_at, open.raw_len), piece.bytes)
          : null
        // The open line's bytes end the log when its pieces come one after another (a long line being
        // written): the rest is appended after them. Otherwise the whole line is appended again.
        let rawAt = open.raw_at
        if (open.raw_at + open.raw_len !== this.lines.end()) {
          rawAt = this.lines.append(raw ?? concatBytes(this.lines.read(open.raw_at, open.raw_len), piece.bytes))
          if (piece.terminated) this.lines.append(NEWLINE_BYTE)
        } else {
          this.lines.append(withNewline(piece))
        }
        const facts = raw ? factsOf(raw, piece.terminated) : partialLineFacts
        this.stmt.updateEntry!.run(
          rawAt,
          rawLen,
          piece.terminated ? 1 : 0,
          facts.kind,
          facts.subtype ?? null,
          facts.uuid ?? null,
          facts.parentUuid ?? null,
          facts.timestamp ?? null,
          open.seq,
        )
        this.db.query("DELETE FROM entry_fts WHERE rowid = ?").run(open.seq)
        this.attachSession(actor, file, facts)
        this.recordUsage(actor, file, facts, open.seq, deltaOf)
        file.live_end = open.byte_offset + rawLen + (piece.terminated ? 1 : 0)
        if (piece.terminated) file.open_seq = null
        touch(file.session_id, facts, open.seq, false)
        stored.push({
          seq: open.seq,
          sessionId: this.sessionUid(file),
          byteOffset: open.byte_offset,
          notice: piece.terminated ? (facts.notice ?? null) : null,
        })
        continue
      }
      if (piece.byteOffset < file.live_end) {
        // Re-reading after a reset: identical lines are already stored; the first difference
        // supersedes everything from there on.
        const existing = this.stmt.liveEntryAt!.get(file.id, piece.byteOffset) as EntryRow | null
        if (
          existing &&
          existing.terminated === (piece.terminated ? 1 : 0) &&
          bytesEqual(this.lines.read(existing.raw_at, existing.raw_len), piece.bytes)
        ) {
          if (!piece.terminated) file.open_seq = existing.seq
          continue
        }
        this.supersedeFrom(file, piece.byteOffset)
      }
      const facts = (piece.terminated ? given?.[i] : null) ?? factsOf(piece.bytes, piece.terminated)
      this.attachSession(actor, file, facts)
      const result = this.stmt.insertEntry!.run(
        actor.userId,
        file.id,
        file.session_id,
        file.line_count,
        piece.byteOffset,
        piece.terminated ? 1 : 0,
        this.lines.append(withNewline(piece)),
        piece.bytes.length,
        facts.kind,
        facts.subtype ?? null,
        facts.uuid ?? null,
        facts.parentUuid ?? null,
        facts.timestamp ?? null,
      )
      const seq = Number(result.lastInsertRowid)
      file.line_count += 1
      file.live_end = piece.byteOffset + storedLength(piece.bytes, piece.terminated)
      if (!piece.terminated) file.open_seq = seq
      this.recordUsage(actor, file, facts, seq, deltaOf)
      touch(file.session_id, facts, seq, true)
      stored.push({
        seq,
        sessionId: this.sessionUid(file),
        byteOffset: piece.byteOffset,
        notice: piece.terminated ? (facts.notice ?? null) : null,
      })
    }
    for (const [sessionId, delta] of deltas) this.applyDelta(sessionId, delta)
    return stored
  }

  private sessionUidCache = new Map<number, string>()
  private sessionUid(file: FileRow): string {
    if (file.session_id === null) return ""
    let uid = this.sessionUidCache.get(file.session_id)
    if (uid === undefined) {
      uid = (
        this.db.query("SELECT session_uid FROM sessions WHERE id = ?").get(file.session_id) as { session_uid: string }
      ).session_uid
      this.sessionUidCache.set(file.session_id, uid)
    }
    return uid
  }

  /** Flat `agent-*.jsonl` files name their parent session only inside their records. */
  private attachSession(actor: MachineActor, file: FileRow, facts: LineFacts): void {
    if (file.session_id !== null || !facts.sessionId) return
    const where = projectOf(file.file_key)
    file.session_id = this.sessionFor(actor, facts.sessionId, where.projectDir)
    this.db
      .query("UPDATE entries SET session_id = ? WHERE file_id = ? AND session_id IS NULL")
      .run(file.session_id, file.id)
    // The file's messages kept so far belonged to no session: they now count in this one.
    const orphans = "user_id = ? AND session_id IS NULL AND entry_seq IN (SELECT seq FROM entries WHERE file_id = ?)"
    this.db
      .query(
        `UPDATE sessions SET (usage_input, usage_output, usage_cache_write, usage_cache_read, usage_cost) =
         (SELECT usage_input + coalesce(sum(input), 0), usage_output + coalesce(sum(output), 0),
           usage_cache_write + coalesce(sum(cache_write), 0), usage_cache_read + coalesce(sum(cache_read), 0),
           usage_cost + coalesce(sum(cost_usd), 0) FROM usage_messages WHERE ${orphans}) WHERE id = ?`,
      )
      .run(actor.userId, file.id, file.session_id)
    this.db
      .query(`UPDATE usage_messages SET session_id = ? WHERE ${orphans}`)
      .run(file.session_id, actor.userId, file.id)
    this.recomputeSession(file.session_id)
  }

  /**
   * Keeps the message's usage if no copy of it is kept yet or this copy wins the dedup rule
   * (`shouldReplace`: largest total; on a tie the main chain over a sidechain), and moves the
   * session totals with it.
   */
  private recordUsage(
    actor: MachineActor,
    file: FileRow,
    facts: LineFacts,
    seq: number,
    deltaOf: (sessionId: number) => SessionDelta,
  ): void {
    const usage = facts.usage
    if (!usage) return
    const key = usage.dedupKey ?? `seq:${seq}`
    const total = usageTotal(usage)
    const kept = this.stmt.keptUsage!.get(actor.userId, key) as KeptUsageRow | null
    if (
      kept &&
      !shouldReplace(
        { total: kept.total, isSidechain: kept.is_sidechain === 1 },
        { total, isSidechain: usage.isSidechain === true },
      )
    ) {
      return
    }
    const amounts: UsageAmounts = {
      input: usage.input,
      output: usage.output,
      cacheWrite: usage.cacheWrite,
      cacheRead: usage.cacheRead,
      costUsd: costOf(usage).usd,
    }
    ;(kept ? this.stmt.replaceUsage! : this.stmt.insertUsage!).run(
      file.session_id,
      projectOf(file.file_key).projectDir,
      seq,
      usage.model,
      facts.timestamp ? facts.timestamp.slice(0, 10) : null,
      amounts.input,
      amounts.output,
      amounts.cacheWrite,
      amounts.cacheRead,
      total,
      usage.isSidechain ? 1 : 0,
      amounts.costUsd,
      actor.userId,
      key,
    )
    if (kept?.session_id != null) addUsage(deltaOf(kept.session_id), kept, -1)
    if (file.session_id !== null) addUsage(deltaOf(file.session_id), amounts, 1)
  }

  private applyDelta(sessionId: number, delta: SessionDelta): void {
    const row = this.stmt.sessionAgg!.get(sessionId) as SessionRow & { last_seq: number }
    const models = new Set<string>(JSON.parse(row.models) as string[])
    for (const m of delta.models) models.add(m)
    this.stmt.saveSessionAgg!.run(
      row.cwd ?? delta.cwd,
      delta.customTitle ?? row.custom_title,
      delta.aiTitle ?? row.ai_title,
      delta.summaryTitle ?? row.summary_title,
      row.first_prompt ?? delta.firstPrompt,
      minIso(row.first_at, delta.firstAt),
      maxIso(row.last_at, delta.lastAt),
      row.entry_count + delta.mainEntries,
      row.has_errors || delta.hasErrors ? 1 : 0,
      JSON.stringify([...models].sort()),
      delta.lastSeq,
      delta.usage.input,
      delta.usage.output,
      delta.usage.cacheWrite,
      delta.usage.cacheRead,
      delta.usage.costUsd,
      sessionId,
    )
  }

  /** After lines were superseded, session facts are rebuilt from the live lines. Rare. */
  private recomputeSession(sessionId: number): void {
    this.db
      .query(
        "UPDATE sessions SET cwd = NULL, custom_title = NULL, ai_title = NULL, summary_title = NULL, first_prompt = NULL, first_at = NULL, last_at = NULL, entry_count = 0, has_errors = 0, models = '[]' WHERE id = ?",
      )
      .run(sessionId)
    const delta = emptyDelta()
    const rows = this.db
      .query(
        `SELECT e.seq, e.raw_at, e.raw_len, e.terminated, f.agent_id FROM entries e JOIN files f ON f.id = e.file_id
         WHERE e.session_id = ? AND e.superseded = 0 ORDER BY e.seq`,
      )
      .all(sessionId) as { seq: number; raw_at: number; raw_len: number; terminated: number; agent_id: string | null }[]
    const raws = readLines(this.lines, rows)
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!
      mergeDelta(delta, analyzeLine(raws[i]!, isUtf8), row.seq, row.agent_id === null)
    }
    this.applyDelta(sessionId, delta)
  }

  setMachineState(actor: MachineActor, state: MachineState): void {
    this.db
      .query(
        `UPDATE machines SET online = ?, last_seen_at = ?, files_tracked = coalesce(?, files_tracked),
         bytes_pending = coalesce(?, bytes_pending), last_error = ? WHERE id = ? AND user_id = ?`,
      )
      .run(
        state.online ? 1 : 0,
        now(),
        state.filesTracked ?? null,
        state.bytesPending ?? null,
        state.lastError ?? null,
        actor.machineId,
        actor.userId,
      )
  }

  // ---- reads ------------------------------------------------------------------------------------

  listMachines(actor: Actor): Api.Machine[] {
    const rows = this.db
      .query("SELECT * FROM machines WHERE user_id = ? AND revoked_at IS NULL ORDER BY name")
      .all(actor.userId) as {
      machine_uid: string
      name: string
      online: number
      last_seen_at: string | null
      files_tracked: number
      bytes_pending: number
      last_error: string | null
    }[]
    return rows.map((m) => ({
      machineId: m.machine_uid,
      name: m.name,
      online: m.online === 1,
      lastSeenAt: m.last_seen_at,
      filesTracked: m.files_tracked,
      bytesPending: m.bytes_pending,
      lastError: m.last_error,
    }))
  }

  listProjects(actor: Actor): Api.Project[] {
    const rows = this.db
      .query(
        `SELECT project_dir, max(cwd) AS cwd, count(*) AS n, max(last_at) AS last_at FROM sessions
         WHERE user_id = ? GROUP BY project_dir ORDER BY last_at DESC`,
      )
      .all(actor.userId) as { project_dir: string; cwd: string | null; n: number; last_at: string | null }[]
    return rows.map((r) => ({ projectDir: r.project_dir, cwd: r.cwd, sessionCount: r.n, lastActivityAt: r.last_at }))
  }

  private static readonly SESSION_SELECT = `SELECT s.*, m.machine_uid,
      (SELECT count(*) FROM files f WHERE f.session_id = s.id AND f.agent_id IS NOT NULL) AS subagent_count
    FROM sessions s JOIN machines m ON m.id = s.machine_id`

  listSessions(actor: Actor, query: SessionQuery): Api.SessionList {
    const limit = Math.min(Math.max(query.limit ?? 100, 1), MAX_PAGE)
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
      where.push("s.models LIKE ? ESCAPE '\\'")
      params.push(`%"${likeEscape(query.model)}"%`)
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
      where.push(
        "(s.session_uid LIKE ? ESCAPE '\\' OR s.custom_title LIKE ? ESCAPE '\\' OR s.ai_title LIKE ? ESCAPE '\\' OR s.summary_title LIKE ? ESCAPE '\\' OR s.first_prompt LIKE ? ESCAPE '\\' OR s.cwd LIKE ? ESCAPE '\\')",
      )
      const like = `%${likeEscape(query.q)}%`
      params.push(like, like, like, like, like, like)
    }
    if (query.cursor) {
      // Keyset on (last_at DESC, id DESC); sessions without a timestamp sort last (NULL is smallest).
      const c = decodeCursor(query.cursor)
      if (c.at === "") {
        where.push("(s.last_at IS NULL AND s.id < ?)")
        params.push(c.id)
      } else {
        where.push("(s.last_at < ? OR (s.last_at = ? AND s.id < ?) OR s.last_at IS NULL)")
        params.push(c.at, c.at, c.id)
      }
    }
    const rows = this.db
      .query(`${SqliteEngine.SESSION_SELECT} WHERE ${where.join(" AND ")} ORDER BY s.last_at DESC, s.id DESC LIMIT ?`)
      .all(...params, limit + 1) as SessionRow[]
    const page = rows.slice(0, limit)
    const last = page[page.length - 1]
    return {
      sessions: page.map(toSummary),
      nextCursor: rows.length > limit && last ? encodeCursor({ at: last.last_at ?? "", id: last.id }) : null,
    }
  }

  /** The user's session row for a session id; the most recently active machine's when several have it. */
  private findSession(actor: Actor, sessionUid: string): SessionRow | null {
    return this.db
      .query(
        `${SqliteEngine.SESSION_SELECT} WHERE s.user_id = ? AND s.session_uid = ? ORDER BY coalesce(s.last_at, '') DESC LIMIT 1`,
      )
      .get(actor.userId, sessionUid) as SessionRow | null
  }

  getSession(actor: Actor, sessionId: string): Api.SessionDetail | null {
    const row = this.findSession(actor, sessionId)
    if (!row) return null
    const files = this.db
      .query(
        `SELECT f.file_key, f.agent_id, f.offset, f.line_count FROM files f WHERE f.session_id = ? AND f.user_id = ?
         ORDER BY f.agent_id IS NOT NULL, f.file_key`,
      )
      .all(row.id, actor.userId) as { file_key: string; agent_id: string | null; offset: number; line_count: number }[]
    return {
      session: toSummary(row),
      files: files.map((f) => ({
        fileKey: f.file_key,
        agentId: f.agent_id,
        bytes: f.offset,
        entryCount: f.line_count,
      })),
    }
  }

  listEntries(actor: Actor, sessionId: string, query: EntryQuery): Api.EntryPage | null {
    const session = this.findSession(actor, sessionId)
    if (!session) return null
    const limit = Math.min(Math.max(query.limit ?? 200, 1), MAX_PAGE)
    const fileFilter = query.allFiles ? "1 = 1" : query.agentId === undefined ? "f.agent_id IS NULL" : "f.agent_id = ?"
    // `e.session_id` lets SQLite walk entries_by_session (session_id, seq) for the page instead of
    // reading and sorting the whole session: 1.2 s -> 3 ms for the last page of 100,000 entries.
    const params: (string | number)[] = [session.id, session.id, actor.userId]
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
    const rows = this.db
      .query(
        `SELECT e.*, f.file_key, f.agent_id FROM entries e JOIN files f ON f.id = e.file_id
         WHERE f.session_id = ? AND e.session_id = ? AND e.user_id = ? AND ${fileFilter} AND e.superseded = 0 ${bound}
         ORDER BY e.seq ${order} LIMIT ?`,
      )
      .all(...params, limit + 1) as (EntryRow & { file_key: string; agent_id: string | null })[]
    const more = rows.length > limit
    const page = rows.slice(0, limit)
    if (order === "DESC") page.reverse()
    const raws = readLines(this.lines, page)
    const entries = page.map((row, i) => toEntry(row, raws[i]!))
    let nextCursor: string | null = null
    if (more) {
      const edge = order === "DESC" ? entries[0] : entries[entries.length - 1]
      nextCursor = edge ? String(edge.seq) : null
    }
    return { entries, nextCursor }
  }

  getEntry(actor: Actor, seq: number): EntryWithSession | null {
    const row = this.db
      .query(
        `SELECT e.*, f.file_key, f.agent_id, s.session_uid FROM entries e JOIN files f ON f.id = e.file_id
         JOIN sessions s ON s.id = e.session_id WHERE e.seq = ? AND e.user_id = ?`,
      )
      .get(seq, actor.userId) as (EntryRow & { file_key: string; agent_id: string | null; session_uid: string }) | null
    return row ? { sessionId: row.session_uid, entry: toEntry(row, this.lines.read(row.raw_at, row.raw_len)) } : null
  }

  exportFile(actor: Actor, sessionId: string, fileKey: string): AsyncIterable<Uint8Array> | null {
    const session = this.findSession(actor, sessionId)
    if (!session) return null
    const file = this.db
      .query("SELECT id FROM files WHERE session_id = ? AND user_id = ? AND file_key = ?")
      .get(session.id, actor.userId, fileKey) as { id: number } | null
    if (!file) return null
    const page = this.db.prepare(
      `SELECT byte_offset, raw_at, raw_len, terminated FROM entries WHERE file_id = ? AND superseded = 0 AND byte_offset >= ?
       ORDER BY byte_offset LIMIT ${EXPORT_PAGE_ROWS}`,
    )
    const lines = this.lines
    // Keyset pages, so a 1 GB session streams in bounded memory and no read stays open between pages.
    // A file's lines lie in the log as the file held them, a run of them per append: one read a run.
    return (async function* () {
      let from = 0
      for (;;) {
        const rows = page.all(file.id, from) as {
          byte_offset: number
          raw_at: number
          raw_len: number
          terminated: number
        }[]
        if (rows.length === 0) return
        yield* readRuns(lines, rows)
        from = rows[rows.length - 1]!.byte_offset + 1
      }
    })()
  }

  headSeq(actor: Actor): number {
    const row = this.db.query("SELECT max(last_seq) AS s FROM sessions WHERE user_id = ?").get(actor.userId) as {
      s: number | null
    }
    return row.s ?? 0
  }

  indexForSearch(limit: number): number {
    let textBytes = 0
    const indexed = this.db
      .transaction(() => {
        const cursor = Number(
          (this.db.query("SELECT value FROM meta WHERE key = 'search_cursor'").get() as { value: string }).value,
        )
        const rows = this.db
          .query("SELECT seq, raw_at, raw_len FROM entries WHERE seq > ? AND superseded = 0 ORDER BY seq LIMIT ?")
          .iterate(cursor, limit) as IterableIterator<{ seq: number; raw_at: number; raw_len: number }>
        const insert = this.db.query("INSERT INTO entry_fts (rowid, text) VALUES (?, ?)")
        // Requests wait for a batch on this thread: a batch of large lines (a session of 100 KB tool
        // results) stops at a time budget rather than at its count.
        const deadline = performance.now() + INDEX_BATCH_BUDGET_MS
        let last = -1
        let n = 0
        for (const row of rows) {
          const text = searchTextOf(this.lines.read(row.raw_at, row.raw_len))
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
    this.checkpointer?.wrote(textBytes)
    return indexed
  }

  search(actor: Actor, q: string, limit: number): Api.SearchResult {
    const match = ftsQuery(q)
    const cursor = Number(
      (this.db.query("SELECT value FROM meta WHERE key = 'search_cursor'").get() as { value: string }).value,
    )
    const lag = (
      this.db.query("SELECT count(*) AS n FROM entries WHERE seq > ? AND user_id = ?").get(cursor, actor.userId) as {
        n: number
      }
    ).n
    if (!match) return { hits: [], indexLag: lag }
    const rows = this.db
      .query(
        `SELECT e.seq, e.kind, e.ts, e.raw_at, e.raw_len, s.session_uid, coalesce(s.custom_title, s.ai_title, s.summary_title, s.first_prompt) AS title,
         bm25(entry_fts) AS score
         FROM entry_fts JOIN entries e ON e.seq = entry_fts.rowid JOIN sessions s ON s.id = e.session_id
         WHERE entry_fts MATCH ? AND e.user_id = ? AND e.superseded = 0 ORDER BY score LIMIT ?`,
      )
      .all(match.expression, actor.userId, Math.min(Math.max(limit, 1), 200)) as {
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
        snippet: buildSnippet(searchTextOf(this.lines.read(r.raw_at, r.raw_len)), match.terms),
        score: -r.score,
        timestamp: r.ts,
        title: r.title,
      })),
      indexLag: lag,
    }
  }

  usage(actor: Actor, query: UsageQuery): Api.UsageReport {
    const keyExpr = {
      session: "coalesce(s.session_uid, '(unattributed)')",
      project: "coalesce(u.project_dir, '')",
      day: "coalesce(u.day, '')",
      model: "u.model",
    }[query.groupBy]
    const where = ["u.user_id = ?"]
    const params: (string | number)[] = [actor.userId]
    if (query.from) {
      where.push("u.day >= ?")
      params.push(query.from.slice(0, 10))
    }
    if (query.to) {
      where.push("u.day <= ?")
      params.push(query.to.slice(0, 10))
    }
    if (query.project) {
      where.push("u.project_dir = ?")
      params.push(query.project)
    }
    if (query.sessionId) {
      where.push("s.session_uid = ?")
      params.push(query.sessionId)
    }
    const rows = this.db
      .query(
        `SELECT ${keyExpr} AS key, sum(u.input) AS input, sum(u.output) AS output, sum(u.cache_write) AS cacheWrite,
         sum(u.cache_read) AS cacheRead, sum(u.cost_usd) AS costUsd, count(*) AS messages
         FROM usage_messages u LEFT JOIN sessions s ON s.id = u.session_id
         WHERE ${where.join(" AND ")} GROUP BY key ORDER BY ${query.groupBy === "day" ? "key DESC" : "costUsd DESC, key"}`,
      )
      .all(...params) as Api.UsageRow[]
    const totals: { -readonly [K in keyof Api.UsageRow]: Api.UsageRow[K] } = {
      key: "total",
      input: 0,
      output: 0,
      cacheWrite: 0,
      cacheRead: 0,
      costUsd: 0,
      messages: 0,
    }
    for (const r of rows) {
      totals.input += r.input
      totals.output += r.output
      totals.cacheWrite += r.cacheWrite
      totals.cacheRead += r.cacheRead
      totals.costUsd += r.costUsd
      totals.messages += r.messages
    }
    return { groupBy: query.groupBy, rows, totals, pricingSource: pricingSource() }
  }
}

/** An ack carries only where the file now stands; identity and tail matter at welcome and on rejection. */
const ackCursor = (file: FileRow): Sync.FileCursor => ({
  fileKey: file.file_key,
  generation: file.generation,
  offset: file.offset,
})

function toSummary(r: SessionRow): Api.SessionSummary {
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
    models: JSON.parse(r.models) as string[],
    hasErrors: r.has_errors === 1,
    usage: {
      input: r.usage_input,
      output: r.usage_output,
      cacheWrite: r.usage_cache_write,
      cacheRead: r.usage_cache_read,
      costUsd: r.usage_cost,
    },
  }
}

function toEntry(row: EntryRow & { file_key: string; agent_id: string | null }, raw: Uint8Array): Api.Entry {
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

/**
 * A long line still arriving in pieces is parsed once, when its newline comes, not once per piece.
 * A short open line is parsed now: it may be a file's last line that never gets a newline.
 */
const OPEN_LINE_PARSE_MAX = 1024 * 1024
const needsFacts = (length: number, terminated: boolean) => terminated || length <= OPEN_LINE_PARSE_MAX
const factsOf = (raw: Uint8Array, terminated: boolean): LineFacts =>
  needsFacts(raw.length, terminated) ? analyzeLine(raw, isUtf8) : partialLineFacts

/** A piece's bytes with its newline, as a view of the same payload (the log writes them as they came). */
const withNewline = (piece: { readonly bytes: Uint8Array; readonly terminated: boolean }): Uint8Array =>
  piece.terminated ? new Uint8Array(piece.bytes.buffer, piece.bytes.byteOffset, piece.bytes.length + 1) : piece.bytes

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`)
const minIso = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : a < b ? a : b)
const maxIso = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : a > b ? a : b)
