/**
 * The sync protocol between the daemon (`overlord start`) and the server, over one WebSocket.
 *
 * Control messages are JSON text frames. File bytes travel in binary frames (see `AppendFrame`)
 * so the hot path never re-escapes JSON inside JSON and invalid UTF-8 survives byte for byte.
 *
 * Exactly-once rests on one rule, enforced by the server inside the same transaction that stores
 * the bytes: an append is accepted only if it starts at the offset (and generation) the server has
 * durably stored for that file. The server tells the daemon those offsets at `welcome`, so the
 * daemon's own state is only a cache.
 */
import { Schema } from "effect"
import { CommandDaemonMessage, CommandServerMessage } from "./commands.ts"

/**
 * The protocol's major version, `protocolVersion` in hello and welcome: bumped on any incompatible
 * change. A daemon and a server of different majors never sync.
 */
export const PROTOCOL_VERSION = 1

/**
 * The protocol's minor version, `protocolMinor` in hello and welcome (absent: 0, the releases before
 * it was sent): bumped with each release that adds to the protocol compatibly (a message, a field, a
 * value). Each side sends what is new only when the other told it understands it (as `welcome`'s
 * `factsVersion` and `goneNotices` do), and ignores, with a warning, a message type it does not know.
 * A daemon and a server one minor apart sync; further apart, both refuse (`protocolSkew`), since no
 * release is tested against more than its neighbours. An optional field that the other side may drop
 * without harm needs no bump (`remote.bypassPermissions`: a server before it shows every option, and
 * the daemon still refuses what it does not allow; `remote.sandboxesOff`: a server before it, and a
 * server hearing from a daemon before it, take the reason from the daemon's last warning, as before);
 * bumping would have cut off 1.0 daemons. Nor does a message that is sent only to a side that asked for
 * it (`machine-name`, after a hello with `machineNames`): an older server ignores the field and never
 * sends it, an older daemon never asks, so neither sees what it does not know. The same way the other
 * round: `command-partial` goes only to a server whose welcome said `commandPartials`.
 *
 * 1.0: everything before `protocolMinor` was sent (those servers accept only protocol 1 exactly).
 * 1.1: `protocolMinor` in hello and welcome; messages of unknown types ignored with a warning.
 */
export const PROTOCOL_MINOR = 1

/** A side's protocol version: `protocolVersion`.`protocolMinor`. */
export interface ProtocolLevel {
  readonly major: number
  readonly minor: number
}

export const protocolLevelOf = (m: { readonly protocolVersion: number; readonly protocolMinor?: number }) => ({
  major: m.protocolVersion,
  minor: m.protocolMinor ?? 0,
})

/**
 * The compatibility policy: a daemon and a server sync when they speak the same major and their
 * minors are at most one apart. Otherwise the older side must be upgraded: returned, with the message
 * both sides show (the server sends it in `refused` and logs it; the daemon shows it in
 * `overlord status` and its log).
 */
export function protocolSkew(
  daemon: ProtocolLevel & { readonly app: string },
  server: ProtocolLevel & { readonly app: string },
): { readonly upgrade: "daemon" | "server"; readonly message: string } | null {
  const sameMajor = daemon.major === server.major
  if (sameMajor && Math.abs(daemon.minor - server.minor) <= 1) return null
  const daemonOlder = sameMajor ? daemon.minor < server.minor : daemon.major < server.major
  const upgrade = daemonOlder ? "daemon" : "server"
  const newer = daemonOlder ? server : daemon
  return {
    upgrade,
    message:
      `the daemon (overlord ${daemon.app}) speaks sync protocol ${daemon.major}.${daemon.minor} and the server ` +
      `(overlord ${server.app}) ${server.major}.${server.minor}; they sync only within one minor version of the ` +
      `same major: upgrade the ${upgrade} to overlord ${newer.app} or later`,
  }
}

/** Path of a session file relative to the Claude `projects/` directory, POSIX separators. */
export const FileKey = Schema.String.check(
  Schema.isMinLength(1),
  Schema.isMaxLength(4096),
  Schema.makeFilter((s: string) => !s.startsWith("/") && !s.split("/").includes("..") && !s.includes("\0"), {
    expected: "a relative path inside projects/",
  }),
)

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/** Where the server stands on one file: the next byte it expects. */
export const FileCursor = Schema.Struct({
  fileKey: FileKey,
  /** Bumped each time the daemon reports the file replaced or shrunk. */
  generation: Count,
  offset: Count,
  /** The file identity the server last saw (`dev:ino`), to detect replacement across daemon restarts. */
  identity: Schema.optionalKey(Schema.String),
  /** Base64 of up to the last 32 bytes before `offset`, to detect in-place rewrites. */
  tail: Schema.optionalKey(Schema.String),
  /**
   * Where the server's stored lines end, when past `offset`: after a reset the server keeps the lines
   * that still fit and the daemon re-reads over them, so a file shrinking below `end` (not just below
   * `offset`) leaves stale lines and needs another reset.
   */
  end: Schema.optionalKey(Count),
  /**
   * At welcome: the server holds the file as gone from the machine (a `gone` notice). A daemon that has
   * the file sends `back` (an older server never sets it, so never gets one; no minor bump).
   */
  gone: Schema.optionalKey(Schema.Boolean),
})
export type FileCursor = typeof FileCursor.Type

