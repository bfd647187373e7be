/**
 * Storing appends and resets in MySQL: the same rules as the SQLite engine (`sqlite-engine.ts`:
 * exactly once per offset and generation, open lines continued, re-reads verified after a reset,
 * usage deduplicated, session facts kept current), in a small constant number of statements per
 * group, because on PlanetScale each statement is an HTTP request (~20 ms from a laptop).
 *
 * One transaction per group. Its first statement locks the `seq` counter row, which orders every
 * storing transaction of every server (the seqs it hands out commit in order, so the search
 * indexer's cursor never skips one). Reads are batched up front (files, open lines, kept usage);
 * writes are buffered and sent as multi-row statements at the end. The rare paths that read what
 * the group wrote (a reset's superseded lines, a flat agent file attached to its session) first
 * flush the buffers, then run as plain statements, so their results are the SQLite engine's.
 */

import { isUtf8 } from "node:buffer"
import { createHash } from "node:crypto"
import type { Sync } from "@overlord/protocol"
import {
  analyzeLine,
  costOf,
  type LineFacts,
  type LinePiece,
  shouldReplace,
  splitPieces,
  usageTotal,
} from "@overlord/transcript"
import {
  addUsage,
  emptyDelta,
  mergeDelta,
  partialLineFacts,
  projectOf,
  type SessionDelta,
  type UsageAmounts,
} from "../line-facts.ts"
import { bytesEqual, concatBytes, storedLength } from "../lines.ts"
import type { Append, AppendOutcome, MachineActor, StoredRef } from "../store.ts"
import type { MysqlQueryable, SqlValue } from "./client.ts"
import { CHUNK_BYTES, type ChunkRow, chunksOf, insertChunks, readLines } from "./line-chunks.ts"

export interface FileRow {
  id: number
  user_id: number
  machine_id: number
  file_key: string
  session_id: number | null
  agent_id: string | null
  layout: string
  generation: number
  file_offset: number
  identity: string | null
  live_end: number
  line_count: number
  open_seq: number | null
}

export interface EntryRow {
  seq: number
  user_id: number
  file_id: number
  session_id: number | null
  line_no: number
  byte_offset: number
  is_terminated: number
  raw_len: number
  kind: string
  subtype: string | null
  uuid: string | null
  parent_uuid: string | null
  ts: string | null
}

interface KeptUsageRow extends UsageAmounts {
  session_id: number | null
  total: number
  is_sidechain: number
}

interface UsageWrite {
  session_id: number | null
  project_dir: string
  entry_seq: number
  model: string
  day: string | null
  input: number
  output: number
  cache_write: number
  cache_read: number
  total: number
  is_sidechain: number
  cost_usd: number
}

interface SessionAggRow {
  id: number
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
  last_seq: number
}

export const keyHash = (fileKey: string): string => createHash("sha256").update(fileKey, "utf8").digest("hex")

const OPEN_LINE_PARSE_MAX = 1024 * 1024
const needsFacts = (length: number, terminated: boolean) => terminated || length <= OPEN_LINE_PARSE_MAX
const factsOf = (raw: Uint8Array, terminated: boolean): LineFacts =>
  needsFacts(raw.length, terminated) ? analyzeLine(raw, isUtf8) : partialLineFacts
const minIso = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : a < b ? a : b)
const maxIso = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : a > b ? a : b)
const placeholders = (n: number, row: string) => `${row}, `.repeat(n).slice(0, -2)
const str = (v: unknown): string => {
  if (typeof v !== "string") throw new TypeError(`expected a string fact, got ${typeof v}`)
  return v
}
const optStr = (v: unknown): string | null => (v === undefined || v === null ? null : str(v))

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

/** An entry row's SQL: its strings (escaping at most doubles them) and ~20 characters per number. */
const entrySqlBytes = (e: EntryRow): number =>
  200 +
  2 *
    ((e.kind?.length ?? 0) +
      (e.subtype?.length ?? 0) +
      (e.uuid?.length ?? 0) +
      (e.parent_uuid?.length ?? 0) +
      (e.ts?.length ?? 0))

/** Entry columns in the order `entryParams` gives them. */
const ENTRY_COLUMNS =
  "seq, user_id, file_id, session_id, line_no, byte_offset, is_terminated, raw_len, kind, subtype, uuid, parent_uuid, ts"
const entryParams = (e: EntryRow): SqlValue[] => [
  e.seq,
  e.user_id,
  e.file_id,
  e.session_id,
  e.line_no,
  e.byte_offset,
  e.is_terminated,
  e.raw_len,
  str(e.kind),
  optStr(e.subtype),
  optStr(e.uuid),
  optStr(e.parent_uuid),
  optStr(e.ts),
]
const FILE_COLUMNS =
  "id, user_id, machine_id, file_key, key_hash, session_id, agent_id, layout, generation, file_offset, identity, live_end, line_count, open_seq"
