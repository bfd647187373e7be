/**
 * The store: four narrow interfaces every engine implements (embedded SQLite; MySQL and PlanetScale),
 * and the `Store` service composed from them.
 *
 * - `SyncStore`: what the sync socket writes (machines, appends, resets, machine state).
 * - `AccountStore`: users and tokens.
 * - `ReadStore`: what the REST API and the live feed read.
 * - `SearchStore`: the full-text index, filled in the background, and queries on it.
 *
 * Engines implement them as plain methods returning a value or a promise (`R<A>`), and throw on
 * failure; `Engine.errorOf` says which `StoreError` a thrown driver error is. The exactly-once rules of
 * `append` and `reset` are not an engine's to write: they live in the ingest core (`ingest/`), which an
 * engine runs over its own `IngestDialect` (statements, transactions, where line bytes live).
 *
 * Every method takes an `Actor` so that every query is scoped to its user; sync methods take a
 * `MachineActor`.
 */
import type { Api, Commands, Sync } from "@overlord/protocol"
import type { LineFacts } from "@overlord/transcript"
import { Context, Effect, Layer } from "effect"
import { isStoreError, type StoreError, StoreQueryError } from "./errors.ts"

export * from "./errors.ts"

export interface Actor {
  readonly userId: number
}
export interface MachineActor extends Actor {
  readonly machineId: number
}

/**
 * `machine`: a daemon's credential. `api`: a bearer token for scripts and the CLI.
 * `login-link`: the one-time token in the URL `overlord start` prints. `browser`: the cookie it becomes.
 */
export type TokenKind = "machine" | "api" | "login-link" | "browser" | "pairing-key"

export interface TokenGrant {
  readonly userId: number
  readonly kind: TokenKind
  /** Set for machine tokens. */
  readonly machineUid: string | null
}

export interface IssueToken {
  readonly userId: number
  readonly kind: TokenKind
  readonly machineUid?: string
  readonly ttlMs?: number
  /** What the user calls it (API tokens, pairing keys). */
  readonly label?: string
  /** Pairing keys: usable once (default) or until they expire. */
  readonly singleUse?: boolean
}

/** A stored line as the live feed announces it. */
export interface StoredRef {
  readonly seq: number
  readonly sessionId: string
  readonly byteOffset: number
  /** Set when the line was kept but is not a readable record. */
  readonly notice: string | null
}

/** One append frame: the file's bytes from `header.fromOffset`, and the daemon's facts for its lines. */
export interface Append {
  readonly header: Sync.AppendHeader
  readonly payload: Uint8Array
  /**
   * `facts[i]`, when given, are the facts of the payload's i-th line as the daemon computed them
   * (same `FACTS_VERSION`); the engine computes any that are missing.
   */
  readonly facts?: readonly (LineFacts | null)[]
}

export type AppendOutcome =
  | { readonly _tag: "Ack"; readonly cursor: Sync.FileCursor; readonly stored: readonly StoredRef[] }
  | { readonly _tag: "Rejected"; readonly reason: string; readonly cursor: Sync.FileCursor }

export interface MachineState {
  readonly online: boolean
  readonly filesTracked?: number
  readonly bytesPending?: number
  readonly lastError?: string | null
}

export interface SessionQuery {
  readonly project?: string
  readonly machine?: string
  readonly model?: string
  readonly from?: string
  readonly to?: string
  readonly hasErrors?: boolean
  readonly q?: string
  readonly cursor?: string
  readonly limit?: number
}

export interface EntryQuery {
  readonly agentId?: string
  /** Every file of the session (main and subagents) instead of one transcript: the live feed. */
  readonly allFiles?: boolean
  readonly after?: number
  readonly before?: number
  readonly limit?: number
}

export interface UsageQuery {
  readonly groupBy: Api.UsageGroup
  readonly from?: string
  readonly to?: string
  readonly project?: string
  readonly sessionId?: string
  /**
   * At most this many rows, the first in the report's order (`truncated` says whether there were
   * more); `totals` still cover them all. Through PlanetScale, the 10,000 rows of 10,000 sessions
   * took 77–94 ms to send and decode.
   */
  readonly limit?: number
}

export interface EntryWithSession {
  readonly sessionId: string
  readonly entry: Api.Entry
}

/** A value, or a promise of it: SQLite answers synchronously, network engines asynchronously. */
export type R<A> = A | Promise<A>

