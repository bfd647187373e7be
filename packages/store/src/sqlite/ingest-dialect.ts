/**
 * The ingest core's dialect for SQLite (`../ingest/dialect.ts`): prepared statements, one IMMEDIATE
 * transaction per group, line bytes in the line log (`../line-log.ts`), one `writev` per group.
 *
 * Synchronous: the core runs a whole group inside one synchronous transaction (`runSync`), so no other
 * work on this connection can run between its statements. The loads are loops over prepared statements:
 * in process, a statement costs microseconds and there is no round trip to batch away. Nothing on the
 * append path fires a trigger or is an upsert: SQLite would journal every page such a statement touches
 * so it could undo just it (with the usage triggers that was 88 MB of journal per 100 MB of lines).
 */
import type { Database, Statement } from "bun:sqlite"
import type {
  EntryRow,
  FileRow,
  IngestDialect,
  IngestTx,
  KeptUsageRow,
  NewFile,
  SessionKey,
  SessionLine,
  SessionRow,
  WritePlan,
} from "../ingest/dialect.ts"
import { type Ingest, runSync } from "../ingest/steps.ts"
import { type LineLog, readLines } from "../line-log.ts"
import type { MachineActor } from "../store.ts"

const NEWLINE = new Uint8Array([0x0a])
/** A stored line copied to the log's end is copied in pieces of this size. */
const LINE_COPY_BYTES = 1024 * 1024
const ENTRY_COLUMNS = "seq, file_id, session_id, line_no, byte_offset, terminated, raw_at, raw_len, kind"
const SESSION_COLUMNS =
  "id, session_uid, cwd, custom_title, ai_title, summary_title, first_prompt, first_at, last_at, entry_count, has_errors, models"
const KEPT_COLUMNS = `dedup_key, session_id, entry_seq, input, output, cache_write AS cacheWrite, cache_read AS cacheRead,
  cost_usd AS costUsd, total, is_sidechain`

export class SqliteIngest implements IngestDialect, IngestTx {
  private readonly stmt: Record<string, Statement>
  private readonly inTransaction: (body: () => unknown) => unknown
  /** Reused by `readLinePart`. */
  private partBuffer = new Uint8Array(0)