const USAGE_COLUMNS =
  "user_id, dedup_key, session_id, project_dir, entry_seq, model, day, input, output, cache_write, cache_read, total, is_sidechain, cost_usd"
const SESSION_AGG_COLUMNS =
  "id, cwd, custom_title, ai_title, summary_title, first_prompt, first_at, last_at, entry_count, has_errors, models, last_seq"

/** A line stored or continued in this group: its row and, when known, its bytes. */
interface LineState {
  entry: EntryRow
  bytes: Uint8Array | null
}

/**
 * One storing transaction. Made by `MysqlEngine` inside `client.transaction`, used for one group of
 * appends or one reset, then dropped: nothing it caches outlives the transaction.
 */
export class IngestTransaction {
  private nextSeq = 0
  private readonly files = new Map<string, FileRow>()
  private readonly sessionUids = new Map<number, string>()
  /** Lines this group inserted or continued, or loaded to continue. */
  private readonly lines = new Map<number, LineState>()
  /** Seqs of lines to write (insert, or update when they existed before). */
  private readonly dirtyLines = new Set<number>()
  private readonly chunks: ChunkRow[] = []
  private readonly unindex: number[] = []
  /** Kept usage by dedup key (null: none kept); what the group changed is in `usageWrites`. */
  private readonly keptUsage = new Map<string, KeptUsageRow | null>()
  private readonly usageWrites = new Map<string, UsageWrite>()
  private readonly deltas = new Map<number, SessionDelta>()
  private readonly dirtyFiles = new Set<FileRow>()
  private plannedUsageKeys: string[] = []

  constructor(
    private readonly q: MysqlQueryable,
    private readonly actor: MachineActor,
    private readonly maxStatementBytes: number,
  ) {}

  /** Locks the seq counter: the first statement of every storing transaction. */
  async begin(): Promise<void> {
    const { rows } = await this.q.query<{ value: number }>("SELECT value FROM counters WHERE name = 'seq' FOR UPDATE")
    if (!rows[0]) throw new Error("the counters table has no 'seq' row: the schema was not migrated")
    this.nextSeq = rows[0].value + 1
  }

  // ---- files and sessions -----------------------------------------------------------------------

  /** Loads (locking) or creates the files of `keys`, in two or three statements whatever their number. */
  async openFiles(keys: readonly { fileKey: string; identity: string | null }[]): Promise<void> {
    const wanted = new Map<string, string | null>()
    for (const k of keys) if (!this.files.has(k.fileKey) && !wanted.has(k.fileKey)) wanted.set(k.fileKey, k.identity)
    if (wanted.size === 0) return
    await this.loadFiles([...wanted.keys()])
    const missing = [...wanted].filter(([key]) => !this.files.has(key))
    if (missing.length === 0) return
    const sessionIds = new Map<string, number>()
    const uids = [...new Set(missing.map(([key]) => projectOf(key).sessionUid).filter((u): u is string => u !== null))]
    if (uids.length > 0) {
      for (const uid of uids)
        sessionIds.set(
          uid,
          await this.sessionFor(uid, projectOf(missing.find(([k]) => projectOf(k).sessionUid === uid)![0]).projectDir),
        )
    }
    const params: SqlValue[] = []
    for (const [key, identity] of missing) {
      const where = projectOf(key)
      params.push(
        this.actor.userId,
        this.actor.machineId,
        key,
        keyHash(key),
        where.sessionUid ? sessionIds.get(where.sessionUid)! : null,
        where.agentId,
        where.layout,
        identity,
      )
    }
    await this.q.query(
      `INSERT INTO files (user_id, machine_id, file_key, key_hash, session_id, agent_id, layout, identity) VALUES ${placeholders(missing.length, "(?, ?, ?, ?, ?, ?, ?, ?)")}`,
      params,
    )
    await this.loadFiles(missing.map(([key]) => key))
  }

  private async loadFiles(keys: readonly string[]): Promise<void> {
    const { rows } = await this.q.query<FileRow & { session_uid: string | null }>(
      `SELECT f.id, f.user_id, f.machine_id, f.file_key, f.session_id, f.agent_id, f.layout, f.generation, f.file_offset,
       f.identity, f.live_end, f.line_count, f.open_seq, s.session_uid
       FROM files f LEFT JOIN sessions s ON s.id = f.session_id
       WHERE f.machine_id = ? AND f.key_hash IN (${placeholders(keys.length, "?")}) FOR UPDATE`,
      [this.actor.machineId, ...keys.map(keyHash)],
    )
    for (const row of rows) {
      const { session_uid, ...file } = row
      this.files.set(file.file_key, file)
      if (file.session_id !== null && session_uid !== null) this.sessionUids.set(file.session_id, session_uid)
    }
  }