// ---- daemon -> server -------------------------------------------------------------------------

/**
 * `RemoteCapabilities.sandboxesOff`'s length at most: the daemon's sentence names its `daytona.json`
 * (a path, up to 4,096 bytes on Linux) and what is wrong with it.
 */
export const MAX_SANDBOXES_OFF_CHARS = 8192

/**
 * What the daemon accepts of remote commands (`commands.ts`), told in `hello` and `status`: the
 * server refuses early what the daemon would refuse, and the dashboard shows whether a machine runs
 * commands at all. The daemon still checks every command itself.
 */
export const RemoteCapabilities = Schema.Struct({
  enabled: Schema.Boolean,
  maxConcurrent: Count,
  maxPromptBytes: Count,
  /** Whether it can run commands in Daytona sandboxes (`where: "sandbox"`). */
  sandbox: Schema.Boolean,
  /**
   * Whether it runs commands asking `permissionMode: "bypassPermissions"` (its remote config's
   * `allowBypassPermissions`). Absent from daemons released before it was sent: not known.
   */
  bypassPermissions: Schema.optionalKey(Schema.Boolean),
  /**
   * Why it runs no sandboxes although it has Daytona settings: its own sentence about the settings it
   * cannot use (a `daytona.json` that is not JSON, a key not a string), so the server's refusal and the
   * Run panel give it. Absent when its sandboxes are on, when it has no settings, and from daemons
   * released before it was sent (those said it only in their last warning, `sandboxSettingsProblem`).
   * At most `MAX_SANDBOXES_OFF_CHARS`: the daemon cuts a longer one.
   */
  sandboxesOff: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(MAX_SANDBOXES_OFF_CHARS))),
})
export type RemoteCapabilities = typeof RemoteCapabilities.Type

/**
 * A machine the token's machine runs on its owner's behalf (a Daytona sandbox): it has no token of
 * its own, and its session files are synced by its parent's daemon under its own `machineId`. The
 * server accepts it only for the token's own machine and user; revoking the parent revokes it.
 */
export const MachineParent = Schema.Struct({
  /** The parent's `machineId`: the machine the token was issued to. */
  machineId: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(128)),
  kind: Schema.Literal("sandbox"),
})
export type MachineParent = typeof MachineParent.Type

export const Hello = Schema.Struct({
  type: Schema.Literal("hello"),
  protocolVersion: Schema.Int,
  /** `PROTOCOL_MINOR`; absent from daemons released before it was sent (0). */
  protocolMinor: Schema.optionalKey(Count),
  daemonVersion: Schema.String,
  machineId: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(128)),
  machineName: Schema.String.check(Schema.isMaxLength(256)),
  /** Machine token; the server stores only its hash. */
  token: Schema.String.check(Schema.isMaxLength(512)),
  /** Absent from daemons that predate remote commands: they run none. */
  remote: Schema.optionalKey(RemoteCapabilities),
  /** Present when this connection syncs a child machine (a sandbox) with its parent's token. */
  parent: Schema.optionalKey(MachineParent),
  /**
   * The daemon keeps the name the server gives its machine (a dashboard rename): `welcome.machineName`
   * and `machine-name` are sent to it. Absent (daemons before it, a sandbox's sync): neither is sent.
   */
  machineNames: Schema.optionalKey(Schema.Boolean),
})
export type Hello = typeof Hello.Type

/** The file at `fileKey` was replaced, shrank or was rewritten: the daemon re-reads it from byte 0. */
export const Reset = Schema.Struct({
  type: Schema.Literal("reset"),
  fileKey: FileKey,
  /** Must be the server's generation + 1. */
  generation: Count,
  identity: Schema.String,
  /** Current size: stored lines past it no longer exist in the file. */
  size: Count,
  reason: Schema.Literals(["shrunk", "replaced", "rewritten"]),
})
export type Reset = typeof Reset.Type