/** What the sync socket writes. */
export interface SyncStore {
  /**
   * Registers the machine (or names it as its hello says, unique among the user's machines, and marks it
   * online: `openMachineRow` in `machine-queries.ts`) and returns every file cursor the store
   * holds for it, each with `identity`, `end` (when live lines reach past the offset) and `tail` (the
   * last 32 bytes before the offset, base64) so the daemon can tell a rewritten file.
   */
  openMachine(actor: Actor, machineUid: string, name: string): R<{ machineId: number; cursors: Sync.FileCursor[] }>
  /**
   * Registers `childUid` as a machine that `parentUid` runs for the same user (a Daytona sandbox, synced
   * with the parent's token), before `openMachine` opens it. True when it may be: the parent is the
   * user's unrevoked machine, and the child is new, or already this parent's child and not revoked.
   * False when the uid is the user's own machine, another parent's child, or a revoked child.
   */
  adoptChildMachine(
    actor: Actor,
    parentUid: string,
    childUid: string,
    name: string,
    kind: Sync.MachineParent["kind"],
  ): R<boolean>
  /**
   * Stores each append that starts at its file's stored offset and generation, in order, and commits
   * them together (group commit): one outcome per append, or a thrown error and nothing stored.
   * Engines implement it with the ingest core (`ingest/append.ts`).
   */
  append(actor: MachineActor, appends: readonly Append[]): R<AppendOutcome[]>
  /** Starts the file's next generation at offset 0 (`ingest/reset.ts`); lines past `size` are superseded. */
  reset(actor: MachineActor, reset: Sync.Reset): R<AppendOutcome>
  /** Online flag, last seen time and the daemon's reported health. */
  setMachineState(actor: MachineActor, state: MachineState): R<void>
}

/** Users and tokens (hashes only, `tokens.ts`). */
export interface AccountStore extends AccountDirectory {
  /** The user's id, created if missing. */
  ensureUser(name: string): R<number>
  /** A new random token of `kind`; only its SHA-256 is stored. */
  issueToken(input: IssueToken): R<string>
  /** The grant of a token of one of `kinds` that is not expired, revoked or used; else null. */
  verifyToken(plaintext: string, kinds: readonly TokenKind[]): R<TokenGrant | null>
  /** As `verifyToken` for one kind, and marks it used in the same transaction (one-time links). */
  consumeToken(plaintext: string, kind: TokenKind): R<TokenGrant | null>
}

// ---- accounts, pairing and sharing (issue #11 §3–§5) -----------------------------------------------

export type UserRole = "admin" | "member"

export interface RevokedMachine {
  readonly machineId: string
  readonly name: string
  readonly lastSeenAt: string | null
}

/**
 * What renaming one of the user's machines did: `NameTaken` when another of their live machines has the
 * name (a rename the user chose is refused, never de-duplicated); `Invalid` for an empty name or one
 * longer than 255 characters; `NotFound` for a machine that is not theirs, or revoked.
 */
export type RenameMachineOutcome =
  | { readonly _tag: "Renamed"; readonly machineId: string; readonly name: string }
  | { readonly _tag: "NameTaken"; readonly name: string }
  | { readonly _tag: "NotFound" }
  | { readonly _tag: "Invalid" }

export type AccountLinkKind = "setup" | "invite"

export interface AccountUser {
  readonly userId: number
  /** Null for users made by `ensureUser` (the embedded server's `local`). */
  readonly email: string | null
  readonly name: string
  readonly role: UserRole
}

export interface CreateAccountLink {
  readonly kind: AccountLinkKind
  /** The admin who invited; null for the first start's setup link. */
  readonly createdBy: number | null
  readonly role: UserRole
  readonly ttlMs: number
}

export type AcceptLinkOutcome =
  | { readonly _tag: "Accepted"; readonly user: AccountUser }
  /** Unknown, used, expired; a setup link also once an admin exists. */
  | { readonly _tag: "Invalid" }
  | { readonly _tag: "EmailTaken" }

export interface DeviceCodeInput {
  readonly machineUid: string
  readonly machineName: string
  readonly ttlMs: number
}

export type DeviceStatus = "pending" | "approved" | "denied" | "expired"

export interface DeviceRequestInfo {
  readonly userCode: string
  readonly machineName: string
  readonly status: DeviceStatus
  readonly expiresAt: string
  /** The machine id the request claims (its own choice; not shown to the approver, compared). */
  readonly machineUid: string
  /**
   * Set by an approval that was refused (the request stays pending) because the request's machine id is
   * one of the approver's live machines: that machine's name. A request names its machine id itself, so
   * one approved by mistake would take over the paired machine's identity and its queued commands.
   */
  readonly pairedMachine?: string
}

export type DevicePoll =
  | { readonly status: "pending" | "slow_down" | "denied" | "expired" }
  /** Delivered once: the machine token's plaintext exists only in this answer. */
  | { readonly status: "approved"; readonly token: string; readonly machineUid: string }

export type ShareOutcome =
  | { readonly _tag: "Shared"; readonly share: Api.SessionShare }
  | { readonly _tag: "NoSession" }
  | { readonly _tag: "NoUser" }

/**
 * Accounts beyond one local user: e-mail users with roles, one-time setup and invite links, API
 * tokens and pairing keys a user lists and revokes, machine revocation, the device-code pairing flow
 * and read-only session shares. Every secret (link, key, device code, user code) is kept as its
 * SHA-256 only; what a user owns is found through `actor.userId`.
 */