  file(fileKey: string): FileRow {
    const file = this.files.get(fileKey)
    if (!file) throw new Error(`file ${fileKey} was not opened in this transaction`)
    return file
  }

  private async sessionFor(sessionUid: string, projectDir: string): Promise<number> {
    const find = async () =>
      (
        await this.q.query<{ id: number }>(
          "SELECT id FROM sessions WHERE user_id = ? AND machine_id = ? AND session_uid = ?",
          [this.actor.userId, this.actor.machineId, sessionUid],
        )
      ).rows[0]?.id
    let id = await find()
    if (id === undefined) {
      const inserted = await this.q.query(
        "INSERT INTO sessions (user_id, machine_id, session_uid, project_dir, models) VALUES (?, ?, ?, ?, '[]')",
        [this.actor.userId, this.actor.machineId, sessionUid, projectDir],
      )
      id = inserted.insertId
    }
    this.sessionUids.set(id, sessionUid)
    return id
  }

  private sessionUid(file: FileRow): string {
    return file.session_id === null ? "" : (this.sessionUids.get(file.session_id) ?? "")
  }

  // ---- appends ----------------------------------------------------------------------------------

  /**
   * Works out, without the database, which pieces will be new lines and their facts, so the usage
   * they name is loaded in one statement. A misprediction only costs a later single lookup.
   */
  plan(appends: readonly Append[]): Map<Append, (LineFacts | undefined)[]> {
    const planned = new Map<Append, (LineFacts | undefined)[]>()
    const sim = new Map<string, { offset: number; generation: number; open: boolean }>()
    const keys = new Set<string>()
    for (const a of appends) {
      const file = this.file(a.header.fileKey)
      const state = sim.get(file.file_key) ?? {
        offset: file.file_offset,
        generation: file.generation,
        open: file.open_seq !== null,
      }
      sim.set(file.file_key, state)
      if (a.header.generation !== state.generation || a.header.fromOffset !== state.offset) continue
      const pieces = splitPieces(a.payload, a.header.fromOffset)
      const facts: (LineFacts | undefined)[] = []
      for (let i = 0; i < pieces.length; i++) {
        const piece = pieces[i]!
        if (i === 0 && state.open) {
          facts.push(undefined)
          continue
        }
        const f = (piece.terminated ? a.facts?.[i] : null) ?? factsOf(piece.bytes, piece.terminated)
        facts.push(f)
        if (f.usage?.dedupKey) keys.add(f.usage.dedupKey)
      }
      planned.set(a, facts)
      state.offset = a.header.toOffset
      if (pieces.length > 0) state.open = !pieces[pieces.length - 1]!.terminated
    }
    this.plannedUsageKeys = [...keys]
    return planned
  }

