/**
 * The MySQL engine: MySQL 8, MariaDB and PlanetScale behind one `MysqlClient` (`client.ts`), the
 * same `Engine` as the SQLite one and the same contract. Line bytes live in `line_chunks`
 * (`line-chunks.ts`), search in an InnoDB FULLTEXT index over encoded tokens (`search-terms.ts`),
 * appends and resets in the shared ingest core (`../ingest/`) over this engine's dialect
 * (`ingest-dialect.ts`), one transaction and about a dozen statements per group.
 */
import type { Api, Commands, Sync } from "@overlord/protocol"
import { appendGroup, checkAppends } from "../ingest/append.ts"
import type { FileRow } from "../ingest/dialect.ts"
import { resetFile } from "../ingest/reset.ts"
import { SEARCH_STREAM_FROM, searchTextOf, searchTextOfStoredAsync } from "../line-facts.ts"
import { buildSnippet, ftsQuery } from "../search-text.ts"
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
  StoreError,
  TokenGrant,
  TokenKind,
  UsageQuery,
} from "../store.ts"
import { MysqlAccounts } from "./accounts.ts"
import { MysqlAi } from "./ai.ts"
import { MysqlChangeFeed } from "./change-feed.ts"
import type { MysqlClient } from "./client.ts"
import { MysqlCommands } from "./commands.ts"
import { storeErrorOf } from "./errors.ts"
import { cursorsOf } from "./file-cursors.ts"
import { FILE_COLUMNS, keyHash, MysqlIngest } from "./ingest-dialect.ts"
import { readLineRange, readLines } from "./line-chunks.ts"
import { adoptChildMachine } from "./machine-parents.ts"
import { MYSQL_SESSION_SELECT, MysqlReads } from "./reads.ts"
import { migrateMysql } from "./schema.ts"
import { booleanQuery, searchTermsOf } from "./search-terms.ts"

const now = () => new Date().toISOString()
/** Line bytes one search-index batch reads at most, besides its time budget (a batch holds a transaction). */
const INDEX_BATCH_BYTES = 4 * 1024 * 1024
const INDEX_BATCH_BUDGET_MS = 15

export interface MysqlEngineOptions {
  /** Engine name reported by the store (`mysql` or `planetscale` by default, from the connector). */
  readonly name?: string
}

export class MysqlEngine implements Engine {
  readonly name: string
  /**
   * 8 chunks a group, not the socket's 4. PlanetScale first: each statement is an HTTPS request, so a
   * group costs ~13 round trips whatever it holds (~360 ms at 20 ms a request); end to end, 100 MB of
   * history, 6 interleaved
   * pairs at load 1.2-4.9: 8.7-11.1 MB/s with 4 chunks, 9.1-15.5 with 8 (mean group 4.0 → 6.7-7.1 MB, the
   * daemon's 16 MiB window holding about two groups; 481-514 → 299-370 requests). A group holds the seq
   * counter's lock until it commits (~0.45 s instead of ~0.36), and a live append that arrives during a
   * backfill waits for the group being stored. The server's peak RSS, 100 MB end to end: 201-244 MB with
   * 8 (mean 222) against 186-223 with 4 (mean 202), a group's work held in several copies at once (lines,
   * hex SQL text, the driver's request body); per server, since an engine's groups run one at a time.
   * mysql2 too, since line blocks: a group there is ~15 statements whose round trips, on a machine whose
   * cores the daemon, the server and mariadbd share, cost more than their work (2-4 ms each for a
   * one-row statement, a quarter of a 4 MB group's ~48 ms). End to end, 100 MB, interleaved, load
   * 1.0-1.2: 79-82 MB/s with 4 chunks, 85-90 with 8; server RSS 245-262 MB against 253-277.
   */
  readonly groupChunks = 8
  /**
   * Groups and resets of this engine run one at a time, as the sync socket sends them: two at once
   * would queue on the seq counter row anyway, and two creating the same file could deadlock on the
   * gap it is inserted into.
   */
  private ingestQueue: Promise<unknown> = Promise.resolve()

