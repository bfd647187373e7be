/**
 * What an engine supplies so that the ingest core (`append.ts`, `reset.ts`) can store appends and
 * resets exactly once on it: a write transaction, batched loads, and one `write` of a plan.
 *
 * The core does, for each group of appends (or a reset), in ONE transaction:
 *   1. LOAD what the group needs, in batches: the files (`loadFiles`, then `ensureSessions` and
 *      `insertFiles` for new ones, or `createFiles` for both), the lines left open by earlier groups (`loadEntries`, `readLines`),
 *      after a reset the stored lines the re-read covers (`loadLiveEntries`, `countLiveFrom`), the kept
 *      usage rows of the group's messages (`loadKeptUsage`, `loadOrphanUsage`), the sessions touched
 *      (`loadSessions`);
 *   2. reserves the seqs of the group's new lines (`allocateSeqs`; counted from the appends, so a
 *      re-read line found identical after a reset leaves a gap, which readers of "after seq N" never
 *      notice);
 *   3. DECIDES, in pure functions over these rows (`decide.ts`, `usage.ts`, `sessions.ts`), what to
 *      write: a `WritePlan`, then loads the kept usage rows its lines name, and WRITES it (`write`).
 *   Rare paths take a few more rounds: rebuilding a session's facts after lines were superseded or a
 *   flat agent file was attached (`loadSessionLines`, then `write` again), the tail of a rejected file.
 *
 * A group of 4 MB therefore costs a constant number of calls (about eight), whatever its line count:
 * on PlanetScale, where each statement is an HTTP round trip of ~20 ms, that is what makes 10 MB/s
 * possible. A dialect must keep each call to a constant number of statements: a load is one
 * `SELECT … WHERE key IN (…)`, a write a few multi-row statements.
 *
 * Every method may answer synchronously (SQLite: the core then runs the whole group synchronously,
 * `steps.ts`) or with a promise (MySQL drivers). A dialect reports failures by throwing; the engine's
 * `errorOf` turns them into `StoreError`s.
 *
 * Rows use the column names of the SQLite schema (`sqlite/schema.ts`); a dialect whose columns differ
 * aliases them in its SELECTs. Numbers are JavaScript numbers (offsets and seqs stay below 2^53).
 */
import type { MachineActor } from "../store.ts"
import type { Ingest, Step } from "./steps.ts"

/** A synced file, as stored per machine. */
export interface FileRow {
  id: number
  user_id: number
  machine_id: number
  /** The file's path under `~/.claude/projects`, as the daemon names it. */
  file_key: string
  /** Null for a flat `agent-*.jsonl` file until a record names its session. */
  session_id: number | null
  agent_id: string | null
  /** `classifyFileKey`'s layout: `main`, `subagent`, `flat-agent`. */
  layout: string
  generation: number
  /** Where the next append must start. */
  offset: number
  identity: string | null
  /** End of the live (not superseded) lines: below it, a re-read after a reset is verified, not stored again. */
  live_end: number
  /** How many live lines the file has. */
  line_count: number
  /** The seq of the file's last line while it has no newline yet (the next append continues it). */
  open_seq: number | null
  /**
   * When the daemon said the file is gone from its machine (`gone`); null or absent while it is there.
   * MySQL keeps it in `files_gone` and joins it in.
   */
  source_gone_at?: string | null
}

/** A stored line, without its bytes. */
export interface EntryRow {
  seq: number
  file_id: number
  session_id: number | null
  line_no: number
  byte_offset: number
  /** 1 when the line ends with a newline (which follows its `raw_len` bytes in the file). */
  terminated: number
  /**
   * Where the dialect keeps the line's bytes: SQLite's line log position. A dialect that keeps bytes by
   * `seq` may return 0; the core never reads it, it only hands the row back (`readLines`, `ContinuedLine`).
   */
  raw_at: number
  /** The line's length in bytes, without its newline. */
  raw_len: number
  kind: string
}

/** A session's facts as the core updates them (`sessions` row). */
export interface SessionRow {
  id: number
  session_uid: string
  cwd: string | null
  custom_title: string | null
  ai_title: string | null
  summary_title: string | null
  first_prompt: string | null
  first_at: string | null
  last_at: string | null
  /** Lines of the session's main file. */
  entry_count: number
  has_errors: number
  /** A JSON array of model names, sorted. */
  models: string
}

