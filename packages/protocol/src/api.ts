/**
 * The read API (`/api/v1/...`) served to the dashboard and to scripts. Schema-only.
 *
 * Entries carry the raw line as the file held it (`line`), decoded as UTF-8; clients parse it with
 * `@overlord/transcript`, the same parser the server indexes with, so there is one interpretation.
 */
import { Schema } from "effect"
import * as Commands from "./commands.ts"

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Iso = Schema.String

export const TokenTotals = Schema.Struct({
  input: Count,
  output: Count,
  cacheWrite: Count,
  cacheRead: Count,
  costUsd: Schema.Number,
})
export type TokenTotals = typeof TokenTotals.Type

export const Machine = Schema.Struct({
  machineId: Schema.String,
  name: Schema.String,
  online: Schema.Boolean,
  lastSeenAt: Schema.NullOr(Iso),
  filesTracked: Count,
  bytesPending: Count,
  lastError: Schema.NullOr(Schema.String),
  /** Whether its daemon runs remote commands (`overlord start --allow-remote` or its config), as it last said. */
  acceptsCommands: Schema.Boolean,
})
export type Machine = typeof Machine.Type

export const Project = Schema.Struct({
  /** Encoded directory name under `projects/` (lossy; display `cwd`). */
  projectDir: Schema.String,
  cwd: Schema.NullOr(Schema.String),
  sessionCount: Count,
  lastActivityAt: Schema.NullOr(Iso),
})
export type Project = typeof Project.Type

export const SessionSummary = Schema.Struct({
  sessionId: Schema.String,
  machineId: Schema.String,
  projectDir: Schema.String,
  cwd: Schema.NullOr(Schema.String),
  /** custom title over AI title over first prompt. */
  title: Schema.NullOr(Schema.String),
  firstAt: Schema.NullOr(Iso),
  lastAt: Schema.NullOr(Iso),
  entryCount: Count,
  subagentCount: Count,
  models: Schema.Array(Schema.String),
  hasErrors: Schema.Boolean,
  usage: TokenTotals,
})
export type SessionSummary = typeof SessionSummary.Type

export const SessionList = Schema.Struct({
  sessions: Schema.Array(SessionSummary),
  /** Opaque; pass back as `cursor` for the next page. Null on the last page. */
  nextCursor: Schema.NullOr(Schema.String),
})
export type SessionList = typeof SessionList.Type

export const SourceFile = Schema.Struct({
  fileKey: Schema.String,
  /** null for the main transcript; the agent id for a subagent file. */
  agentId: Schema.NullOr(Schema.String),
  bytes: Count,
  entryCount: Count,
})
export type SourceFile = typeof SourceFile.Type

export const SessionDetail = Schema.Struct({
  session: SessionSummary,
  files: Schema.Array(SourceFile),
})
export type SessionDetail = typeof SessionDetail.Type

export const Entry = Schema.Struct({
  /** Global, monotonically increasing store sequence: the live feed's resume point and deep-link id. */
  seq: Count,
  fileKey: Schema.String,
  agentId: Schema.NullOr(Schema.String),
  /** 0-based line number within its file. */
  lineNo: Count,
  byteOffset: Count,
  /** Record type (`user`, `assistant`, `system`, ..., `malformed`, `unknown`). */
  kind: Schema.String,
  line: Schema.String,
})
export type Entry = typeof Entry.Type

export const EntryPage = Schema.Struct({
  entries: Schema.Array(Entry),
  nextCursor: Schema.NullOr(Schema.String),
})
export type EntryPage = typeof EntryPage.Type

export const ApiError = Schema.Struct({
  error: Schema.Struct({ code: Schema.String, message: Schema.String }),
})
export type ApiError = typeof ApiError.Type

export const SearchHit = Schema.Struct({
  sessionId: Schema.String,
  seq: Count,
  kind: Schema.String,
  /** Plain text with the matched terms wrapped in `«` and `»`. */
  snippet: Schema.String,
  score: Schema.Number,
  timestamp: Schema.NullOr(Iso),
  title: Schema.NullOr(Schema.String),
})
export type SearchHit = typeof SearchHit.Type