export interface AccountDirectory {
  getUser(userId: number): R<AccountUser | null>
  findUserByEmail(email: string): R<AccountUser | null>
  hasAdmin(): R<boolean>
  /** A one-time link token; only its hash is stored. */
  createAccountLink(input: CreateAccountLink): R<{ token: string; expiresAt: string }>
  /** Whether a setup or invite link is still usable, without using it; null when unknown. */
  accountLinkStatus(token: string): R<{ kind: AccountLinkKind; valid: boolean; expiresAt: string } | null>
  /** Uses the link and creates its user, in one transaction (a setup link only while no admin exists). */
  acceptAccountLink(token: string, kind: AccountLinkKind, email: string, name: string): R<AcceptLinkOutcome>
  /** The user's API tokens and pairing keys (no secrets). */
  listTokens(actor: Actor): R<Api.ApiTokenInfo[]>
  /** Revokes one of the user's API tokens or pairing keys; false when it is not theirs. */
  revokeToken(actor: Actor, tokenId: number): R<boolean>
  /** Marks the machine revoked and revokes its tokens; false when the user has no such machine or token. */
  revokeMachine(actor: Actor, machineUid: string): R<boolean>
  /** The user's revoked machines (`listMachines` leaves them out). */
  revokedMachines(actor: Actor): R<RevokedMachine[]>
  /**
   * Renames one of the user's live machines (trimmed); names are unique among them. Its daemon's next
   * hello keeps this name while it says the name it said before (`nameAtHello`, `machine-queries.ts`).
   */
  renameMachine(actor: Actor, machineUid: string, name: string): R<RenameMachineOutcome>
  /** A machine token for the key's user (the key used up if single-use), or null. */
  redeemPairingKey(key: string, machineUid: string): R<{ userId: number; token: string } | null>
  /** A device code and the short user code (`WDJB-MJHT`), both stored as hashes. */
  createDeviceCode(input: DeviceCodeInput): R<{ deviceCode: string; userCode: string; expiresAt: string }>
  getDeviceRequest(userCode: string): R<DeviceRequestInfo | null>
  /** Approves (for `actor`) or denies a pending request; the request as it now stands, null when unknown. */
  decideDeviceRequest(actor: Actor, userCode: string, approve: boolean): R<DeviceRequestInfo | null>
  /** The CLI's poll; polls closer than `minIntervalMs` are answered `slow_down`. */
  pollDeviceCode(deviceCode: string, minIntervalMs: number): R<DevicePoll>
  shareSession(actor: Actor, sessionId: string, granteeEmail: string): R<ShareOutcome>
  unshareSession(actor: Actor, sessionId: string, granteeUserId: number): R<boolean>
  /** Null when the user owns no such session. */
  listShares(actor: Actor, sessionId: string): R<Api.SessionShare[] | null>
  /** The owner whose session `sessionId` is shared with `actor`, or null. */
  sharedSessionOwner(actor: Actor, sessionId: string): R<number | null>
  listSharedWithMe(actor: Actor): R<Api.SharedSession[]>
}

const accountDirectoryOf = (engine: Engine): Effectful<AccountDirectory> => ({
  getUser: wrap(engine, "getUser", (u: number) => engine.getUser(u)),
  findUserByEmail: wrap(engine, "findUserByEmail", (e: string) => engine.findUserByEmail(e)),
  hasAdmin: wrap(engine, "hasAdmin", () => engine.hasAdmin()),
  createAccountLink: wrap(engine, "createAccountLink", (i: CreateAccountLink) => engine.createAccountLink(i)),
  accountLinkStatus: wrap(engine, "accountLinkStatus", (t: string) => engine.accountLinkStatus(t)),
  acceptAccountLink: wrap(engine, "acceptAccountLink", (t: string, k: AccountLinkKind, e: string, n: string) =>
    engine.acceptAccountLink(t, k, e, n),
  ),
  listTokens: wrap(engine, "listTokens", (a: Actor) => engine.listTokens(a)),
  revokeToken: wrap(engine, "revokeToken", (a: Actor, t: number) => engine.revokeToken(a, t)),
  revokeMachine: wrap(engine, "revokeMachine", (a: Actor, m: string) => engine.revokeMachine(a, m)),
  revokedMachines: wrap(engine, "revokedMachines", (a: Actor) => engine.revokedMachines(a)),
  renameMachine: wrap(engine, "renameMachine", (a: Actor, m: string, n: string) => engine.renameMachine(a, m, n)),
  redeemPairingKey: wrap(engine, "redeemPairingKey", (k: string, m: string) => engine.redeemPairingKey(k, m)),
  createDeviceCode: wrap(engine, "createDeviceCode", (i: DeviceCodeInput) => engine.createDeviceCode(i)),
  getDeviceRequest: wrap(engine, "getDeviceRequest", (c: string) => engine.getDeviceRequest(c)),
  decideDeviceRequest: wrap(engine, "decideDeviceRequest", (a: Actor, c: string, ok: boolean) =>
    engine.decideDeviceRequest(a, c, ok),
  ),
  pollDeviceCode: wrap(engine, "pollDeviceCode", (d: string, i: number) => engine.pollDeviceCode(d, i)),
  shareSession: wrap(engine, "shareSession", (a: Actor, s: string, e: string) => engine.shareSession(a, s, e)),
  unshareSession: wrap(engine, "unshareSession", (a: Actor, s: string, u: number) => engine.unshareSession(a, s, u)),
  listShares: wrap(engine, "listShares", (a: Actor, s: string) => engine.listShares(a, s)),
  sharedSessionOwner: wrap(engine, "sharedSessionOwner", (a: Actor, s: string) => engine.sharedSessionOwner(a, s)),
  listSharedWithMe: wrap(engine, "listSharedWithMe", (a: Actor) => engine.listSharedWithMe(a)),
})