/** The kept copy of a deduplicated API response (`usage_messages`), in the totals' shape. */
export interface KeptUsageRow {
  dedup_key: string
  session_id: number | null
  entry_seq: number
  /** `input`, `output`, `cache_write AS cacheWrite`, `cache_read AS cacheRead`, `cost_usd AS costUsd`. */
  input: number
  output: number
  cacheWrite: number
  cacheRead: number
  costUsd: number
  total: number
  is_sidechain: number
}

/** A file seen for the first time. */
export interface NewFile {
  file_key: string
  session_id: number | null
  agent_id: string | null
  layout: string
  identity: string | null
}

/** A new file naming its session by its session id (`session_uid`), not by the row's id (`createFiles`). */
export interface NewFileOfSession extends Omit<NewFile, "session_id"> {
  session_uid: string | null
}

/** A session named by a file key or a record. */
export interface SessionKey {
  session_uid: string
  project_dir: string
}

/** One live line of a session, for rebuilding its facts. */
export interface SessionLine {
  seq: number
  /** The line is in the session's main file (not a subagent's). */
  main: boolean
  /** The line's bytes, without its newline. */
  bytes: Uint8Array
}

/** Columns of a line the core derives from its facts. */
export interface LineColumns {
  kind: string
  subtype: string | null
  uuid: string | null
  parent_uuid: string | null
  ts: string | null
}

/** A line first stored by this plan. */
export interface NewEntry extends LineColumns {
  seq: number
  user_id: number
  file_id: number
  session_id: number | null
  line_no: number
  byte_offset: number
  terminated: number
  raw_len: number
  /**
   * The line as the file holds it: its bytes, then its newline when `terminated`. Views of the
   * append's payload (usually one; more when the line was continued within the group): consecutive
   * lines of one payload are adjacent views of one buffer, so a dialect writing them in order can join
   * them (SQLite: one `writev` per group).
   */
  parts: Uint8Array[]
}

/** A line left open by an earlier group that this plan continues (and perhaps ends). */
export interface ContinuedLine extends LineColumns {
  /** The row as loaded (before this group): where its first `entry.raw_len` bytes are kept. */
  entry: EntryRow
  /** What this group adds, in order, as `NewEntry.parts` (the last part holds the newline when `terminated`). */
  added: Uint8Array[]
  /** The line's whole bytes (old and added, without newline) when the core read them; else null. */
  whole: Uint8Array | null
  raw_len: number
  terminated: number
}