  private readonly ingest: MysqlIngest
  private readonly accounts: MysqlAccounts
  /** Generated titles and chunk vectors (issue #13). */
  readonly ai: MysqlAi
  /** Remote commands (`CommandStore`), delegated to in one block at the end. */
  private readonly commands: MysqlCommands
  private readonly reads: MysqlReads
  private readonly feed: MysqlChangeFeed

  private constructor(
    private readonly client: MysqlClient,
    options: MysqlEngineOptions,
  ) {
    this.name = options.name ?? (client.connector === "planetscale" ? "planetscale" : "mysql")
    this.ingest = new MysqlIngest(client)
    this.accounts = new MysqlAccounts(client)
    this.ai = new MysqlAi(client)
    this.commands = new MysqlCommands(client)
    this.reads = new MysqlReads(client)
    this.feed = new MysqlChangeFeed(client)
  }

  /** Migrates the database (under its lock) and returns the engine. */
  static async open(client: MysqlClient, options: MysqlEngineOptions = {}): Promise<MysqlEngine> {
    try {
      await migrateMysql(client)
    } catch (cause) {
      // The store layer keeps a `StoreError` as it is: an unreachable database stays retryable.
      throw storeErrorOf("open", cause)
    }
    return new MysqlEngine(client, options)
  }

  errorOf(operation: string, cause: unknown): StoreError {
    return storeErrorOf(operation, cause)
  }

  async close(): Promise<void> {
    await this.ingestQueue.catch(() => {})
    await this.client.close()
  }

  private get maxBytes(): number {
    return this.client.maxStatementBytes
  }

  private serially<A>(f: () => Promise<A>): Promise<A> {
    const run = this.ingestQueue.then(f, f)
    this.ingestQueue = run.catch(() => {})
    return run
  }

  // ---- accounts (`accounts.ts`) -------------------------------------------------------------------

  ensureUser(name: string): Promise<number> {
    return this.accounts.ensureUser(name)
  }
  issueToken(input: IssueToken): Promise<string> {
    return this.accounts.issueToken(input)
  }
  verifyToken(plaintext: string, kinds: readonly TokenKind[]): Promise<TokenGrant | null> {
    return this.accounts.verifyToken(plaintext, kinds)
  }
  consumeToken(plaintext: string, kind: TokenKind): Promise<TokenGrant | null> {
    return this.accounts.consumeToken(plaintext, kind)
  }
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

  // ---- sync -------------------------------------------------------------------------------------

  adoptChildMachine(actor: Actor, parentUid: string, childUid: string, name: string, kind: Sync.MachineParent["kind"]) {
    return adoptChildMachine(this.client, actor, parentUid, childUid, name, kind)
  }

  async openMachine(
    actor: Actor,
    machineUid: string,
    name: string,
  ): Promise<{ machineId: number; cursors: Sync.FileCursor[] }> {
    // Its name unique among the user's machines, in one transaction (`openMachineRow`, machine-queries.ts).
    const machineId = await this.accounts.openMachineRow(actor, machineUid, name)
    const files = (
      await this.client.query<FileRow>(
        `SELECT ${FILE_COLUMNS}, (SELECT g.gone_at FROM files_gone g WHERE g.file_id = files.id) AS source_gone_at
         FROM files WHERE user_id = ? AND machine_id = ?`,
        [actor.userId, machineId],
      )
    ).rows
    return { machineId, cursors: await cursorsOf(this.client, files) }
  }

  /**
   * One transaction per group, by the ingest core over this engine's dialect (`ingest-dialect.ts`): a
   * constant number of statements whatever the group's line count.
   */
  async append(actor: MachineActor, appends: readonly Append[]): Promise<AppendOutcome[]> {
    checkAppends(appends)
    if (appends.length === 0) return []
    return this.serially(() => this.ingest.transaction((tx) => appendGroup(tx, actor, appends)))
  }