/** What the REST API and the live feed read; every query is scoped to `actor.userId`. */
export interface ReadStore {
  listMachines(actor: Actor): R<Api.Machine[]>
  listProjects(actor: Actor): R<Api.Project[]>
  listSessions(actor: Actor, query: SessionQuery): R<Api.SessionList>
  getSession(actor: Actor, sessionId: string): R<Api.SessionDetail | null>
  /** Live lines by `seq`, a page at a time (`after`/`before` are seqs). */
  listEntries(actor: Actor, sessionId: string, query: EntryQuery): R<Api.EntryPage | null>
  getEntry(actor: Actor, seq: number): R<EntryWithSession | null>
  /** The file's live lines as stored, in byte order: the source file byte for byte, streamed by pages. */
  exportFile(actor: Actor, sessionId: string, fileKey: string): R<AsyncIterable<Uint8Array> | null>
  /** The highest committed `seq` of the user's entries (0 when none). */
  headSeq(actor: Actor): R<number>
  usage(actor: Actor, query: UsageQuery): R<Api.UsageReport>
}

/** The full-text index: filled in the background in small transactions, never on the append path. */
export interface SearchStore {
  /** Indexes up to `limit` stored entries (in `seq` order, after the last indexed); returns how many. */
  indexForSearch(limit: number): R<number>
  /**
   * The user's entries matching `q`, best first; with `sessionIds`, only in those sessions (of this
   * user): how a grantee searches the sessions an owner shared with them, read as the owner.
   */
  search(actor: Actor, q: string, limit: number, sessionIds?: readonly string[]): R<Api.SearchResult>
}

// ---- change feed (several servers on one database; ARCHITECTURE.md "Scaling out") ------------------

/** The sessions of one user that got lines after a feed position, and the highest such seq of each. */
export interface FeedChange {
  readonly userId: number
  readonly sessionId: string
  readonly lastSeq: number
}

export interface FeedPage {
  readonly changes: readonly FeedChange[]
  /** Where to read from next: every seq up to it has been looked at. */
  readonly position: number
}

/**
 * What any server stored on this database, read by each server's live hub so that a dashboard on one
 * server sees the lines stored through another. Derived from the entries themselves: seqs are taken from
 * a counter row locked until the transaction commits, so they commit in order, and once the counter
 * reads N every seq up to N is committed or never will be. Nothing is written on the append path for it.
 * Not scoped to a user: its readers are servers, which hand each change to that user's sockets only.
 */
export interface ChangeFeed {
  /** The feed's head: the counter's last seq handed out (0 on an empty store). */
  feedPosition(): R<number>
  /** Changes in seqs `(after, min(head, after + span)]`, grouped by user and session. */
  feedAfter(after: number, span: number): R<FeedPage>
}

/** Engines implement the change feed (interface merging keeps this block self-contained). */
export interface Engine extends ChangeFeed {}
export interface Interface extends Effectful<ChangeFeed> {}

const changeFeedOf = (engine: Engine): Effectful<ChangeFeed> => ({
  feedPosition: wrap(engine, "feedPosition", () => engine.feedPosition()),
  feedAfter: wrap(engine, "feedAfter", (a: number, s: number) => engine.feedAfter(a, s)),
})

/** A machine of the user's and what its daemon last said it accepts of remote commands. */
export interface MachineRemote {
  readonly machineId: number
  readonly machineUid: string
  readonly online: boolean
  /** Null until its daemon has said (a daemon that predates remote commands never does). */
  readonly remote: Sync.RemoteCapabilities | null
  /**
   * Its daemon's last error or warning (`DaemonStatus.lastError`): why sandboxes are off, from a
   * daemon before `remote.sandboxesOff`.
   */
  readonly lastError: string | null
}