  /** Loads the open lines the group may continue, with the bytes of those short enough to parse. */
  async loadOpenLines(): Promise<void> {
    const seqs = [...this.files.values()]
      .map((f) => f.open_seq)
      .filter((s): s is number => s !== null && !this.lines.has(s))
    if (seqs.length === 0) return
    const { rows } = await this.q.query<EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM entries WHERE seq IN (${placeholders(seqs.length, "?")})`,
      seqs,
    )
    const short = rows.filter((r) => r.raw_len <= OPEN_LINE_PARSE_MAX)
    const raws = await readLines(this.q, short, this.maxStatementBytes)
    for (const row of rows) this.lines.set(row.seq, { entry: row, bytes: null })
    short.forEach((row, i) => {
      this.lines.get(row.seq)!.bytes = raws[i]!
    })
  }

  async appendOne(a: Append, facts: readonly (LineFacts | undefined)[] | undefined): Promise<AppendOutcome> {
    const { header, payload } = a
    const file = this.file(header.fileKey)
    if (header.generation !== file.generation || header.fromOffset !== file.file_offset) {
      // The cursor's tail is read from the database, which must hold what the group stored before.
      await this.flush()
      return {
        _tag: "Rejected",
        reason: `expected generation ${file.generation} at offset ${file.file_offset}, got generation ${header.generation} at ${header.fromOffset}`,
        cursor: await cursorOf(this.q, file),
      }
    }
    if (file.identity === null) file.identity = header.identity
    const stored = await this.storePieces(file, payload, header.fromOffset, a.facts, facts)
    file.file_offset = header.toOffset
    this.dirtyFiles.add(file)
    return {
      _tag: "Ack",
      cursor: { fileKey: file.file_key, generation: file.generation, offset: file.file_offset },
      stored,
    }
  }

  private deltaOf(sessionId: number): SessionDelta {
    let delta = this.deltas.get(sessionId)
    if (!delta) {
      delta = emptyDelta()
      this.deltas.set(sessionId, delta)
    }
    return delta
  }

  private async storePieces(
    file: FileRow,
    payload: Uint8Array,
    fromOffset: number,
    given: readonly (LineFacts | null)[] | undefined,
    planned: readonly (LineFacts | undefined)[] | undefined,
  ): Promise<StoredRef[]> {
    const stored: StoredRef[] = []
    const touch = (facts: LineFacts | null, seq: number, newLine: boolean) => {
      if (file.session_id !== null)
        mergeDelta(this.deltaOf(file.session_id), facts, seq, file.agent_id === null, newLine)
    }
    const pieces = splitPieces(payload, fromOffset)
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!
      if (file.open_seq !== null) {
        stored.push(await this.continueLine(file, piece, touch))
        continue
      }
      if (piece.byteOffset < file.live_end) {
        // Re-reading after a reset: identical lines are already stored; the first difference
        // supersedes everything from there on.
        const existing = await this.liveLineAt(file, piece.byteOffset)
        if (
          existing &&
          existing.entry.is_terminated === (piece.terminated ? 1 : 0) &&
          bytesEqual(existing.bytes!, piece.bytes)
        ) {
          if (!piece.terminated) file.open_seq = existing.entry.seq
          continue
        }
        await this.supersedeFrom(file, piece.byteOffset)
      }
      const facts = planned?.[i] ?? (piece.terminated ? given?.[i] : null) ?? factsOf(piece.bytes, piece.terminated)
      await this.attachSession(file, facts)
      const seq = this.nextSeq++
      const entry: EntryRow = {
        seq,
        user_id: this.actor.userId,
        file_id: file.id,
        session_id: file.session_id,
        line_no: file.line_count,
        byte_offset: piece.byteOffset,
        is_terminated: piece.terminated ? 1 : 0,
        raw_len: piece.bytes.length,
        kind: str(facts.kind),
        subtype: optStr(facts.subtype),
        uuid: optStr(facts.uuid),
        parent_uuid: optStr(facts.parentUuid),
        ts: optStr(facts.timestamp),
      }
      this.chunks.push(...chunksOf(seq, piece.bytes, 0))
      this.lines.set(seq, { entry, bytes: piece.bytes })
      this.dirtyLines.add(seq)
      file.line_count += 1
      file.live_end = piece.byteOffset + storedLength(piece.bytes, piece.terminated)
      if (!piece.terminated) file.open_seq = seq
      await this.recordUsage(file, facts, seq)
      touch(facts, seq, true)
      stored.push({
        seq,
        sessionId: this.sessionUid(file),
        byteOffset: piece.byteOffset,
        notice: piece.terminated ? (facts.notice ?? null) : null,
      })
    }
    return stored
  }

  /** The first piece continues the line left open by the previous append; its new bytes are new chunks. */
  private async continueLine(
    file: FileRow,
    piece: LinePiece,
    touch: (facts: LineFacts | null, seq: number, newLine: boolean) => void,
  ): Promise<StoredRef> {
    const open = await this.line(file.open_seq!)
    const entry = open.entry
    const rawLen = entry.raw_len + piece.bytes.length
    let raw: Uint8Array | null = null
    if (needsFacts(rawLen, piece.terminated)) {
      if (!open.bytes) {
        // Earlier pieces of this group may still be buffered: the database must hold them first.
        await this.flush()
        open.bytes = (await readLines(this.q, [entry], this.maxStatementBytes))[0]!
      }
      raw = concatBytes(open.bytes, piece.bytes)
    }
    this.chunks.push(...chunksOf(entry.seq, piece.bytes, entry.raw_len))
    const facts = raw ? factsOf(raw, piece.terminated) : partialLineFacts
    entry.raw_len = rawLen
    entry.is_terminated = piece.terminated ? 1 : 0
    entry.kind = str(facts.kind)
    entry.subtype = optStr(facts.subtype)
    entry.uuid = optStr(facts.uuid)
    entry.parent_uuid = optStr(facts.parentUuid)
    entry.ts = optStr(facts.timestamp)
    open.bytes = raw
    this.dirtyLines.add(entry.seq)
    this.unindex.push(entry.seq)
    await this.attachSession(file, facts)
    entry.session_id ??= file.session_id
    await this.recordUsage(file, facts, entry.seq)
    file.live_end = entry.byte_offset + rawLen + (piece.terminated ? 1 : 0)
    if (piece.terminated) file.open_seq = null
    touch(facts, entry.seq, false)
    return {
      seq: entry.seq,
      sessionId: this.sessionUid(file),
      byteOffset: entry.byte_offset,
      notice: piece.terminated ? (facts.notice ?? null) : null,
    }
  }

  private async line(seq: number): Promise<LineState> {
    let state = this.lines.get(seq)
    if (!state) {
      await this.flush()
      const { rows } = await this.q.query<EntryRow>(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE seq = ?`, [seq])
      if (!rows[0]) throw new Error(`open line ${seq} is missing`)
      state = { entry: rows[0], bytes: null }
      this.lines.set(seq, state)
    }
    return state
  }

  private async liveLineAt(file: FileRow, byteOffset: number): Promise<LineState | null> {
    await this.flush()
    const { rows } = await this.q.query<EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM entries WHERE file_id = ? AND byte_offset = ? AND superseded = 0`,
      [file.id, byteOffset],
    )
    const row = rows[0]
    if (!row) return null
    const state: LineState = this.lines.get(row.seq) ?? { entry: row, bytes: null }
    state.bytes ??= (await readLines(this.q, [state.entry], this.maxStatementBytes))[0]!
    this.lines.set(row.seq, state)
    return state
  }

  /** Flat `agent-*.jsonl` files name their parent session only inside their records. Rare. */
  private async attachSession(file: FileRow, facts: LineFacts): Promise<void> {
    if (file.session_id !== null || !facts.sessionId) return
    await this.flush()
    const sessionId = await this.sessionFor(str(facts.sessionId), projectOf(file.file_key).projectDir)
    file.session_id = sessionId
    this.dirtyFiles.add(file)
    await this.q.query("UPDATE entries SET session_id = ? WHERE file_id = ? AND session_id IS NULL", [
      sessionId,
      file.id,
    ])
    for (const state of this.lines.values()) {
      if (state.entry.file_id === file.id && state.entry.session_id === null) state.entry.session_id = sessionId
    }
    // The file's messages kept so far belonged to no session: they now count in this one.
    const orphans = "user_id = ? AND session_id IS NULL AND entry_seq IN (SELECT seq FROM entries WHERE file_id = ?)"
    const { rows } = await this.q.query<UsageAmounts>(
      `SELECT coalesce(sum(input), 0) AS input, coalesce(sum(output), 0) AS output, coalesce(sum(cache_write), 0) AS cacheWrite,
       coalesce(sum(cache_read), 0) AS cacheRead, coalesce(sum(cost_usd), 0) AS costUsd FROM usage_messages WHERE ${orphans}`,
      [this.actor.userId, file.id],
    )
    const sum = rows[0]!
    await this.q.query(
      `UPDATE sessions SET usage_input = usage_input + ?, usage_output = usage_output + ?, usage_cache_write = usage_cache_write + ?,
       usage_cache_read = usage_cache_read + ?, usage_cost = usage_cost + ? WHERE id = ?`,
      [sum.input, sum.output, sum.cacheWrite, sum.cacheRead, sum.costUsd, sessionId],
    )
    await this.q.query(`UPDATE usage_messages SET session_id = ? WHERE ${orphans}`, [
      sessionId,
      this.actor.userId,
      file.id,
    ])
    // What was cached of kept usage may have moved with them.
    this.keptUsage.clear()
    await this.recomputeSession(sessionId)
  }

  /**
   * Keeps the message's usage if no copy of it is kept yet or this copy wins the dedup rule
   * (`shouldReplace`), and moves the session totals with it.
   */
  private async recordUsage(file: FileRow, facts: LineFacts, seq: number): Promise<void> {
    const usage = facts.usage
    if (!usage) return
    const key = usage.dedupKey ?? `seq:${seq}`
    const total = usageTotal(usage)
    const kept = await this.kept(key)
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
    this.usageWrites.set(key, {
      session_id: file.session_id,
      project_dir: projectOf(file.file_key).projectDir,
      entry_seq: seq,
      model: str(usage.model),
      day: facts.timestamp ? facts.timestamp.slice(0, 10) : null,
      input: amounts.input,
      output: amounts.output,
      cache_write: amounts.cacheWrite,
      cache_read: amounts.cacheRead,
      total,
      is_sidechain: usage.isSidechain ? 1 : 0,
      cost_usd: amounts.costUsd,
    })
    this.keptUsage.set(key, { ...amounts, session_id: file.session_id, total, is_sidechain: usage.isSidechain ? 1 : 0 })
    if (kept?.session_id != null) addUsage(this.deltaOf(kept.session_id), kept, -1)
    if (file.session_id !== null) addUsage(this.deltaOf(file.session_id), amounts, 1)
  }

  /** The kept copy of a message: the planned keys load together, any other key alone. */
  private async kept(key: string): Promise<KeptUsageRow | null> {
    if (this.keptUsage.has(key)) return this.keptUsage.get(key)!
    if (key.startsWith("seq:")) return null
    const keys = [key, ...this.plannedUsageKeys.filter((k) => k !== key && !this.keptUsage.has(k))]
    for (const k of keys) this.keptUsage.set(k, null)
    for (let i = 0; i < keys.length; i += 500) {
      const batch = keys.slice(i, i + 500)
      const { rows } = await this.q.query<KeptUsageRow & { dedup_key: string }>(
        `SELECT dedup_key, session_id, input, output, cache_write AS cacheWrite, cache_read AS cacheRead, cost_usd AS costUsd,
         total, is_sidechain FROM usage_messages WHERE user_id = ? AND dedup_key IN (${placeholders(batch.length, "?")})`,
        [this.actor.userId, ...batch],
      )
      for (const { dedup_key, ...row } of rows) this.keptUsage.set(dedup_key, row)
    }
    return this.keptUsage.get(key)!
  }

  // ---- resets and superseded lines --------------------------------------------------------------

  async reset(reset: Sync.Reset): Promise<AppendOutcome> {
    const file = this.file(reset.fileKey)
    if (reset.generation !== file.generation + 1) {
      await this.flush()
      return {
        _tag: "Rejected",
        reason: `reset to generation ${reset.generation}, but the server is at ${file.generation}`,
        cursor: await cursorOf(this.q, file),
      }
    }
    // Lines past the new end no longer exist; lines before it are verified as the daemon re-reads.
    const { rows } = await this.q.query<{ byte_offset: number }>(
      `SELECT byte_offset FROM entries WHERE file_id = ? AND superseded = 0
       AND byte_offset + raw_len + is_terminated > ? ORDER BY byte_offset LIMIT 1`,
      [file.id, reset.size],
    )
    await this.supersedeFrom(file, rows[0] ? rows[0].byte_offset : file.live_end)
    file.generation = reset.generation
    file.identity = reset.identity
    file.file_offset = 0
    file.open_seq = null
    this.dirtyFiles.add(file)
    return { _tag: "Ack", cursor: { fileKey: file.file_key, generation: file.generation, offset: 0 }, stored: [] }
  }

  private async supersedeFrom(file: FileRow, byteOffset: number): Promise<void> {
    if (byteOffset >= file.live_end) return
    await this.flush()
    await this.q.query("UPDATE entries SET superseded = 1 WHERE file_id = ? AND byte_offset >= ? AND superseded = 0", [
      file.id,
      byteOffset,
    ])
    file.live_end = byteOffset
    file.line_count = (
      await this.q.query<{ n: number }>("SELECT count(*) AS n FROM entries WHERE file_id = ? AND superseded = 0", [
        file.id,
      ])
    ).rows[0]!.n
    this.dirtyFiles.add(file)
    if (file.session_id !== null) await this.recomputeSession(file.session_id)
  }

  /** After lines were superseded or a file attached, session facts are rebuilt from the live lines. Rare. */
  private async recomputeSession(sessionId: number): Promise<void> {
    await this.flush()
    await this.q.query(
      "UPDATE sessions SET cwd = NULL, custom_title = NULL, ai_title = NULL, summary_title = NULL, first_prompt = NULL, first_at = NULL, last_at = NULL, entry_count = 0, has_errors = 0, models = '[]' WHERE id = ?",
      [sessionId],
    )
    const delta = emptyDelta()
    const { rows } = await this.q.query<{ seq: number; raw_len: number; agent_id: string | null }>(
      `SELECT e.seq, e.raw_len, f.agent_id FROM entries e JOIN files f ON f.id = e.file_id
       WHERE e.session_id = ? AND e.superseded = 0 ORDER BY e.seq`,
      [sessionId],
    )
    const raws = await readLines(this.q, rows, this.maxStatementBytes)
    for (let i = 0; i < rows.length; i++) {
      mergeDelta(delta, analyzeLine(raws[i]!, isUtf8), rows[i]!.seq, rows[i]!.agent_id === null)
    }
    this.deltas.set(sessionId, delta)
    await this.flushSessions()
  }

  // ---- writing ----------------------------------------------------------------------------------

  /** Sends every buffered write: a few multi-row statements, whatever the group's size. */
  async flush(): Promise<void> {
    if (this.dirtyLines.size > 0) {
      const rows = [...this.dirtyLines].map((seq) => this.lines.get(seq)!.entry)
      this.dirtyLines.clear()
      // Statements of about `maxStatementBytes` of SQL, however many lines: 8,000 lines are one or two.
      for (const batch of bySize(rows, entrySqlBytes, this.maxStatementBytes)) {
        await this.q.query(
          `INSERT INTO entries (${ENTRY_COLUMNS}) VALUES ${placeholders(batch.length, `(${placeholders(13, "?")})`)}
           ON DUPLICATE KEY UPDATE session_id = VALUES(session_id), is_terminated = VALUES(is_terminated), raw_len = VALUES(raw_len),
           kind = VALUES(kind), subtype = VALUES(subtype), uuid = VALUES(uuid),
           parent_uuid = VALUES(parent_uuid), ts = VALUES(ts)`,
          batch.flatMap(entryParams),
        )
      }
    }
    if (this.chunks.length > 0) {
      await insertChunks(this.q, this.chunks, this.maxStatementBytes)
      this.chunks.length = 0
    }
    if (this.unindex.length > 0) {
      await this.q.query(
        `DELETE FROM entry_search WHERE seq IN (${placeholders(this.unindex.length, "?")})`,
        this.unindex,
      )
      this.unindex.length = 0
    }
    if (this.usageWrites.size > 0) {
      const writes = [...this.usageWrites]
      this.usageWrites.clear()
      await this.q.query(
        `INSERT INTO usage_messages (${USAGE_COLUMNS}) VALUES ${placeholders(writes.length, `(${placeholders(14, "?")})`)}
         ON DUPLICATE KEY UPDATE session_id = VALUES(session_id), project_dir = VALUES(project_dir), entry_seq = VALUES(entry_seq),
         model = VALUES(model), day = VALUES(day), input = VALUES(input), output = VALUES(output), cache_write = VALUES(cache_write),
         cache_read = VALUES(cache_read), total = VALUES(total), is_sidechain = VALUES(is_sidechain), cost_usd = VALUES(cost_usd)`,
        writes.flatMap(([key, u]): SqlValue[] => [
          this.actor.userId,
          key,
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
        ]),
      )
    }
    await this.flushSessions()
    if (this.dirtyFiles.size > 0) {
      const files = [...this.dirtyFiles]
      this.dirtyFiles.clear()
      await this.q.query(
        `INSERT INTO files (${FILE_COLUMNS}) VALUES ${placeholders(files.length, `(${placeholders(14, "?")})`)}
         ON DUPLICATE KEY UPDATE session_id = VALUES(session_id), generation = VALUES(generation), file_offset = VALUES(file_offset),
         identity = VALUES(identity), live_end = VALUES(live_end), line_count = VALUES(line_count), open_seq = VALUES(open_seq)`,
        files.flatMap((f): SqlValue[] => [
          f.id,
          f.user_id,
          f.machine_id,
          f.file_key,
          keyHash(f.file_key),
          f.session_id,
          f.agent_id,
          f.layout,
          f.generation,
          f.file_offset,
          f.identity,
          f.live_end,
          f.line_count,
          f.open_seq,
        ]),
      )
    }
  }

  /** Applies the sessions' deltas: one read and one write for every session the group touched. */
  private async flushSessions(): Promise<void> {
    if (this.deltas.size === 0) return
    const deltas = [...this.deltas]
    this.deltas.clear()
    const { rows } = await this.q.query<SessionAggRow>(
      `SELECT ${SESSION_AGG_COLUMNS} FROM sessions WHERE id IN (${placeholders(deltas.length, "?")}) FOR UPDATE`,
      deltas.map(([id]) => id),
    )
    const byId = new Map(rows.map((r) => [r.id, r]))
    const params: SqlValue[] = []
    for (const [id, delta] of deltas) {
      const row = byId.get(id)
      if (!row) throw new Error(`session ${id} is missing`)
      const models = new Set<string>(JSON.parse(row.models) as string[])
      for (const m of delta.models) models.add(m)
      params.push(
        id,
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
        Math.max(row.last_seq, delta.lastSeq),
        delta.usage.input,
        delta.usage.output,
        delta.usage.cacheWrite,
        delta.usage.cacheRead,
        delta.usage.costUsd,
      )
    }
    // An upsert on the primary key: every row exists, so each is an UPDATE, all in one statement.
    // The usage columns receive the delta and add it to what the row holds.
    await this.q.query(
      `INSERT INTO sessions (${SESSION_AGG_COLUMNS}, usage_input, usage_output, usage_cache_write, usage_cache_read, usage_cost,
       user_id, machine_id, session_uid, project_dir)
       VALUES ${placeholders(deltas.length, `(${placeholders(17, "?")}, 0, 0, '', '')`)}
       ON DUPLICATE KEY UPDATE cwd = VALUES(cwd), custom_title = VALUES(custom_title), ai_title = VALUES(ai_title),
       summary_title = VALUES(summary_title), first_prompt = VALUES(first_prompt), first_at = VALUES(first_at),
       last_at = VALUES(last_at), entry_count = VALUES(entry_count), has_errors = VALUES(has_errors), models = VALUES(models),
       last_seq = VALUES(last_seq), usage_input = usage_input + VALUES(usage_input), usage_output = usage_output + VALUES(usage_output),
       usage_cache_write = usage_cache_write + VALUES(usage_cache_write), usage_cache_read = usage_cache_read + VALUES(usage_cache_read),
       usage_cost = usage_cost + VALUES(usage_cost)`,
      params,
    )
  }

  /** Flushes and moves the seq counter past what the group handed out. */
  async commit(): Promise<void> {
    await this.flush()
    await this.q.query("UPDATE counters SET value = ? WHERE name = 'seq'", [this.nextSeq - 1])
  }
}

const TAIL_BYTES = 32

/** Where a file stands, with what the daemon needs to tell it was rewritten (identity, tail, live end). */
export async function cursorOf(q: MysqlQueryable, file: FileRow): Promise<Sync.FileCursor> {
  return (await cursorsOf(q, [file]))[0]!
}

/** Cursors for many files in a few statements (a machine with 5,000 files says hello). */
export async function cursorsOf(q: MysqlQueryable, files: readonly FileRow[]): Promise<Sync.FileCursor[]> {
  const tails = await tailsOf(
    q,
    files.filter((f) => f.file_offset > 0),
  )
  return files.map((file) => {
    const cursor: { -readonly [K in keyof Sync.FileCursor]: Sync.FileCursor[K] } = {
      fileKey: file.file_key,
      generation: file.generation,
      offset: file.file_offset,
    }
    if (file.identity) cursor.identity = file.identity
    if (file.live_end > file.file_offset) cursor.end = file.live_end
    const tail = tails.get(file.id)
    if (tail && tail.length > 0) cursor.tail = Buffer.from(tail).toString("base64")
    return cursor
  })
}

/** The last bytes of each file's last two live lines (as the SQLite engine's `tailBytes`), in two statements per 200 files. */
async function tailsOf(q: MysqlQueryable, files: readonly FileRow[]): Promise<Map<number, Uint8Array>> {
  const out = new Map<number, Uint8Array>()
  for (let i = 0; i < files.length; i += 200) {
    const batch = files.slice(i, i + 200)
    const { rows } = await q.query<{
      file_id: number
      seq: number
      byte_offset: number
      raw_len: number
      is_terminated: number
    }>(
      batch
        .map(
          () =>
            "(SELECT file_id, seq, byte_offset, raw_len, is_terminated FROM entries WHERE file_id = ? AND superseded = 0 ORDER BY byte_offset DESC LIMIT 2)",
        )
        .join(" UNION ALL "),
      batch.map((f) => f.id),
    )
    if (rows.length === 0) continue
    // Only the chunks that reach into each line's last 32 bytes: a chunk is at most 1 MiB long.
    const { rows: chunks } = await q.query<{ entry_seq: number; bytes: Uint8Array }>(
      `SELECT entry_seq, bytes FROM line_chunks WHERE ${rows.map(() => "(entry_seq = ? AND at > ?)").join(" OR ")} ORDER BY entry_seq, at`,
      rows.flatMap((r) => [r.seq, r.raw_len - TAIL_BYTES - CHUNK_BYTES]),
    )
    const suffix = new Map<number, Uint8Array>()
    for (const c of chunks) suffix.set(c.entry_seq, concatBytes(suffix.get(c.entry_seq) ?? new Uint8Array(), c.bytes))
    const byFile = new Map<number, typeof rows>()
    for (const r of rows) byFile.set(r.file_id, [...(byFile.get(r.file_id) ?? []), r])
    for (const [fileId, lines] of byFile) {
      lines.sort((a, b) => b.byte_offset - a.byte_offset)
      let bytes: Uint8Array = new Uint8Array()
      for (const line of lines) {
        const raw = suffix.get(line.seq) ?? new Uint8Array()
        bytes = concatBytes(line.is_terminated ? concatBytes(raw, NEWLINE) : raw, bytes)
        // A suffix shorter than its line holds 32 bytes already.
        if (bytes.length >= TAIL_BYTES || raw.length < line.raw_len) break
      }
      out.set(fileId, bytes.subarray(Math.max(0, bytes.length - TAIL_BYTES)))
    }
  }
  return out
}

const NEWLINE = new Uint8Array([0x0a])