export const SearchResult = Schema.Struct({
  hits: Schema.Array(SearchHit),
  /** Entries stored but not yet indexed: the index catches up in the background. */
  indexLag: Count,
})
export type SearchResult = typeof SearchResult.Type

export const UsageGroup = Schema.Literals(["session", "project", "day", "model"])
export type UsageGroup = typeof UsageGroup.Type

export const UsageRow = Schema.Struct({
  key: Schema.String,
  input: Count,
  output: Count,
  cacheWrite: Count,
  cacheRead: Count,
  costUsd: Schema.Number,
  messages: Count,
})
export type UsageRow = typeof UsageRow.Type

export const UsageReport = Schema.Struct({
  groupBy: UsageGroup,
  rows: Schema.Array(UsageRow),
  totals: UsageRow,
  /** Where the prices come from, and their date. */
  pricingSource: Schema.String,
})
export type UsageReport = typeof UsageReport.Type

// ---- remote commands (`/api/v1/commands`) -------------------------------------------------------
// A command asks one of the user's machines to run Claude Code in one of its projects; the daemon's
// events (`commands.ts`) are stored in order and streamed to the dashboards watching (`live.ts`).

/**
 * `queued`: stored, waiting for its machine to be online (or to acknowledge it); `delivered`: the
 * daemon acknowledged it; `running`: its first event arrived. The rest are final: the daemon's
 * `command-exit` statuses, plus `expired` (never delivered before `expiresAt`: it never runs).
 */
export const CommandStatus = Schema.Literals([
  "queued",
  "delivered",
  "running",
  "completed",
  "failed",
  "cancelled",
  "interrupted",
  "refused",
  "expired",
  "timed-out",
])
export type CommandStatus = typeof CommandStatus.Type

/** `local`: on the machine itself; `sandbox`: in a Daytona sandbox the machine's daemon manages. */
export const CommandWhere = Schema.Literals(["local", "sandbox"])
export type CommandWhere = typeof CommandWhere.Type

/**
 * Why a command was refused (by the server when it is asked, or by the daemon when it arrives), or
 * why a request about one failed. The daemon's own reasons are `Commands.RefusalReason`.
 */
export const CommandErrorReason = Schema.Literals([
  ...Commands.RefusalReason.literals,
  /** No machine of this user has that id (another user's machine answers the same: no leak). */
  "machine-not-found",
  "command-not-found",
  /** `resumeSessionId` names no session of this user. */
  "session-not-found",
  /** The request does not validate (the message says what). */
  "invalid-request",
  /** Input for a command that is no longer running (or not yet). */
  "not-running",
  /** The daemon cannot run commands in sandboxes (no Daytona settings). */
  "sandbox-unavailable",
  /** As the status of the same name, for a command's `error`: never delivered before `expiresAt`. */
  "expired",
  /** A run that ended badly; `message` says why (the end of its stderr, the signal, the time limit). */
  "failed",
  "interrupted",
  "timed-out",
])
export type CommandErrorReason = typeof CommandErrorReason.Type

export const CommandError = Schema.Struct({ reason: CommandErrorReason, message: Schema.String })
export type CommandError = typeof CommandError.Type

export const CommandSummary = Schema.Struct({
  commandId: Schema.String,
  /** The machine's id as `Machine.machineId`. */
  machineId: Schema.String,
  kind: Schema.Literals(["claude", "shell"]),
  where: CommandWhere,
  projectDir: Schema.String,
  prompt: Schema.String,
  resumeSessionId: Schema.NullOr(Schema.String),
  status: CommandStatus,
  exitCode: Schema.NullOr(Schema.Int),
  /** Claude Code's session: the one it created, or the one it continued. Pass it as `resumeSessionId`. */
  sessionId: Schema.NullOr(Schema.String),
  createdAt: Iso,
  /** A command still `queued` at this time becomes `expired` and never runs. */
  expiresAt: Iso,
  /** When the daemon acknowledged it. */
  startedAt: Schema.NullOr(Iso),
  endedAt: Schema.NullOr(Iso),
  /** What the CLI reported in its final `result` message. */
  costUsd: Schema.optionalKey(Schema.Number),
  /**
   * Set for `refused` (the refusal's reason) and for `failed`, `interrupted`, `expired`, `timed-out`
   * (`reason` is the status; `message` says why).
   */
  error: Schema.optionalKey(CommandError),
})
export type CommandSummary = typeof CommandSummary.Type