  reset(actor: MachineActor, reset: Sync.Reset): Promise<AppendOutcome> {
    return this.serially(() => this.ingest.transaction((tx) => resetFile(tx, actor, reset)))
  }

  async setMachineState(actor: MachineActor, state: MachineState): Promise<void> {
    await this.client.query(
      `UPDATE machines SET online = ?, last_seen_at = ?, files_tracked = coalesce(?, files_tracked),
       bytes_pending = coalesce(?, bytes_pending), last_error = ? WHERE id = ? AND user_id = ?`,
      [
        state.online ? 1 : 0,
        now(),
        state.filesTracked ?? null,
        state.bytesPending ?? null,
        state.lastError ?? null,
        actor.machineId,
        actor.userId,
      ],
    )
  }

  async markSourcesGone(actor: MachineActor, fileKeys: readonly string[], at: string): Promise<void> {
    if (fileKeys.length === 0) return
    await this.client.query(
      `INSERT IGNORE INTO files_gone (file_id, user_id, gone_at)
       SELECT id, user_id, ? FROM files WHERE machine_id = ? AND user_id = ? AND key_hash IN (${fileKeys.map(() => "?").join(", ")})`,
      [at, actor.machineId, actor.userId, ...fileKeys.map(keyHash)],
    )
  }

  async markSourcesBack(actor: MachineActor, fileKeys: readonly string[]): Promise<void> {
    if (fileKeys.length === 0) return
    await this.client.query(
      `DELETE FROM files_gone WHERE file_id IN (SELECT id FROM files WHERE machine_id = ? AND user_id = ?
       AND key_hash IN (${fileKeys.map(() => "?").join(", ")}))`,
      [actor.machineId, actor.userId, ...fileKeys.map(keyHash)],
    )
  }

  // ---- reads (ReadStore, `reads.ts`) ----------------------------------------------------------------

  /** The session list's select, for the plan test (`test/mysql-session-list-plan.test.ts`). */
  static readonly SESSION_SELECT = MYSQL_SESSION_SELECT

  listMachines(actor: Actor): Promise<Api.Machine[]> {
    return this.reads.listMachines(actor)
  }
  listProjects(actor: Actor): Promise<Api.Project[]> {
    return this.reads.listProjects(actor)
  }
  listSessions(actor: Actor, query: SessionQuery): Promise<Api.SessionList> {
    return this.reads.listSessions(actor, query)
  }
  getSession(actor: Actor, sessionId: string): Promise<Api.SessionDetail | null> {
    return this.reads.getSession(actor, sessionId)
  }
  listEntries(actor: Actor, sessionId: string, query: EntryQuery): Promise<Api.EntryPage | null> {
    return this.reads.listEntries(actor, sessionId, query)
  }
  getEntry(actor: Actor, seq: number): Promise<EntryWithSession | null> {
    return this.reads.getEntry(actor, seq)
  }
  exportFile(actor: Actor, sessionId: string, fileKey: string): Promise<AsyncIterable<Uint8Array> | null> {
    return this.reads.exportFile(actor, sessionId, fileKey)
  }
  headSeq(actor: Actor): Promise<number> {
    return this.reads.headSeq(actor)
  }
  usage(actor: Actor, query: UsageQuery): Promise<Api.UsageReport> {
    return this.reads.usage(actor, query)
  }

  // ---- search -----------------------------------------------------------------------------------