  constructor(
    db: Database,
    private readonly lines: LineLog,
  ) {
    const q = (sql: string) => db.prepare(sql)
    this.stmt = {
      fileByKey: q("SELECT * FROM files WHERE machine_id = ? AND file_key = ?"),
      insertFile: q(
        "INSERT INTO files (user_id, machine_id, file_key, session_id, agent_id, layout, identity) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
      ),
      saveFile: q(
        "UPDATE files SET generation = ?, offset = ?, identity = ?, live_end = ?, line_count = ?, open_seq = ?, session_id = ? WHERE id = ?",
      ),
      fileBack: q("UPDATE files SET source_gone_at = NULL WHERE id = ?"),
      sessionByKey: q(
        `SELECT ${SESSION_COLUMNS} FROM sessions WHERE user_id = ? AND machine_id = ? AND session_uid = ?`,
      ),
      insertSession: q(
        `INSERT INTO sessions (user_id, machine_id, session_uid, project_dir) VALUES (?, ?, ?, ?) RETURNING ${SESSION_COLUMNS}`,
      ),
      sessionById: q(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = ?`),
      entryBySeq: q(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE seq = ?`),
      liveEntriesIn: q(
        `SELECT ${ENTRY_COLUMNS} FROM entries WHERE file_id = ? AND byte_offset >= ? AND byte_offset < ? AND superseded = 0
         ORDER BY byte_offset`,
      ),
      countLiveFrom: q("SELECT count(*) AS n FROM entries WHERE file_id = ? AND byte_offset >= ? AND superseded = 0"),
      lastEntries: q(
        `SELECT ${ENTRY_COLUMNS} FROM entries WHERE file_id = ? AND superseded = 0 ORDER BY byte_offset DESC LIMIT ?`,
      ),
      firstEndingAfter: q(
        `SELECT byte_offset FROM entries WHERE file_id = ? AND superseded = 0
         AND byte_offset + raw_len + terminated > ? ORDER BY byte_offset LIMIT 1`,
      ),
      keptUsage: q(`SELECT ${KEPT_COLUMNS} FROM usage_messages WHERE user_id = ? AND dedup_key = ?`),
      orphanUsage: q(
        `SELECT ${KEPT_COLUMNS} FROM usage_messages WHERE user_id = ? AND session_id IS NULL
         AND entry_seq IN (SELECT seq FROM entries WHERE file_id = ?)`,
      ),
      sessionLines: q(
        `SELECT e.seq, e.raw_at, e.raw_len, e.terminated, f.agent_id FROM entries e JOIN files f ON f.id = e.file_id
         WHERE e.session_id = ? AND e.superseded = 0 ORDER BY e.seq`,
      ),
      allocateSeqs: q("UPDATE seq_counter SET next_seq = next_seq + ? WHERE id = 1 RETURNING next_seq"),
      supersedeFrom: q("UPDATE entries SET superseded = 1 WHERE file_id = ? AND byte_offset >= ? AND superseded = 0"),
      insertEntry: q(
        `INSERT INTO entries (seq, user_id, file_id, session_id, line_no, byte_offset, terminated, raw_at, raw_len, kind, subtype, uuid, parent_uuid, ts)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      updateEntry: q(
        "UPDATE entries SET raw_at = ?, raw_len = ?, terminated = ?, kind = ?, subtype = ?, uuid = ?, parent_uuid = ?, ts = ? WHERE seq = ?",
      ),
      attachEntries: q("UPDATE entries SET session_id = ? WHERE file_id = ? AND session_id IS NULL"),
      moveUsage: q("UPDATE usage_messages SET session_id = ? WHERE user_id = ? AND dedup_key = ?"),
      // Plain single-row statements: an upsert would make SQLite journal every page it touches.
      insertUsage: q(
        `INSERT INTO usage_messages (session_id, project_dir, entry_seq, model, day, input, output, cache_write, cache_read, total, is_sidechain, cost_usd, user_id, dedup_key)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      replaceUsage: q(
        `UPDATE usage_messages SET session_id = ?, project_dir = ?, entry_seq = ?, model = ?, day = ?, input = ?, output = ?,
         cache_write = ?, cache_read = ?, total = ?, is_sidechain = ?, cost_usd = ? WHERE user_id = ? AND dedup_key = ?`,
      ),
      saveSession: q(
        `UPDATE sessions SET cwd = ?, custom_title = ?, ai_title = ?, summary_title = ?, first_prompt = ?, first_at = ?,
         last_at = ?, entry_count = ?, has_errors = ?, models = ?, last_seq = max(last_seq, ?),
         usage_input = usage_input + ?, usage_output = usage_output + ?, usage_cache_write = usage_cache_write + ?,
         usage_cache_read = usage_cache_read + ?, usage_cost = usage_cost + ? WHERE id = ?`,
      ),
      addSessionUsage: q(
        `UPDATE sessions SET last_seq = max(last_seq, ?), usage_input = usage_input + ?, usage_output = usage_output + ?,
         usage_cache_write = usage_cache_write + ?, usage_cache_read = usage_cache_read + ?, usage_cost = usage_cost + ? WHERE id = ?`,
      ),
      dropSearchRow: q("DELETE FROM entry_fts WHERE rowid = ?"),
      // The indexer may have passed a line while it was open (no text then): one that ends below the
      // cursor sends the cursor back to it, so it is indexed now whole; the lines after it are indexed
      // again (`INSERT OR REPLACE`), a few when the indexer keeps up.
      searchFrom: q("UPDATE meta SET value = CAST(min(CAST(value AS INTEGER), ?) AS TEXT) WHERE key = 'search_cursor'"),
      setLineLogEnd: q("UPDATE meta SET value = ? WHERE key = 'line_log_end'"),
      lineLogEnd: q("SELECT value FROM meta WHERE key = 'line_log_end'"),
    }
    // Write transactions begin IMMEDIATE: one that began by reading could not wait for the write lock
    // held by a checkpoint on the other thread (SQLite fails it at once to avoid a deadlock).
    const tx = db.transaction((body: () => unknown) => {
      // Under the write lock: appends start at the end the last commit recorded, over any bytes a
      // transaction that never committed left after it (`LineLog.begin`).
      this.lines.begin(Number((this.stmt.lineLogEnd!.get() as { value: string }).value))
      const start = this.lines.end()
      const result = body()
      // The group's lines are written before the transaction that names them commits, and the log's new
      // end is committed with them (`line-log.ts`).
      if (this.lines.end() !== start) {
        this.lines.flush()
        this.stmt.setLineLogEnd!.run(String(this.lines.end()))
      }
      return result
    })
    this.inTransaction = (body) => tx.immediate(body)
  }

  transaction<A>(body: (tx: IngestTx) => Ingest<A>): A {
    try {
      return this.inTransaction(() => runSync(body(this))) as A
    } catch (error) {
      // Never written later, over lines another connection may append meanwhile.
      this.lines.discard()
      throw error
    }
  }

  loadFiles(actor: MachineActor, fileKeys: readonly string[]): FileRow[] {
    const rows: FileRow[] = []
    for (const key of fileKeys) {
      const row = this.stmt.fileByKey!.get(actor.machineId, key) as FileRow | null
      if (row) rows.push(row)
    }
    return rows
  }

  insertFiles(actor: MachineActor, files: readonly NewFile[]): FileRow[] {
    return files.map(
      (f) =>
        (this.stmt.fileByKey!.get(actor.machineId, f.file_key) as FileRow | null) ??
        (this.stmt.insertFile!.get(
          actor.userId,
          actor.machineId,
          f.file_key,
          f.session_id,
          f.agent_id,
          f.layout,
          f.identity,
        ) as FileRow),
    )
  }

  ensureSessions(actor: MachineActor, keys: readonly SessionKey[]): SessionRow[] {
    return keys.map(
      (k) =>
        (this.stmt.sessionByKey!.get(actor.userId, actor.machineId, k.session_uid) as SessionRow | null) ??
        (this.stmt.insertSession!.get(actor.userId, actor.machineId, k.session_uid, k.project_dir) as SessionRow),
    )
  }

  loadSessions(ids: readonly number[]): SessionRow[] {
    return ids.map((id) => this.stmt.sessionById!.get(id) as SessionRow)
  }

  loadEntries(seqs: readonly number[]): EntryRow[] {
    const rows: EntryRow[] = []
    for (const seq of seqs) {
      const row = this.stmt.entryBySeq!.get(seq) as EntryRow | null
      if (row) rows.push(row)
    }
    return rows
  }

  loadLiveEntries(fileId: number, from: number, to: number): EntryRow[] {
    return this.stmt.liveEntriesIn!.all(fileId, from, to) as EntryRow[]
  }

  countLiveFrom(fileId: number, from: number): number {
    return (this.stmt.countLiveFrom!.get(fileId, from) as { n: number }).n
  }

  loadLastEntries(fileId: number, count: number): EntryRow[] {
    return this.stmt.lastEntries!.all(fileId, count) as EntryRow[]
  }

  firstLiveLineEndingAfter(fileId: number, size: number): number | null {
    const row = this.stmt.firstEndingAfter!.get(fileId, size) as { byte_offset: number } | null
    return row ? row.byte_offset : null
  }

  readLines(entries: readonly EntryRow[]): Uint8Array[] {
    return readLines(this.lines, entries)
  }

  readLinePart(entry: EntryRow, from: number, length: number): Uint8Array {
    if (this.partBuffer.length < length) this.partBuffer = new Uint8Array(length)
    return this.lines.read(entry.raw_at + from, length, this.partBuffer)
  }

  loadKeptUsage(userId: number, dedupKeys: readonly string[]): KeptUsageRow[] {
    const rows: KeptUsageRow[] = []
    for (const key of dedupKeys) {
      const row = this.stmt.keptUsage!.get(userId, key) as KeptUsageRow | null
      if (row) rows.push(row)
    }
    return rows
  }

  loadOrphanUsage(userId: number, fileId: number): KeptUsageRow[] {
    return this.stmt.orphanUsage!.all(userId, fileId) as KeptUsageRow[]
  }

  loadSessionLines(sessionId: number): SessionLine[] {
    const rows = this.stmt.sessionLines!.all(sessionId) as {
      seq: number
      raw_at: number
      raw_len: number
      terminated: number
      agent_id: string | null
    }[]
    const bytes = readLines(this.lines, rows)
    return rows.map((r, i) => ({ seq: r.seq, main: r.agent_id === null, bytes: bytes[i]! }))
  }

  allocateSeqs(count: number): number {
    const { next_seq } = this.stmt.allocateSeqs!.get(count) as { next_seq: number }
    return next_seq - count
  }

  write(plan: WritePlan): void {
    const s = this.stmt
    for (const { fileId, fromOffset } of plan.supersede) s.supersedeFrom!.run(fileId, fromOffset)
    // Open lines first: one whose bytes end the log (a long line arriving chunk after chunk) grows in
    // place; otherwise the whole line is appended again.
    for (const c of plan.continued) {
      const e = c.entry
      let rawAt = e.raw_at
      if (e.raw_at + e.raw_len === this.lines.end()) {
        for (const part of c.added) this.lines.append(part)
      } else {
        if (c.whole) {
          rawAt = this.lines.append(c.whole)
          if (c.terminated) this.lines.append(NEWLINE)
        } else {
          // Not read whole by the core (a long line, or one that stays open): its stored bytes are
          // copied a chunk at a time, then the parts this group adds (the last holds the newline when
          // it ends the line). Each read writes out what was queued, so at most a chunk is held.
          rawAt = this.lines.end()
          for (let at = 0; at < e.raw_len; at += LINE_COPY_BYTES) {
            this.lines.append(this.lines.read(e.raw_at + at, Math.min(LINE_COPY_BYTES, e.raw_len - at)))
          }
          for (const part of c.added) this.lines.append(part)
        }
      }
      s.updateEntry!.run(rawAt, c.raw_len, c.terminated, c.kind, c.subtype, c.uuid, c.parent_uuid, c.ts, e.seq)
    }
    for (const e of plan.entries) {
      const rawAt = this.lines.append(e.parts[0]!)
      for (let i = 1; i < e.parts.length; i++) this.lines.append(e.parts[i]!)
      s.insertEntry!.run(
        e.seq,
        e.user_id,
        e.file_id,
        e.session_id,
        e.line_no,
        e.byte_offset,
        e.terminated,
        rawAt,
        e.raw_len,
        e.kind,
        e.subtype,
        e.uuid,
        e.parent_uuid,
        e.ts,
      )
    }
    for (const a of plan.attach) s.attachEntries!.run(a.sessionId, a.fileId)
    for (const m of plan.usageMoves) s.moveUsage!.run(m.sessionId, m.userId, m.dedupKey)
    for (const u of plan.usage) {
      ;(u.replace ? s.replaceUsage! : s.insertUsage!).run(
        u.session_id,
        u.project_dir,
        u.entry_seq,
        u.model,
        u.day,
        u.input,
        u.output,
        u.cache_write,
        u.cache_read,
        u.total,
        u.is_sidechain,
        u.cost_usd,
        u.user_id,
        u.dedup_key,
      )
    }
    for (const w of plan.sessions) {
      const u = w.usage
      if (w.facts) {
        const f = w.facts
        s.saveSession!.run(
          f.cwd,
          f.custom_title,
          f.ai_title,
          f.summary_title,
          f.first_prompt,
          f.first_at,
          f.last_at,
          f.entry_count,
          f.has_errors,
          f.models,
          w.last_seq,
          u.input,
          u.output,
          u.cacheWrite,
          u.cacheRead,
          u.costUsd,
          w.id,
        )
      } else {
        s.addSessionUsage!.run(w.last_seq, u.input, u.output, u.cacheWrite, u.cacheRead, u.costUsd, w.id)
      }
    }
    for (const f of plan.files) {
      s.saveFile!.run(f.generation, f.offset, f.identity, f.live_end, f.line_count, f.open_seq, f.session_id, f.id)
    }
    for (const seq of plan.searchDrops) s.dropSearchRow!.run(seq)
    for (const line of plan.continued) if (line.terminated === 1) s.searchFrom!.run(line.entry.seq - 1)
    for (const id of plan.sourcesBack ?? []) s.fileBack!.run(id)
  }
}