/** A remote command as the server stores it when asked (`queued`). */
export interface NewCommand {
  readonly commandId: string
  readonly kind: "claude" | "shell"
  readonly where: Api.CommandWhere
  readonly projectDir: string
  /** The prompt; for a shell command its argv joined by spaces (display only). */
  readonly prompt: string
  readonly resumeSessionId: string | null
  /** The message the daemon receives (`Commands.Command`), kept to redeliver it unchanged. */
  readonly request: Commands.Command
  readonly createdAt: string
  readonly expiresAt: string
}

export interface CommandQuery {
  readonly machineUid?: string
  /** Commands that produced or continued this session. */
  readonly sessionId?: string
  readonly limit?: number
}

/** The daemon's events for one command, as it numbered them. */
export interface CommandEventInput {
  readonly eventSeq: number
  readonly event: Commands.CommandEventBody
}

/**
 * Remote commands (`/api/v1/commands`, the sync socket's command messages): every query is scoped to
 * the user, and what a daemon reports to its own machine. A command's status only moves forward
 * (`queued` → `delivered` → `running` → a final one); a final status never changes, except that a
 * daemon's report beats `expired` (the daemon had it after all, so what it says happened did).
 */
export interface CommandStore {
  /** What the machine's daemon accepts, from its `hello` and `status`. */
  setMachineRemote(actor: MachineActor, remote: Sync.RemoteCapabilities): R<void>
  /** The user's (unrevoked) machine `machineUid`, or null: another user's machine is not found either. */
  getMachineRemote(actor: Actor, machineUid: string): R<MachineRemote | null>
  /** Stores a `queued` command for the user's machine `machineUid`; null when the user has no such machine. */
  createCommand(actor: Actor, machineUid: string, command: NewCommand): R<Api.CommandSummary | null>
  getCommand(actor: Actor, commandId: string): R<Api.CommandSummary | null>
  /** Newest first. */
  listCommands(actor: Actor, query: CommandQuery): R<Api.CommandSummary[]>
  /** A command's events after `afterEventSeq` (-1: all), in order, at most `limit`; null when no such command. */
  listCommandEvents(
    actor: Actor,
    commandId: string,
    afterEventSeq: number,
    limit: number,
  ): R<Api.CommandEventDto[] | null>
  /** The machine's commands that are delivered or running (its daemon's concurrency limit). */
  countActiveCommands(actor: Actor, machineUid: string): R<number>
  /** The machine's `queued` commands not expired at `now`, oldest first: what to (re)deliver. */
  undeliveredCommands(actor: MachineActor, now: string): R<Commands.Command[]>
  /** Every `queued` command whose `expiresAt` has passed becomes `expired`; returns them with their user. */
  expireCommands(now: string): R<{ readonly userId: number; readonly command: Api.CommandSummary }[]>
  /** The daemon acknowledged the command: `delivered`. The summary when it changed, else null. */
  recordCommandAck(actor: MachineActor, commandId: string, at: string): R<Api.CommandSummary | null>
  /**
   * Stores the events (a repeated `eventSeq` is ignored), takes the session id and cost the CLI
   * reports, and makes the command `running`. `stored`: the events new to the store; `command`: the
   * summary when it changed.
   */
  recordCommandEvents(
    actor: MachineActor,
    commandId: string,
    events: readonly CommandEventInput[],
    at: string,
  ): R<{ readonly stored: number; readonly command: Api.CommandSummary | null }>
  /** The command's end. The summary when it changed (a repeated exit changes nothing), else null. */
  recordCommandExit(actor: MachineActor, exit: Commands.CommandExit, at: string): R<Api.CommandSummary | null>
  /** Ends a command its daemon never acknowledged (a cancel while `queued`); null if it was not queued. */
  cancelQueuedCommand(actor: Actor, commandId: string, at: string): R<Api.CommandSummary | null>
}
// Every engine keeps remote commands too (`sqlite/commands.ts`, `mysql/commands.ts`).
export interface Engine extends CommandStore {}
export interface Interface extends Effectful<CommandStore> {}

/**
 * Session files gone from their machine (Claude Code deletes them after `cleanupPeriodDays`): what was
 * stored stays whole, and the file is marked, so sessions can say Overlord kept them (issue #14 §3).
 */
export interface SourceStore {
  /** Marks the machine's files at `fileKeys` gone (keys it holds no file for are ignored). */
  markSourcesGone(actor: MachineActor, fileKeys: readonly string[], at: string): R<void>
  /** The machine's files at `fileKeys` are there after all (`back`): no longer gone. */
  markSourcesBack(actor: MachineActor, fileKeys: readonly string[]): R<void>
}
export interface Engine extends SourceStore {}
export interface Interface extends Effectful<SourceStore> {}

const sourceMethods = (engine: Engine): Effectful<SourceStore> => ({
  markSourcesGone: wrap(engine, "markSourcesGone", (a: MachineActor, k: readonly string[], at: string) =>
    engine.markSourcesGone(a, k, at),
  ),
  markSourcesBack: wrap(engine, "markSourcesBack", (a: MachineActor, k: readonly string[]) =>
    engine.markSourcesBack(a, k),
  ),
})