  /**
   * Indexes the next stored lines in one short transaction: it stops at `limit` lines, 4 MiB of line
   * bytes or 15 ms, whichever comes first, so a request never waits long behind it.
   */
  async indexForSearch(limit: number): Promise<number> {
    return this.client.transaction(async (q) => {
      const cursor = (
        await q.query<{ value: number }>("SELECT value FROM counters WHERE name = 'search_cursor' FOR UPDATE")
      ).rows[0]!.value
      const { rows } = await q.query<{ seq: number; raw_len: number; is_terminated: number }>(
        "SELECT seq, raw_len, is_terminated FROM entries WHERE seq > ? AND superseded = 0 ORDER BY seq LIMIT ?",
        [cursor, Math.max(1, limit)],
      )
      if (rows.length === 0) return 0
      const deadline = performance.now() + INDEX_BATCH_BUDGET_MS
      const terms: [number, string][] = []
      let bytes = 0
      let last = cursor
      let i = 0
      while (i < rows.length && bytes < INDEX_BATCH_BYTES && (i === 0 || performance.now() <= deadline)) {
        const row = rows[i]!
        if (row.raw_len >= SEARCH_STREAM_FROM) {
          // A long line (a base64 image) alone, read a chunk at a time, never whole. One still open has no
          // search text and is not read: the append that ends it sends the cursor back to it.
          const text =
            Number(row.is_terminated) === 1
              ? searchTermsOf(
                  await searchTextOfStoredAsync(row.raw_len, (from, length) => readLineRange(q, row.seq, from, length)),
                )
              : ""
          if (text) terms.push([row.seq, text])
          last = row.seq
          bytes += row.raw_len
          i++
          continue
        }
        const run: typeof rows = []
        let runBytes = 0
        while (
          i < rows.length &&
          rows[i]!.raw_len < SEARCH_STREAM_FROM &&
          (run.length === 0 ||
            (runBytes + rows[i]!.raw_len <= this.maxBytes && bytes + runBytes + rows[i]!.raw_len <= INDEX_BATCH_BYTES))
        ) {
          runBytes += rows[i]!.raw_len
          run.push(rows[i++]!)
        }
        const raws = await readLines(q, run, this.maxBytes)
        for (let k = 0; k < run.length; k++) {
          const text = Number(run[k]!.is_terminated) === 1 ? searchTermsOf(searchTextOf(raws[k]!)) : ""
          if (text) terms.push([run[k]!.seq, text])
          last = run[k]!.seq
        }
        bytes += runBytes
      }
      for (let k = 0; k < terms.length; ) {
        const batch: [number, string][] = []
        let size = 0
        while (k < terms.length && (batch.length === 0 || size + terms[k]![1].length <= this.maxBytes)) {
          size += terms[k]![1].length
          batch.push(terms[k++]!)
        }
        await q.query(
          `INSERT INTO entry_search (seq, terms) VALUES ${"(?, ?), ".repeat(batch.length).slice(0, -2)}
           ON DUPLICATE KEY UPDATE terms = VALUES(terms)`,
          batch.flat(),
        )
      }
      await q.query("UPDATE counters SET value = ? WHERE name = 'search_cursor'", [last])
      return rows.findIndex((r) => r.seq === last) + 1
    })
  }

  async search(actor: Actor, q: string, limit: number, sessionIds?: readonly string[]): Promise<Api.SearchResult> {
    const cursor = (
      await this.client.query<{ value: number }>("SELECT value FROM counters WHERE name = 'search_cursor'")
    ).rows[0]!.value
    const lag = (
      await this.client.query<{ n: number }>("SELECT count(*) AS n FROM entries WHERE user_id = ? AND seq > ?", [
        actor.userId,
        cursor,
      ])
    ).rows[0]!.n
    const match = ftsQuery(q)
    const expression = booleanQuery(q)
    if (!match || !expression || sessionIds?.length === 0) return { hits: [], indexLag: lag }
    const within = sessionIds ? `AND s.session_uid IN (${sessionIds.map(() => "?").join(", ")})` : ""
    const { rows } = await this.client.query<{
      seq: number
      kind: string
      ts: string | null
      raw_len: number
      session_uid: string
      title: string | null
      score: number
    }>(
      `SELECT e.seq, e.kind, e.ts, e.raw_len, s.session_uid, coalesce(s.custom_title, s.ai_title, s.summary_title, s.first_prompt) AS title,
       MATCH (x.terms) AGAINST (? IN BOOLEAN MODE) AS score
       FROM entry_search x JOIN entries e ON e.seq = x.seq JOIN sessions s ON s.id = e.session_id
       WHERE MATCH (x.terms) AGAINST (? IN BOOLEAN MODE) AND e.user_id = ? AND e.superseded = 0 ${within}
       ORDER BY score DESC, e.seq LIMIT ?`,
      [expression, expression, actor.userId, ...(sessionIds ?? []), Math.min(Math.max(limit, 1), 200)],
    )
    // Long lines' text read a chunk at a time (never whole), the others in runs.
    const short = rows.filter((r) => r.raw_len < SEARCH_STREAM_FROM)
    const shortRaws = await readLines(this.client, short, this.maxBytes)
    const texts = new Map(short.map((r, i) => [r.seq, searchTextOf(shortRaws[i]!)]))
    for (const r of rows) {
      if (r.raw_len < SEARCH_STREAM_FROM) continue
      texts.set(
        r.seq,
        await searchTextOfStoredAsync(r.raw_len, (from, length) => readLineRange(this.client, r.seq, from, length)),
      )
    }
    return {
      hits: rows.map((r) => ({
        sessionId: r.session_uid,
        seq: r.seq,
        kind: r.kind,
        snippet: buildSnippet(texts.get(r.seq)!, match.terms),
        score: r.score,
        timestamp: r.ts,
        title: r.title,
      })),
      indexLag: lag,
    }
  }