/** A usage row to insert, or to rewrite in place when `replace` (a copy of the message was kept already). */
export interface UsageWrite {
  replace: boolean
  user_id: number
  dedup_key: string
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

/** Token amounts added to a session's totals (negative when a kept copy moved to another session). */
export interface UsageAmounts {
  input: number
  output: number
  cacheWrite: number
  cacheRead: number
  costUsd: number
}

/** What a session row becomes. */
export interface SessionWrite {
  id: number
  /** The session's facts, replaced whole; null: left as they are (only usage moved). */
  facts: Omit<SessionRow, "id" | "session_uid"> | null
  /** `last_seq = max(last_seq, this)`. */
  last_seq: number
  /** Added to `usage_input`, `usage_output`, `usage_cache_write`, `usage_cache_read`, `usage_cost`. */
  usage: UsageAmounts
}

/**
 * Everything one group writes. `write` applies it in this order:
 * `supersede`, `continued`, `entries`, `attach`, `usageMoves`, `usage`, `sessions`, `files`,
 * `searchDrops`, `sourcesBack`.
 */
export interface WritePlan {
  /** Mark the file's live lines with `byte_offset >= fromOffset` superseded (a re-read differed). */
  supersede: { fileId: number; fromOffset: number }[]
  /** Open lines of earlier groups, continued: store the added bytes and set the row's columns. */
  continued: ContinuedLine[]
  /** New lines, in seq order (their seqs come from `allocateSeqs`). */
  entries: NewEntry[]
  /** A flat agent file found its session: `UPDATE entries SET session_id WHERE file_id AND session_id IS NULL`. */
  attach: { fileId: number; sessionId: number }[]
  /** Kept usage rows that belonged to no session and now belong to `sessionId` (by `user_id`, `dedup_key`). */
  usageMoves: { userId: number; dedupKey: string; sessionId: number }[]
  /** At most one per (user, dedup key): the copy the group keeps. */
  usage: UsageWrite[]
  sessions: SessionWrite[]
  /** Saved whole: generation, offset, identity, live_end, line_count, open_seq, session_id. */
  files: FileRow[]
  /** Seqs whose full-text rows go (a continued line is indexed again once complete, if at all). */
  searchDrops: number[]
  /**
   * Files held as gone from their machine that the daemon appended to or reset: it has them again (a
   * `CLAUDE_CONFIG_DIR` switched back, a restored backup), so their gone mark is cleared. Usually absent.
   */
  sourcesBack?: number[]
}

/** The statements of one write transaction, as the ingest core uses them. */
export interface IngestTx {
  /**
   * The machine's files among `fileKeys` (missing ones are absent; any order). They, and every row the
   * loads below return, must stay as read until commit: SQLite holds the write lock from the start
   * (IMMEDIATE); MySQL locks them (`SELECT … FOR UPDATE`).
   */
  loadFiles(actor: MachineActor, fileKeys: readonly string[]): Step<FileRow[]>
  /** Inserts the files not stored yet (another server may have just inserted one) and returns all of them. */
  insertFiles(actor: MachineActor, files: readonly NewFile[]): Step<FileRow[]>
  /** The (user, machine) sessions with these ids, created (with `project_dir`) if missing. */
  ensureSessions(actor: MachineActor, keys: readonly SessionKey[]): Step<SessionRow[]>
  /**
   * Optional: `ensureSessions(sessions)` then `insertFiles(files)` in one call, the new files naming
   * their sessions by session id. A dialect whose every statement is a round trip implements it to
   * read the files and their sessions back together: PlanetScale, one request (~20 ms) fewer per group
   * that starts a file.
   */
  createFiles?(
    actor: MachineActor,
    sessions: readonly SessionKey[],
    files: readonly NewFileOfSession[],
  ): Step<{ sessions: SessionRow[]; files: FileRow[] }>
  loadSessions(ids: readonly number[]): Step<SessionRow[]>
  /** Entries by seq (lines left open by earlier groups). */
  loadEntries(seqs: readonly number[]): Step<EntryRow[]>
  /** The file's live entries with `from <= byte_offset < to`, in byte order (a re-read after a reset). */
  loadLiveEntries(fileId: number, from: number, to: number): Step<EntryRow[]>
  /** How many live entries the file has at or after `from`. */
  countLiveFrom(fileId: number, from: number): Step<number>
  /** The file's last `count` live entries, last first (a cursor's tail). */
  loadLastEntries(fileId: number, count: number): Step<EntryRow[]>
  /** The byte offset of the file's first live line that does not end at or below `size`; null if none. */
  firstLiveLineEndingAfter(fileId: number, size: number): Step<number | null>
  /** The lines' bytes, without newlines, in the order given (committed lines and this transaction's). */
  readLines(entries: readonly EntryRow[]): Step<Uint8Array[]>
  /**
   * `length` bytes of a line from `from` (a long line read a chunk at a time, never whole; at most
   * 1 MiB). The view may be of a buffer the next call reuses: the caller keeps none of it.
   */
  readLinePart(entry: EntryRow, from: number, length: number): Step<Uint8Array>
  /** The user's kept usage rows with these dedup keys. */
  loadKeptUsage(userId: number, dedupKeys: readonly string[]): Step<KeptUsageRow[]>
  /** The user's kept usage rows of no session whose `entry_seq` is a line of the file. */
  loadOrphanUsage(userId: number, fileId: number): Step<KeptUsageRow[]>
  /** The session's live lines, in seq order, with their bytes (rebuilding its facts; rare). */
  loadSessionLines(sessionId: number): Step<SessionLine[]>
  /**
   * Reserves `count` consecutive seqs and returns the first. Seqs are global and commit in order: the
   * counter (`next_seq`) is advanced inside this transaction and stays locked until it commits, so a
   * reader that saw seq N committed never later sees a smaller one appear. `count` may be 0.
   */
  allocateSeqs(count: number): Step<number>
  /** Applies the plan (see `WritePlan` for the order). */
  write(plan: WritePlan): Step<void>
}

export interface IngestDialect {
  /**
   * Runs `body` in one write transaction: commits when it returns, rolls back when it throws (and
   * rethrows). Nothing `body` wrote may outlive a rollback (SQLite: line-log bytes queued are forgotten).
   * A synchronous dialect returns the value itself (`runSync`); an asynchronous one a promise (`runAsync`).
   */
  transaction<A>(body: (tx: IngestTx) => Ingest<A>): Step<A>
}