/** An engine provides all four interfaces over one database. */
export interface Engine extends SyncStore, AccountStore, ReadStore, SearchStore {
  /** `sqlite`, `mysql`, `planetscale`. */
  readonly name: string
  /**
   * How many 1 MiB chunks one group of appends (one `append` call, one transaction) should hold, when
   * more than the sync socket's 4: an engine far away, whose group costs its round trips whatever it
   * holds, takes fewer, larger groups.
   */
  readonly groupChunks?: number
  /**
   * The `StoreError` a failure thrown by one of this engine's methods is, chosen by the driver's error
   * code (never its message), with the failure as `cause`.
   */
  errorOf(operation: string, cause: unknown): StoreError
  close(): R<void>
  /** Generated titles and chunk vectors (issue #13), when the engine keeps them. */
  readonly ai?: AiStore
}

/** An engine interface's methods as effects that fail with `StoreError`. */
export type Effectful<T> = {
  readonly [K in keyof T]: T[K] extends (...args: infer P) => infer A
    ? (...args: P) => Effect.Effect<Awaited<A>, StoreError>
    : never
}

export interface Interface
  extends Effectful<SyncStore>,
    Effectful<AccountStore>,
    Effectful<ReadStore>,
    Effectful<SearchStore> {
  /** The engine's name. */
  readonly engine: string
  /** `Engine.groupChunks`. */
  readonly groupChunks?: number
  /** Generated titles and chunk vectors (issue #13), when the engine keeps them. */
  readonly ai?: Effectful<AiStore>
}

export class Store extends Context.Service<Store, Interface>()("@overlord/store/Store") {}

const isPromise = <A>(value: R<A>): value is Promise<A> =>
  typeof (value as { then?: unknown } | null)?.then === "function"

/** One engine call as an effect: synchronous answers stay synchronous; failures become `StoreError`s. */
const attempt = <A>(engine: Engine, operation: string, call: () => R<A>): Effect.Effect<A, StoreError> =>
  Effect.suspend(() => {
    const fail = (cause: unknown): StoreError => (isStoreError(cause) ? cause : classify(engine, operation, cause))
    let value: R<A>
    try {
      value = call()
    } catch (cause) {
      return Effect.fail(fail(cause))
    }
    return isPromise(value) ? Effect.tryPromise({ try: () => value, catch: fail }) : Effect.succeed(value)
  })

function classify(engine: Engine, operation: string, cause: unknown): StoreError {
  try {
    return engine.errorOf(operation, cause)
  } catch (error) {
    return new StoreQueryError({ operation, cause: error })
  }
}

const wrap = <Args extends ReadonlyArray<unknown>, A>(
  engine: Engine,
  operation: string,
  call: (...args: Args) => R<A>,
): ((...args: Args) => Effect.Effect<A, StoreError>) =>
  Effect.fn(`Store.${operation}`)(function* (...args: Args) {
    return yield* attempt(engine, operation, () => call(...args))
  })

/** The `Store` service over an engine: each method an `Effect.fn` span named `Store.<method>`. */
export const fromEngine = (engine: Engine): Interface => ({
  engine: engine.name,
  ...(engine.groupChunks !== undefined ? { groupChunks: engine.groupChunks } : {}),
  ...aiOf(engine),
  openMachine: wrap(engine, "openMachine", (a: Actor, m: string, n: string) => engine.openMachine(a, m, n)),
  adoptChildMachine: wrap(
    engine,
    "adoptChildMachine",
    (a: Actor, parent: string, child: string, n: string, k: Sync.MachineParent["kind"]) =>
      engine.adoptChildMachine(a, parent, child, n, k),
  ),
  append: wrap(engine, "append", (a: MachineActor, g: readonly Append[]) => engine.append(a, g)),
  reset: wrap(engine, "reset", (a: MachineActor, r: Sync.Reset) => engine.reset(a, r)),
  setMachineState: wrap(engine, "setMachineState", (a: MachineActor, s: MachineState) => engine.setMachineState(a, s)),
  ensureUser: wrap(engine, "ensureUser", (n: string) => engine.ensureUser(n)),
  issueToken: wrap(engine, "issueToken", (i: IssueToken) => engine.issueToken(i)),
  verifyToken: wrap(engine, "verifyToken", (t: string, k: readonly TokenKind[]) => engine.verifyToken(t, k)),
  consumeToken: wrap(engine, "consumeToken", (t: string, k: TokenKind) => engine.consumeToken(t, k)),
  ...accountDirectoryOf(engine),
  listMachines: wrap(engine, "listMachines", (a: Actor) => engine.listMachines(a)),
  listProjects: wrap(engine, "listProjects", (a: Actor) => engine.listProjects(a)),
  listSessions: wrap(engine, "listSessions", (a: Actor, q: SessionQuery) => engine.listSessions(a, q)),
  getSession: wrap(engine, "getSession", (a: Actor, s: string) => engine.getSession(a, s)),
  listEntries: wrap(engine, "listEntries", (a: Actor, s: string, q: EntryQuery) => engine.listEntries(a, s, q)),
  getEntry: wrap(engine, "getEntry", (a: Actor, s: number) => engine.getEntry(a, s)),
  exportFile: wrap(engine, "exportFile", (a: Actor, s: string, f: string) => engine.exportFile(a, s, f)),
  headSeq: wrap(engine, "headSeq", (a: Actor) => engine.headSeq(a)),
  usage: wrap(engine, "usage", (a: Actor, q: UsageQuery) => engine.usage(a, q)),
  indexForSearch: wrap(engine, "indexForSearch", (l: number) => engine.indexForSearch(l)),
  search: wrap(engine, "search", (a: Actor, q: string, l: number, s?: readonly string[]) => engine.search(a, q, l, s)),
  ...changeFeedOf(engine),
  ...commandMethods(engine),
  ...sourceMethods(engine),
})