/** One output event of a command, numbered from 0 in the order it happened. */
export const CommandEventDto = Schema.Struct({
  eventSeq: Count,
  /** When the server stored it. */
  at: Iso,
  event: Commands.CommandEventBody,
})
export type CommandEventDto = typeof CommandEventDto.Type

/** `POST /api/v1/commands`: answered 201 `CommandCreated`, or 4xx `CommandErrorResponse`. */
export const CreateCommandRequest = Schema.Struct({
  machineId: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(128)),
  projectDir: Commands.ProjectDir,
  prompt: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(Commands.MAX_WIRE_PROMPT_CHARS)),
  resumeSessionId: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(256))),
  model: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(256))),
  permissionMode: Schema.optionalKey(Commands.PermissionMode),
  /** Default `local`. */
  where: Schema.optionalKey(CommandWhere),
  /** Tools allowed without a prompt (`--allowedTools`). */
  allowTools: Schema.optionalKey(
    Schema.Array(Schema.String.check(Schema.isMaxLength(256))).check(Schema.isMaxLength(64)),
  ),
  /** The run's time limit in ms (the daemon caps it). */
  timeoutMs: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))),
  /** How long it may wait for an offline machine, in ms; default one hour. */
  expiresInMs: Schema.optionalKey(
    Schema.Int.check(Schema.isGreaterThan(0), Schema.isLessThanOrEqualTo(7 * 24 * 3600_000)),
  ),
})
export type CreateCommandRequest = typeof CreateCommandRequest.Type

export const CommandCreated = Schema.Struct({ command: CommandSummary })
export type CommandCreated = typeof CommandCreated.Type

/** `GET /api/v1/commands?machineId=&sessionId=&limit=`: newest first. */
export const CommandList = Schema.Struct({ commands: Schema.Array(CommandSummary) })
export type CommandList = typeof CommandList.Type

/** `GET /api/v1/commands/:id`: the command and all its events so far. */
export const CommandDetail = Schema.Struct({ command: CommandSummary, events: Schema.Array(CommandEventDto) })
export type CommandDetail = typeof CommandDetail.Type

/** `POST /api/v1/commands/:id/input`: answered 202 `CommandCreated` (the command as it stands). */
export const CommandInputRequest = Schema.Union([
  Schema.Struct({
    type: Schema.Literal("message"),
    text: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(Commands.MAX_WIRE_PROMPT_CHARS)),
  }),
  Schema.Struct({
    type: Schema.Literal("permission"),
    requestId: Schema.String.check(Schema.isMaxLength(256)),
    decision: Schema.Literals(["allow", "deny"]),
    message: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(4096))),
  }),
  Schema.Struct({ type: Schema.Literal("cancel") }),
])
export type CommandInputRequest = typeof CommandInputRequest.Type

/**
 * A refused or failed command request. `code` is the HTTP-level class as in `ApiError`
 * (`not_found`, `bad_request`, `refused`, ...); `reason` the typed cause.
 */
export const CommandErrorResponse = Schema.Struct({
  error: Schema.Struct({ code: Schema.String, reason: CommandErrorReason, message: Schema.String }),
})
export type CommandErrorResponse = typeof CommandErrorResponse.Type

// ---- Accounts, pairing and sharing (issue #11 §3–§5; routes in apps/server/src/http-accounts.ts) ----

export const UserRole = Schema.Literals(["admin", "member"])
export type UserRole = typeof UserRole.Type

