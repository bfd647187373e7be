/**
 * The embedded store: SQLite through bun:sqlite, WAL mode. What it keeps and how it stays fast is its
 * own (pragmas, the line log, the checkpointer); what it stores on an append is the ingest core's
 * (`../ingest/`), run over the SQLite dialect (`ingest-dialect.ts`) synchronously: each group of appends
 * is one short IMMEDIATE transaction, so the bytes and the files' new offsets commit together or not at
 * all. Accounts, reads and search are their own modules.
 */
import { Database } from "bun:sqlite"
import { chmodSync, existsSync, mkdirSync } from "node:fs"
import { dirname } from "node:path"
import type { Api, Commands, Sync } from "@overlord/protocol"
import { SchemaTooNewError, type StoreError } from "../errors.ts"
import { appendGroup, loadTails } from "../ingest/append.ts"
import { welcomeCursorOf } from "../ingest/cursors.ts"
import type { FileRow } from "../ingest/dialect.ts"
import { resetFile } from "../ingest/reset.ts"
import { runSync } from "../ingest/steps.ts"
import { type LineLog, lineLogPath, openLineLog } from "../line-log.ts"
import { Checkpointer } from "../sqlite-checkpointer.ts"
import type {
  AccountLinkKind,
  Actor,
  Append,
  AppendOutcome,
  CommandEventInput,
  CommandQuery,
  CreateAccountLink,
  DeviceCodeInput,
  Engine,
  EntryQuery,
  EntryWithSession,
  FeedPage,
  IssueToken,
  MachineActor,
  MachineRemote,
  MachineState,
  NewCommand,
  SessionQuery,
  TokenGrant,
  TokenKind,
  UsageQuery,
} from "../store.ts"
import { SqliteAccounts } from "./accounts.ts"
import { SqliteAi } from "./ai.ts"
import { SqliteChangeFeed } from "./change-feed.ts"
import { SqliteCommands } from "./commands.ts"
import { sqliteErrorOf } from "./errors.ts"
import { SqliteIngest } from "./ingest-dialect.ts"
import { compactLineLog, type LineLogCompactionOptions, settleLineLog } from "./line-log-compaction.ts"
import { recoverLineLog } from "./line-log-recovery.ts"
import { adoptChildMachine } from "./machine-parents.ts"
import { SqliteReads } from "./reads.ts"
import { SQLITE_MIGRATIONS } from "./schema.ts"
import { SqliteSearch } from "./search.ts"

const now = () => new Date().toISOString()

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
  /** How long a statement waits for another connection's lock before failing (`StoreConflictError`). */
  readonly busyTimeoutMs?: number
  /** When the line log is compacted at open (`line-log-compaction.ts`); `false`: never. */
  readonly lineLogCompaction?: LineLogCompactionOptions | false
}