const commandMethods = (engine: Engine): Effectful<CommandStore> => ({
  setMachineRemote: wrap(engine, "setMachineRemote", (a: MachineActor, r: Sync.RemoteCapabilities) =>
    engine.setMachineRemote(a, r),
  ),
  getMachineRemote: wrap(engine, "getMachineRemote", (a: Actor, m: string) => engine.getMachineRemote(a, m)),
  createCommand: wrap(engine, "createCommand", (a: Actor, m: string, c: NewCommand) => engine.createCommand(a, m, c)),
  getCommand: wrap(engine, "getCommand", (a: Actor, c: string) => engine.getCommand(a, c)),
  listCommands: wrap(engine, "listCommands", (a: Actor, q: CommandQuery) => engine.listCommands(a, q)),
  listCommandEvents: wrap(engine, "listCommandEvents", (a: Actor, c: string, after: number, limit: number) =>
    engine.listCommandEvents(a, c, after, limit),
  ),
  countActiveCommands: wrap(engine, "countActiveCommands", (a: Actor, m: string) => engine.countActiveCommands(a, m)),
  undeliveredCommands: wrap(engine, "undeliveredCommands", (a: MachineActor, t: string) =>
    engine.undeliveredCommands(a, t),
  ),
  expireCommands: wrap(engine, "expireCommands", (t: string) => engine.expireCommands(t)),
  recordCommandAck: wrap(engine, "recordCommandAck", (a: MachineActor, c: string, t: string) =>
    engine.recordCommandAck(a, c, t),
  ),
  recordCommandEvents: wrap(
    engine,
    "recordCommandEvents",
    (a: MachineActor, c: string, e: readonly CommandEventInput[], t: string) => engine.recordCommandEvents(a, c, e, t),
  ),
  recordCommandExit: wrap(engine, "recordCommandExit", (a: MachineActor, e: Commands.CommandExit, t: string) =>
    engine.recordCommandExit(a, e, t),
  ),
  cancelQueuedCommand: wrap(engine, "cancelQueuedCommand", (a: Actor, c: string, t: string) =>
    engine.cancelQueuedCommand(a, c, t),
  ),
})

/**
 * The `Store` layer over an engine made when the layer is built and closed when its scope ends. Whoever
 * picks the engine imports it (`@overlord/store/sqlite`, `@overlord/store/mysql`) and passes `make`.
 */
export const layer = (make: () => R<Engine>): Layer.Layer<Store, StoreError> =>
  Layer.effect(
    Store,
    Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => make(),
        catch: (cause) => (isStoreError(cause) ? cause : new StoreQueryError({ operation: "open", cause })),
      }),
      (engine) => Effect.promise(async () => engine.close()),
    ).pipe(Effect.map(fromEngine)),
  )