/** The signed-in user: `GET /api/v1/me` answers `{ user }`. */
export const AccountUser = Schema.Struct({
  userId: Count,
  /** Null for the embedded server's own user (`local`), which has no e-mail. */
  email: Schema.NullOr(Schema.String),
  name: Schema.String,
  role: UserRole,
})
export type AccountUser = typeof AccountUser.Type
export const Me = Schema.Struct({ user: AccountUser })
export type Me = typeof Me.Type

/** `GET /api/v1/machines` lists `Machine`s; a revoked one carries `revoked: true` (its daemon is refused). */
export const MachineRevocation = Schema.Struct({ revoked: Schema.optional(Schema.Boolean) })

/** A credential the user made (API token or pairing key): never its plaintext, which is shown once. */
export const TokenKindName = Schema.Literals(["api", "pairing-key"])
export const ApiTokenInfo = Schema.Struct({
  tokenId: Count,
  kind: TokenKindName,
  label: Schema.NullOr(Schema.String),
  createdAt: Iso,
  expiresAt: Schema.NullOr(Iso),
  /** Pairing keys: usable once. */
  singleUse: Schema.Boolean,
  usedAt: Schema.NullOr(Iso),
  revoked: Schema.Boolean,
})
export type ApiTokenInfo = typeof ApiTokenInfo.Type
/** `GET /api/v1/tokens` */
export const TokenList = Schema.Struct({ tokens: Schema.Array(ApiTokenInfo) })
export type TokenList = typeof TokenList.Type
/** `POST /api/v1/tokens` body (optional): a label to recognise the token by. */
export const CreateTokenRequest = Schema.Struct({ label: Schema.optional(Schema.String) })
/** `POST /api/v1/tokens` answer: the plaintext is in this answer only. */
export const CreatedToken = Schema.Struct({ tokenId: Count, token: Schema.String })
export type CreatedToken = typeof CreatedToken.Type

/** `POST /api/v1/invites` (admin) body and answer: a one-time link, valid `ttlMinutes` (default 7 days). */
export const CreateInviteRequest = Schema.Struct({
  role: Schema.optional(UserRole),
  ttlMinutes: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 60 * 24 * 30 }))),
})
export const CreatedLink = Schema.Struct({ url: Schema.String, expiresAt: Iso })
export type CreatedLink = typeof CreatedLink.Type

/**
 * Accepting an invite or the first start's setup link: `POST /api/v1/invites/accept` and
 * `POST /api/v1/setup` take `{ token, email, name }`, create the user, set the session cookie and
 * answer `{ user }` (`Me`). `GET /invite/:token` and `GET /setup/:token` serve the dashboard, whose
 * page reads the token from the path; `GET /api/v1/links/:token` says whether it is still valid.
 */
export const AcceptLinkRequest = Schema.Struct({
  token: Schema.String.check(Schema.isMaxLength(200)),
  email: Schema.String.check(Schema.isMaxLength(254)),
  name: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(100)),
})
export type AcceptLinkRequest = typeof AcceptLinkRequest.Type
export const LinkStatus = Schema.Struct({
  kind: Schema.Literals(["setup", "invite"]),
  valid: Schema.Boolean,
  expiresAt: Schema.NullOr(Iso),
})
export type LinkStatus = typeof LinkStatus.Type

/** `POST /api/v1/pairing-keys` (admin): a key for `overlord login <url> --key <key>`, shown once. */
export const CreatePairingKeyRequest = Schema.Struct({
  singleUse: Schema.Boolean,
  ttlMinutes: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 60 * 24 * 365 })),
  label: Schema.optional(Schema.String),
})
export const CreatedPairingKey = Schema.Struct({ tokenId: Count, key: Schema.String, expiresAt: Iso })
export type CreatedPairingKey = typeof CreatedPairingKey.Type

/** Machine identity the CLI sends when it pairs (device code or pairing key). */
export const PairingMachine = Schema.Struct({
  machineId: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(128)),
  machineName: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(200)),
})
export type PairingMachine = typeof PairingMachine.Type