/**
 * Header of a binary append frame. Frame layout:
 * `[u32 big-endian header length][header JSON, UTF-8][payload][facts JSON, optional]`, payload = the
 * file's bytes `[fromOffset, toOffset)`. The payload ends on a newline unless the daemon deliberately
 * ships an open line (a line larger than a frame, or a trailing fragment left idle); the server then
 * continues that same line with the next append.
 *
 * When the header has `factsVersion`, the bytes after the payload are `AppendFacts` as JSON: the
 * daemon's `LineFacts` for each line of the payload, so the server stores without parsing. They are
 * an optimisation only: the server ignores facts of another version, or facts that do not validate
 * (logging a warning), and computes them itself.
 */
export const AppendHeader = Schema.Struct({
  type: Schema.Literal("append"),
  /** Per-connection batch number, echoed in the ack. */
  seq: Count,
  fileKey: FileKey,
  generation: Count,
  identity: Schema.String,
  fromOffset: Count,
  toOffset: Count,
  /** Present when facts follow the payload; the daemon sends them only if `welcome` named this version. */
  factsVersion: Schema.optionalKey(Count),
})
export type AppendHeader = typeof AppendHeader.Type

const Text = Schema.String.check(Schema.isMaxLength(64 * 1024))
const Id = Schema.String.check(Schema.isMaxLength(1024))

/** Token usage of one API response, as `LineUsage` in `@overlord/transcript` derives it. */
export const LineUsage = Schema.Struct({
  dedupKey: Schema.optionalKey(Id),
  model: Id,
  input: Count,
  output: Count,
  cacheWrite: Count,
  cacheWrite1h: Count,
  cacheRead: Count,
  isSidechain: Schema.optionalKey(Schema.Boolean),
})
export type LineUsage = typeof LineUsage.Type

/** What a store derives from one line (`analyzeLine` in `@overlord/transcript`); absent facts are left out. */
export const LineFacts = Schema.Struct({
  kind: Id,
  subtype: Schema.optionalKey(Id),
  uuid: Schema.optionalKey(Id),
  parentUuid: Schema.optionalKey(Id),
  timestamp: Schema.optionalKey(Id),
  sessionId: Schema.optionalKey(Id),
  cwd: Schema.optionalKey(Text),
  model: Schema.optionalKey(Id),
  isError: Schema.optionalKey(Schema.Boolean),
  customTitle: Schema.optionalKey(Text),
  aiTitle: Schema.optionalKey(Text),
  summaryText: Schema.optionalKey(Text),
  firstPromptText: Schema.optionalKey(Text),
  usage: Schema.optionalKey(LineUsage),
  notice: Schema.optionalKey(Text),
})
export type LineFacts = typeof LineFacts.Type

/**
 * The facts section of an append frame: element i belongs to the payload's i-th line as
 * `splitPieces` in `@overlord/transcript` cuts it (the bytes up to and including its i-th newline,
 * then whatever follows the last one); null where the daemon has none
 * (an unterminated piece, a line continuing an open one).
 */
export const AppendFacts = Schema.Array(Schema.NullOr(LineFacts))
export type AppendFacts = typeof AppendFacts.Type

/** Daemon-reported health, shown by `overlord status` and the dashboard. */
export const DaemonStatus = Schema.Struct({
  type: Schema.Literal("status"),
  filesTracked: Count,
  bytesPending: Count,
  lastError: Schema.optionalKey(Schema.String),
  remote: Schema.optionalKey(RemoteCapabilities),
})
export type DaemonStatus = typeof DaemonStatus.Type

/**
 * Session files that are gone from the machine (Claude Code deletes them after `cleanupPeriodDays`):
 * the server keeps what it stored and marks them, so the dashboard can say Overlord kept them. Sent
 * only to a server whose `welcome` has `goneNotices` (an older one answers an unknown message with an
 * error).
 */
export const Gone = Schema.Struct({
  type: Schema.Literal("gone"),
  fileKeys: Schema.Array(FileKey).check(Schema.isMaxLength(1000)),
})
export type Gone = typeof Gone.Type

/**
 * Files the welcome's cursors said are gone (`FileCursor.gone`) that are on the machine after all (its
 * `CLAUDE_CONFIG_DIR` switched back, a backup restored): the server no longer marks them. Sent only for
 * cursors with `gone`, so only to a server that takes it.
 */
export const Back = Schema.Struct({
  type: Schema.Literal("back"),
  fileKeys: Schema.Array(FileKey).check(Schema.isMaxLength(1000)),
})
export type Back = typeof Back.Type

/** Remote commands' messages (`commands.ts`) travel beside the append protocol's, on the same socket. */
export const DaemonMessage = Schema.Union([Hello, Reset, DaemonStatus, Gone, Back, ...CommandDaemonMessage.members])
export type DaemonMessage = typeof DaemonMessage.Type