/** Collects an export (tests and small files). */
export async function collectBytes(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let size = 0
  for await (const c of chunks) {
    parts.push(c)
    size += c.length
  }
  const out = new Uint8Array(size)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

// ---- local AI: generated titles and summaries, chunk vectors (issue #13) ---------------------------
//
// The port `@overlord/ai`'s indexer runs on (`pendingSessions`, `sessionLines`, `saveTitle`,
// `saveChunks`, structurally its `IndexerStore`), plus the reads semantic search and the session lists
// need. A session's key is its row id as text: the indexer works across users and never shows it.

/** A session that may need a generated title or embeddings (`@overlord/ai`'s `IndexCandidate`). */
export interface AiCandidate {
  readonly sessionKey: string
  readonly updatedAt: string
  readonly entryCount: number
  readonly lastSeq: number
  /** A custom title or Claude Code's own AI title: nothing to generate. */
  readonly hasOwnTitle: boolean
  readonly titledAtEntries: number | null
  readonly embeddedThroughSeq: number | null
}

export interface AiTitleRecord {
  readonly title: string
  readonly summary: string
  readonly model: string
  /** The session's entry count the title was made from. */
  readonly entryCount: number
}

export interface AiChunk {
  /** The line the chunk starts at (search hits jump there). */
  readonly seq: number
  readonly role: "user" | "assistant" | "tool"
  readonly text: string
  /** float32 little-endian, L2-normalised (`@overlord/ai`'s `vectorToBlob`). */
  readonly vector: Uint8Array
}

/** One stored chunk vector, as the in-process vector index loads it. */
export interface StoredVector {
  readonly chunkId: number
  readonly userId: number
  readonly sessionKey: string
  readonly seq: number
  readonly vector: Uint8Array
}

/** A session's generated title and summary, for its summary in lists and views. */
export interface GeneratedTitleRow {
  readonly sessionId: string
  readonly machineId: string
  readonly title: string
  readonly summary: string
  readonly model: string
}

/** The filters semantic and hybrid search share with full-text search. */
export interface AiSessionFilter {
  readonly project?: string
  readonly machine?: string
  readonly from?: string
  readonly to?: string
}

/** What a search result shows of a session. */
export interface AiSessionInfo {
  readonly sessionKey: string
  readonly sessionId: string
  readonly machineId: string
  readonly projectDir: string
  /** Own title (custom, Claude Code's AI title, summary, first prompt), else the generated one. */
  readonly title: string | null
  readonly lastAt: string | null
}

export interface ChunkText {
  readonly chunkId: number
  readonly sessionKey: string
  readonly seq: number
  readonly role: string
  readonly text: string
}

export interface AiProgress {
  readonly sessions: number
  readonly titled: number
  readonly embeddedSessions: number
  readonly chunks: number
}

export interface AiStore {
  /** Up to `limit` sessions of every user, newest first, needing a title (`needsTitle`) or embeddings. */
  pendingSessions(limit: number): R<AiCandidate[]>
  /** The session's live lines in `seq` order, only those after `afterSeq` when given. */
  sessionLines(sessionKey: string, afterSeq: number | null): R<{ seq: number; line: string }[]>
  saveTitle(sessionKey: string, title: AiTitleRecord): R<void>
  /** Adds chunks (possibly none) and records that lines up to `throughSeq` are embedded. */
  saveChunks(sessionKey: string, chunks: readonly AiChunk[], throughSeq: number, model: string): R<void>
  /** Vectors of every user with a chunk id above `afterId`, in id order, at most `limit`. */
  vectorsAfter(afterId: number, limit: number): R<StoredVector[]>
  /** Generated titles of the user's sessions among `sessionIds` (session uids). */
  generatedTitles(actor: Actor, sessionIds: readonly string[]): R<GeneratedTitleRow[]>
  /** The user's sessions matching `filter`; only those among `sessionKeys` when given. */
  aiSessions(actor: Actor, filter: AiSessionFilter, sessionKeys?: readonly string[]): R<AiSessionInfo[]>
  /** The user's chunks by id (others' ids are left out). */
  chunkTexts(actor: Actor, chunkIds: readonly number[]): R<ChunkText[]>
  /** How far the indexer has come for the user. */
  aiProgress(actor: Actor): R<AiProgress>
}

/** `{ ai }` for `fromEngine` when the engine keeps AI data, else nothing. */
const aiOf = (engine: Engine): { readonly ai?: Effectful<AiStore> } => {
  const ai = aiStoreOf(engine)
  return ai ? { ai } : {}
}

/** The AI port as effects; `Store.ai` when the engine implements it. */
export const aiStoreOf = (engine: Engine & { readonly ai?: AiStore }): Effectful<AiStore> | undefined => {
  const ai = engine.ai
  if (!ai) return undefined
  return {
    pendingSessions: wrap(engine, "pendingSessions", (l: number) => ai.pendingSessions(l)),
    sessionLines: wrap(engine, "sessionLines", (k: string, a: number | null) => ai.sessionLines(k, a)),
    saveTitle: wrap(engine, "saveTitle", (k: string, t: AiTitleRecord) => ai.saveTitle(k, t)),
    saveChunks: wrap(engine, "saveChunks", (k: string, c: readonly AiChunk[], t: number, m: string) =>
      ai.saveChunks(k, c, t, m),
    ),
    vectorsAfter: wrap(engine, "vectorsAfter", (a: number, l: number) => ai.vectorsAfter(a, l)),
    generatedTitles: wrap(engine, "generatedTitles", (a: Actor, s: readonly string[]) => ai.generatedTitles(a, s)),
    aiSessions: wrap(engine, "aiSessions", (a: Actor, f: AiSessionFilter, k?: readonly string[]) =>
      ai.aiSessions(a, f, k),
    ),
    chunkTexts: wrap(engine, "chunkTexts", (a: Actor, c: readonly number[]) => ai.chunkTexts(a, c)),
    aiProgress: wrap(engine, "aiProgress", (a: Actor) => ai.aiProgress(a)),
  }
}