/** `POST /api/v1/pairing-keys/redeem` (unauthenticated; the CLI): `{ key, machineId, machineName }`. */
export const RedeemPairingKeyRequest = Schema.Struct({
  key: Schema.String.check(Schema.isMaxLength(200)),
  machineId: PairingMachine.fields.machineId,
  machineName: PairingMachine.fields.machineName,
})
/** What a paired CLI stores in `server.json`, less the URL. */
export const MachineCredential = Schema.Struct({ token: Schema.String, machineId: Schema.String })
export type MachineCredential = typeof MachineCredential.Type

/** `POST /api/v1/device/code` (unauthenticated; the CLI) body is a `PairingMachine`; the answer: */
export const DeviceCode = Schema.Struct({
  /** Secret; the CLI polls with it. */
  deviceCode: Schema.String,
  /** Shown to the user, e.g. `WDJB-MJHT`. */
  userCode: Schema.String,
  /** `<server>/device?code=<userCode>`: the dashboard page that approves. */
  verificationUrl: Schema.String,
  /** Seconds between polls. */
  interval: Count,
  /** Seconds until the code expires (600). */
  expiresIn: Count,
})
export type DeviceCode = typeof DeviceCode.Type

/**
 * `POST /api/v1/device/token` `{ deviceCode }`: 428 `{ status: "pending" }` until approved (429
 * `{ status: "slow_down" }` when polled faster than `interval`), then 200 `{ status: "approved",
 * token, machineId }` once; 403 `{ status: "denied" }`; 410 `{ status: "expired" }` (also after the
 * token was delivered).
 */
export const DeviceTokenRequest = Schema.Struct({ deviceCode: Schema.String.check(Schema.isMaxLength(200)) })
export const DeviceTokenStatus = Schema.Literals(["pending", "slow_down", "approved", "denied", "expired"])
export type DeviceTokenStatus = typeof DeviceTokenStatus.Type
export const DeviceTokenResponse = Schema.Struct({
  status: DeviceTokenStatus,
  token: Schema.optional(Schema.String),
  machineId: Schema.optional(Schema.String),
})
export type DeviceTokenResponse = typeof DeviceTokenResponse.Type

/**
 * `GET /api/v1/device/:userCode` (signed in): what the dashboard's `/device?code=…` page shows before
 * the user approves (`POST /api/v1/device/:userCode/approve`) or denies (`…/deny`); both answer this.
 */
export const DeviceRequest = Schema.Struct({
  userCode: Schema.String,
  machineName: Schema.String,
  status: Schema.Literals(["pending", "approved", "denied", "expired"]),
  expiresAt: Iso,
})
export type DeviceRequest = typeof DeviceRequest.Type

/** `POST /api/v1/sessions/:id/shares` body: share read-only with another user of this server. */
export const ShareRequest = Schema.Struct({ email: Schema.String.check(Schema.isMaxLength(254)) })
export const SessionShare = Schema.Struct({
  userId: Count,
  email: Schema.NullOr(Schema.String),
  name: Schema.String,
  sharedAt: Iso,
})
export type SessionShare = typeof SessionShare.Type
/** `GET /api/v1/sessions/:id/shares` (owner only); `POST` answers the new `SessionShare`. */
export const SessionShareList = Schema.Struct({ shares: Schema.Array(SessionShare) })
export type SessionShareList = typeof SessionShareList.Type
/** `GET /api/v1/shared-sessions`: sessions other users shared with me (read them with the session routes). */
export const SharedSession = Schema.Struct({
  sessionId: Schema.String,
  owner: Schema.Struct({ userId: Count, email: Schema.NullOr(Schema.String), name: Schema.String }),
  title: Schema.NullOr(Schema.String),
  sharedAt: Iso,
})
export type SharedSession = typeof SharedSession.Type
export const SharedSessionList = Schema.Struct({ sessions: Schema.Array(SharedSession) })
export type SharedSessionList = typeof SharedSessionList.Type