  // ---- change feed ------------------------------------------------------------------------------

  feedPosition(): Promise<number> {
    return this.feed.position()
  }

  feedAfter(after: number, span: number): Promise<FeedPage> {
    return this.feed.after(after, span)
  }

  // ---- remote commands (CommandStore) ------------------------------------------------------------

  setMachineRemote(actor: MachineActor, remote: Sync.RemoteCapabilities): Promise<void> {
    return this.commands.setMachineRemote(actor, remote)
  }
  getMachineRemote(actor: Actor, machineUid: string): Promise<MachineRemote | null> {
    return this.commands.getMachineRemote(actor, machineUid)
  }
  createCommand(actor: Actor, machineUid: string, command: NewCommand): Promise<Api.CommandSummary | null> {
    return this.commands.createCommand(actor, machineUid, command)
  }
  getCommand(actor: Actor, commandId: string): Promise<Api.CommandSummary | null> {
    return this.commands.getCommand(actor, commandId)
  }
  listCommands(actor: Actor, query: CommandQuery): Promise<Api.CommandSummary[]> {
    return this.commands.listCommands(actor, query)
  }
  listCommandEvents(
    actor: Actor,
    commandId: string,
    after: number,
    limit: number,
  ): Promise<Api.CommandEventDto[] | null> {
    return this.commands.listCommandEvents(actor, commandId, after, limit)
  }
  countActiveCommands(actor: Actor, machineUid: string): Promise<number> {
    return this.commands.countActiveCommands(actor, machineUid)
  }
  undeliveredCommands(actor: MachineActor, at: string): Promise<Commands.Command[]> {
    return this.commands.undeliveredCommands(actor, at)
  }
  expireCommands(at: string): Promise<{ userId: number; command: Api.CommandSummary }[]> {
    return this.commands.expireCommands(at)
  }
  recordCommandAck(actor: MachineActor, commandId: string, at: string): Promise<Api.CommandSummary | null> {
    return this.commands.recordCommandAck(actor, commandId, at)
  }
  recordCommandEvents(
    actor: MachineActor,
    commandId: string,
    events: readonly CommandEventInput[],
    at: string,
  ): Promise<{ stored: number; command: Api.CommandSummary | null }> {
    return this.commands.recordCommandEvents(actor, commandId, events, at)
  }
  recordCommandExit(actor: MachineActor, exit: Commands.CommandExit, at: string): Promise<Api.CommandSummary | null> {
    return this.commands.recordCommandExit(actor, exit, at)
  }
  cancelQueuedCommand(actor: Actor, commandId: string, at: string): Promise<Api.CommandSummary | null> {
    return this.commands.cancelQueuedCommand(actor, commandId, at)
  }
}