const PAGE_SIZE = 4096
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
  private readonly db: Database
  private readonly checkpointer: Checkpointer | null = null
  private readonly lines: LineLog
  private readonly ingest: SqliteIngest
  private readonly accounts: SqliteAccounts
  private readonly reads: SqliteReads
  private readonly searchIndex: SqliteSearch
  /** Generated titles and chunk vectors (issue #13). */
  readonly ai: SqliteAi
  /** Remote commands (`CommandStore`), delegated to in one block at the end. */
  private readonly commands: SqliteCommands

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
    this.db.run(`PRAGMA busy_timeout = ${options.busyTimeoutMs ?? 5000}`)
    this.db.run("PRAGMA foreign_keys = ON")
    this.migrate()
    // Before anything reads the log: a compaction cut short is finished or dropped.
    settleLineLog(this.db, this.lines)
    this.ingest = new SqliteIngest(this.db, this.lines)
    this.accounts = new SqliteAccounts(this.db)
    this.reads = new SqliteReads(this.db, this.lines)
    this.commands = new SqliteCommands(this.db)
    this.searchIndex = new SqliteSearch(this.db, this.lines, (bytes) => this.checkpointer?.wrote(bytes))
    this.ai = new SqliteAi(this.db, this.lines)
    recoverLineLog(this.db, this.lines, this.ingest, options.onWarning ?? ((message) => console.warn(message)))
    if (options.lineLogCompaction !== false) {
      const compacted = compactLineLog(this.db, this.lines, options.lineLogCompaction)
      if (compacted)
        (options.onWarning ?? ((message) => console.warn(message)))(
          `line log compacted: ${compacted.before} -> ${compacted.after} bytes (generation ${compacted.generation})`,
        )
    }
  }

  private migrate(): void {
    const row = this.db.query("PRAGMA user_version").get() as { user_version: number }
    if (row.user_version > SQLITE_MIGRATIONS.length)
      throw new SchemaTooNewError(row.user_version, SQLITE_MIGRATIONS.length)
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

  errorOf(operation: string, cause: unknown): StoreError {
    return sqliteErrorOf(operation, cause)
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

  // ---- sync (SyncStore) ----------------------------------------------------------------------------

  adoptChildMachine(actor: Actor, parentUid: string, childUid: string, name: string, kind: Sync.MachineParent["kind"]) {
    return adoptChildMachine(this.db, actor, parentUid, childUid, name, kind)
  }

  openMachine(actor: Actor, machineUid: string, name: string): { machineId: number; cursors: Sync.FileCursor[] } {
    // Its name unique among the user's machines, in one transaction (`openMachineRow`, machine-queries.ts).
    const machineId = this.accounts.openMachineRow(actor, machineUid, name)
    const files = this.db
      .query("SELECT * FROM files WHERE user_id = ? AND machine_id = ?")
      .all(actor.userId, machineId) as FileRow[]
    const tails = runSync(loadTails(this.ingest, files))
    return { machineId, cursors: files.map((f) => welcomeCursorOf(f, tails.get(f.id) ?? null)) }
  }

  /**
   * One transaction for the whole group: a commit rewrites the pages every append touches (the
   * tables' last pages, the usage index), so committing 4 MB at once writes ~25 % less WAL than
   * committing each append. Any failure rolls the group back; nothing in it was acknowledged.
   */
  append(actor: MachineActor, appends: readonly Append[]): AppendOutcome[] {
    const outcomes = this.ingest.transaction((tx) => appendGroup(tx, actor, appends))
    let bytes = 0
    for (const a of appends) bytes += a.payload.length
    this.checkpointer?.wrote(bytes)
    return outcomes
  }

  reset(actor: MachineActor, reset: Sync.Reset): AppendOutcome {
    return this.ingest.transaction((tx) => resetFile(tx, actor, reset))
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

  markSourcesGone(actor: MachineActor, fileKeys: readonly string[], at: string): void {
    const mark = this.db.prepare(
      "UPDATE files SET source_gone_at = ? WHERE machine_id = ? AND user_id = ? AND file_key = ? AND source_gone_at IS NULL",
    )
    this.db.transaction(() => {
      for (const key of fileKeys) mark.run(at, actor.machineId, actor.userId, key)
    })()
  }

  markSourcesBack(actor: MachineActor, fileKeys: readonly string[]): void {
    const back = this.db.prepare(
      "UPDATE files SET source_gone_at = NULL WHERE machine_id = ? AND user_id = ? AND file_key = ? AND source_gone_at IS NOT NULL",
    )
    this.db.transaction(() => {
      for (const key of fileKeys) back.run(actor.machineId, actor.userId, key)
    })()
  }

  // ---- accounts (AccountStore), reads (ReadStore), search (SearchStore) ---------------------------

  ensureUser(name: string): number {
    return this.accounts.ensureUser(name)
  }
  issueToken(input: IssueToken): string {
    return this.accounts.issueToken(input)
  }
  verifyToken(plaintext: string, kinds: readonly TokenKind[]): TokenGrant | null {
    return this.accounts.verifyToken(plaintext, kinds)
  }
  consumeToken(plaintext: string, kind: TokenKind): TokenGrant | null {
    return this.accounts.consumeToken(plaintext, kind)
  }
  // AccountDirectory (issue #11): users, links, revocation, device codes, shares (`accounts.ts`).
  getUser(userId: number) {
    return this.accounts.getUser(userId)
  }
  findUserByEmail(email: string) {
    return this.accounts.findUserByEmail(email)
  }
  hasAdmin() {
    return this.accounts.hasAdmin()
  }
  createAccountLink(input: CreateAccountLink) {
    return this.accounts.createAccountLink(input)
  }
  accountLinkStatus(token: string) {
    return this.accounts.accountLinkStatus(token)
  }
  acceptAccountLink(token: string, kind: AccountLinkKind, email: string, name: string) {
    return this.accounts.acceptAccountLink(token, kind, email, name)
  }
  listTokens(actor: Actor) {
    return this.accounts.listTokens(actor)
  }
  revokeToken(actor: Actor, tokenId: number) {
    return this.accounts.revokeToken(actor, tokenId)
  }
  revokeMachine(actor: Actor, machineUid: string) {
    return this.accounts.revokeMachine(actor, machineUid)
  }
  revokedMachines(actor: Actor) {
    return this.accounts.revokedMachines(actor)
  }
  renameMachine(actor: Actor, machineUid: string, name: string) {
    return this.accounts.renameMachine(actor, machineUid, name)
  }
  redeemPairingKey(key: string, machineUid: string) {
    return this.accounts.redeemPairingKey(key, machineUid)
  }
  createDeviceCode(input: DeviceCodeInput) {
    return this.accounts.createDeviceCode(input)
  }
  getDeviceRequest(userCode: string) {
    return this.accounts.getDeviceRequest(userCode)
  }
  decideDeviceRequest(actor: Actor, userCode: string, approve: boolean) {
    return this.accounts.decideDeviceRequest(actor, userCode, approve)
  }
  pollDeviceCode(deviceCode: string, minIntervalMs: number) {
    return this.accounts.pollDeviceCode(deviceCode, minIntervalMs)
  }
  shareSession(actor: Actor, sessionId: string, granteeEmail: string) {
    return this.accounts.shareSession(actor, sessionId, granteeEmail)
  }
  unshareSession(actor: Actor, sessionId: string, granteeUserId: number) {
    return this.accounts.unshareSession(actor, sessionId, granteeUserId)
  }
  listShares(actor: Actor, sessionId: string) {
    return this.accounts.listShares(actor, sessionId)
  }
  sharedSessionOwner(actor: Actor, sessionId: string) {
    return this.accounts.sharedSessionOwner(actor, sessionId)
  }
  listSharedWithMe(actor: Actor) {
    return this.accounts.listSharedWithMe(actor)
  }
  listMachines(actor: Actor): Api.Machine[] {
    return this.reads.listMachines(actor)
  }
  listProjects(actor: Actor): Api.Project[] {
    return this.reads.listProjects(actor)
  }
  listSessions(actor: Actor, query: SessionQuery): Api.SessionList {
    return this.reads.listSessions(actor, query)
  }
  getSession(actor: Actor, sessionId: string): Api.SessionDetail | null {
    return this.reads.getSession(actor, sessionId)
  }
  listEntries(actor: Actor, sessionId: string, query: EntryQuery): Api.EntryPage | null {
    return this.reads.listEntries(actor, sessionId, query)
  }
  getEntry(actor: Actor, seq: number): EntryWithSession | null {
    return this.reads.getEntry(actor, seq)
  }
  exportFile(actor: Actor, sessionId: string, fileKey: string): AsyncIterable<Uint8Array> | null {
    return this.reads.exportFile(actor, sessionId, fileKey)
  }
  headSeq(actor: Actor): number {
    return this.reads.headSeq(actor)
  }
  usage(actor: Actor, query: UsageQuery): Api.UsageReport {
    return this.reads.usage(actor, query)
  }
  indexForSearch(limit: number): number {
    return this.searchIndex.indexForSearch(limit)
  }
  search(actor: Actor, q: string, limit: number, sessionIds?: readonly string[]): Api.SearchResult {
    return this.searchIndex.search(actor, q, limit, sessionIds)
  }

  // ---- change feed (ChangeFeed) --------------------------------------------------------------------

  private changes: SqliteChangeFeed | null = null
  private get feed(): SqliteChangeFeed {
    this.changes ??= new SqliteChangeFeed(this.db)
    return this.changes
  }
  feedPosition(): number {
    return this.feed.position()
  }
  feedAfter(after: number, span: number): FeedPage {
    return this.feed.after(after, span)
  }

  // ---- remote commands (CommandStore) ------------------------------------------------------------

  setMachineRemote(actor: MachineActor, remote: Sync.RemoteCapabilities): void {
    this.commands.setMachineRemote(actor, remote)
  }
  getMachineRemote(actor: Actor, machineUid: string): MachineRemote | null {
    return this.commands.getMachineRemote(actor, machineUid)
  }
  createCommand(actor: Actor, machineUid: string, command: NewCommand): Api.CommandSummary | null {
    return this.commands.createCommand(actor, machineUid, command)
  }
  getCommand(actor: Actor, commandId: string): Api.CommandSummary | null {
    return this.commands.getCommand(actor, commandId)
  }
  listCommands(actor: Actor, query: CommandQuery): Api.CommandSummary[] {
    return this.commands.listCommands(actor, query)
  }
  listCommandEvents(actor: Actor, commandId: string, after: number, limit: number): Api.CommandEventDto[] | null {
    return this.commands.listCommandEvents(actor, commandId, after, limit)
  }
  countActiveCommands(actor: Actor, machineUid: string): number {
    return this.commands.countActiveCommands(actor, machineUid)
  }
  undeliveredCommands(actor: MachineActor, at: string): Commands.Command[] {
    return this.commands.undeliveredCommands(actor, at)
  }
  expireCommands(at: string): { userId: number; command: Api.CommandSummary }[] {
    return this.commands.expireCommands(at)
  }
  recordCommandAck(actor: MachineActor, commandId: string, at: string): Api.CommandSummary | null {
    return this.commands.recordCommandAck(actor, commandId, at)
  }
  recordCommandEvents(
    actor: MachineActor,
    commandId: string,
    events: readonly CommandEventInput[],
    at: string,
  ): { stored: number; command: Api.CommandSummary | null } {
    return this.commands.recordCommandEvents(actor, commandId, events, at)
  }
  recordCommandExit(actor: MachineActor, exit: Commands.CommandExit, at: string): Api.CommandSummary | null {
    return this.commands.recordCommandExit(actor, exit, at)
  }
  cancelQueuedCommand(actor: Actor, commandId: string, at: string): Api.CommandSummary | null {
    return this.commands.cancelQueuedCommand(actor, commandId, at)
  }
}