// ---- server -> daemon -------------------------------------------------------------------------

export const Welcome = Schema.Struct({
  type: Schema.Literal("welcome"),
  protocolVersion: Schema.Int,
  /** `PROTOCOL_MINOR`; absent from servers released before it was sent (0). */
  protocolMinor: Schema.optionalKey(Count),
  serverVersion: Schema.String,
  /** Every file the server holds for this machine. Files not listed start at offset 0. */
  cursors: Schema.Array(FileCursor),
  limits: Schema.Struct({ maxFrameBytes: Count }),
  /** The `FACTS_VERSION` whose facts this server accepts beside appends; absent: send none. */
  factsVersion: Schema.optionalKey(Count),
  /** The server takes `gone` notices; absent (older servers): send none. */
  goneNotices: Schema.optionalKey(Schema.Boolean),
  /** The server relays `command-partial` (text being written) to the command's watchers; absent: send none. */
  commandPartials: Schema.optionalKey(Schema.Boolean),
  /**
   * The server's name for this machine, to a daemon whose hello said `machineNames` (it may differ from
   * the hello's: renamed in the dashboard while the daemon was away, or told apart from another machine).
   */
  machineName: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(256))),
})
export type Welcome = typeof Welcome.Type

/**
 * The machine was renamed on the server (Account → Machines → Rename) while this daemon is connected;
 * sent only to a daemon whose hello said `machineNames`, which keeps the name (`machine.json`).
 */
export const MachineName = Schema.Struct({
  type: Schema.Literal("machine-name"),
  name: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(256)),
})
export type MachineName = typeof MachineName.Type

/** Sent before closing: an incompatible daemon, a bad token, a revoked machine. */
export const Refused = Schema.Struct({
  type: Schema.Literal("refused"),
  code: Schema.Literals(["incompatible_protocol", "unauthorized", "bad_message"]),
  message: Schema.String,
})
export type Refused = typeof Refused.Type

/** A line stored as is but worth telling the user about (malformed JSON, invalid UTF-8, unknown type). */
export const LineNotice = Schema.Struct({ byteOffset: Count, message: Schema.String })
export type LineNotice = typeof LineNotice.Type

/** The append (or reset) was durably stored; `offset` is now the file's cursor. */
export const Ack = Schema.Struct({
  type: Schema.Literal("ack"),
  seq: Count,
  fileKey: FileKey,
  generation: Count,
  offset: Count,
  notices: Schema.optionalKey(Schema.Array(LineNotice)),
})
export type Ack = typeof Ack.Type

/** The append did not start where the server stands; the daemon resumes from `cursor`. */
export const Rejected = Schema.Struct({
  type: Schema.Literal("rejected"),
  seq: Count,
  reason: Schema.String,
  cursor: FileCursor,
})
export type Rejected = typeof Rejected.Type

/** A message the server could not accept (bad schema); the connection stays open. */
export const ProtocolError = Schema.Struct({
  type: Schema.Literal("error"),
  message: Schema.String,
})
export type ProtocolError = typeof ProtocolError.Type

/** Remote commands (`commands.ts`: `command`, `command-input`) join the append protocol's messages. */
export const ServerMessage = Schema.Union([
  Welcome,
  Refused,
  Ack,
  Rejected,
  ProtocolError,
  MachineName,
  ...CommandServerMessage.members,
])
export type ServerMessage = typeof ServerMessage.Type

const typesOf = (union: {
  readonly members: readonly { readonly fields: { readonly type: { readonly literal: string } } }[]
}) => new Set(union.members.map((m) => m.fields.type.literal))

/**
 * The message types each side knows. A message that does not decode but names a type not in these
 * comes from a newer peer: it is ignored with a warning, never an error (a broken message of a known
 * type is still one).
 */
export const DAEMON_MESSAGE_TYPES: ReadonlySet<string> = typesOf(DaemonMessage)
export const SERVER_MESSAGE_TYPES: ReadonlySet<string> = typesOf(ServerMessage)

/** The `type` of a JSON message that names one, else null. */
export function messageTypeOf(text: string): string | null {
  try {
    const value: unknown = JSON.parse(text)
    if (typeof value !== "object" || value === null) return null
    const type = (value as { type?: unknown }).type
    return typeof type === "string" ? type : null
  } catch {
    return null
  }
}

export const DaemonMessageFromJson = Schema.fromJsonString(DaemonMessage)
export const ServerMessageFromJson = Schema.fromJsonString(ServerMessage)
export const AppendHeaderFromJson = Schema.fromJsonString(AppendHeader)
export const AppendFactsFromJson = Schema.fromJsonString(AppendFacts)
