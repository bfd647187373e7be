/**
 * Remote commands: the server asks a daemon to run Claude Code (or an allowlisted program) in one of
 * the laptop's projects, and the daemon streams what happens back. These messages travel on the sync
 * socket beside the append protocol (`sync.ts`), as JSON text frames with their own `type`s.
 *
 * Delivery: every command has an id chosen by the server. The daemon records the id on disk, then
 * answers `command-ack`; the server redelivers commands it has no ack for after a reconnect, and the
 * daemon answers an id it has seen with the ack again (and the recorded `command-exit`, if it has one)
 * instead of running it. A command never runs twice: one whose outcome the daemon lost in a crash
 * ends `interrupted` and is never restarted on its own.
 *
 * Output: `command-event`s numbered per command from 0 (`eventSeq`), in the order they happened,
 * then exactly one `command-exit`. A refused command's id is spent: the server retries with a new id.
 */
import { Schema } from "effect"

/** Chosen by the server; unique per machine. */
export const CommandId = Schema.String.check(
  Schema.isMinLength(1),
  Schema.isMaxLength(128),
  Schema.isPattern(/^[A-Za-z0-9._:-]+$/),
)
export type CommandId = typeof CommandId.Type

/**
 * Upper bound of a prompt on the wire (1 MiB). The daemon's own limit (`maxPromptBytes`) is usually
 * lower and is answered with a typed refusal rather than a schema error.
 */
export const MAX_WIRE_PROMPT_CHARS = 1024 * 1024

/** An absolute path on the daemon's machine. Whether the daemon knows it is its own check. */
export const ProjectDir = Schema.String.check(
  Schema.isMinLength(1),
  Schema.isMaxLength(4096),
  Schema.makeFilter((s: string) => s.startsWith("/") && !s.includes("\0"), { expected: "an absolute path" }),
)

/** Claude Code's `--permission-mode` values. */
export const PermissionMode = Schema.Literals(["default", "acceptEdits", "plan", "bypassPermissions"])
export type PermissionMode = typeof PermissionMode.Type

const ShortText = Schema.String.check(Schema.isMaxLength(256))
const Timeout = Schema.Int.check(Schema.isGreaterThan(0))

// ---- server -> daemon -------------------------------------------------------------------------

/** Runs `claude` in `projectDir` with `prompt` as the first user message. */
export const ClaudeCommand = Schema.Struct({
  type: Schema.Literal("command"),
  commandId: CommandId,
  kind: Schema.Literal("claude"),
  prompt: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(MAX_WIRE_PROMPT_CHARS)),
  projectDir: ProjectDir,
  /** Continues this session (`--resume`). */
  resumeSessionId: Schema.optionalKey(ShortText.check(Schema.isPattern(/^[A-Za-z0-9-]+$/))),
  model: Schema.optionalKey(ShortText),
  permissionMode: Schema.optionalKey(PermissionMode),
  /** Tools allowed without a prompt (`--allowedTools`), e.g. `Read`, `Bash(git status:*)`. */
  allowTools: Schema.optionalKey(Schema.Array(ShortText).check(Schema.isMaxLength(64))),
  /** Milliseconds; the daemon caps it at its own maximum. */
  timeoutMs: Schema.optionalKey(Timeout),
  /** Who asked (the server's user), for the daemon's audit log. */
  requestedBy: Schema.optionalKey(ShortText),
  /** `sandbox`: in a Daytona sandbox of this daemon's, its session files synced as the sandbox's machine. */
  where: Schema.optionalKey(Schema.Literals(["local", "sandbox"])),
})
export type ClaudeCommand = typeof ClaudeCommand.Type

/** Runs a program (no shell) in `projectDir`; refused unless the daemon's allowlist has it. */
export const ShellCommand = Schema.Struct({
  type: Schema.Literal("command"),
  commandId: CommandId,
  kind: Schema.Literal("shell"),
  argv: Schema.Array(Schema.String.check(Schema.isMaxLength(64 * 1024))).check(
    Schema.isMinLength(1),
    Schema.isMaxLength(256),
  ),
  projectDir: ProjectDir,
  timeoutMs: Schema.optionalKey(Timeout),
  /** Who asked (the server's user), for the daemon's audit log. */
  requestedBy: Schema.optionalKey(ShortText),
})
export type ShellCommand = typeof ShellCommand.Type

export const Command = Schema.Union([ClaudeCommand, ShellCommand])
export type Command = typeof Command.Type

/** A follow-up user message to a running `claude` command. */
export const UserMessageInput = Schema.Struct({
  kind: Schema.Literal("message"),
  text: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(MAX_WIRE_PROMPT_CHARS)),
})

/** The answer to a `permission-request` event. */
export const PermissionAnswerInput = Schema.Struct({
  kind: Schema.Literal("permission"),
  requestId: ShortText,
  decision: Schema.Literals(["allow", "deny"]),
  /** For a denial: what the model is told. */
  message: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(4096))),
})

/** Interrupts the run, then ends its process group. */
export const CancelInput = Schema.Struct({ kind: Schema.Literal("cancel") })

export const CommandInput = Schema.Struct({
  type: Schema.Literal("command-input"),
  commandId: CommandId,
  input: Schema.Union([UserMessageInput, PermissionAnswerInput, CancelInput]),
})
export type CommandInput = typeof CommandInput.Type

export const CommandServerMessage = Schema.Union([ClaudeCommand, ShellCommand, CommandInput])
export type CommandServerMessage = typeof CommandServerMessage.Type

// ---- daemon -> server -------------------------------------------------------------------------

/** The daemon has recorded the command (on disk): the server stops redelivering it. */
export const CommandAck = Schema.Struct({
  type: Schema.Literal("command-ack"),
  commandId: CommandId,
  /** The id was seen before: nothing new runs. */
  duplicate: Schema.optionalKey(Schema.Boolean),
})
export type CommandAck = typeof CommandAck.Type

/** One stream-json message of the CLI's stdout, as it printed it. */
export const CliMessageEvent = Schema.Struct({ kind: Schema.Literal("cli"), message: Schema.JsonObject })

/** The CLI asks whether a tool may run; nothing proceeds until a `permission` input answers it. */
export const PermissionRequestEvent = Schema.Struct({
  kind: Schema.Literal("permission-request"),
  requestId: ShortText,
  toolName: ShortText,
  input: Schema.JsonObject,
  toolUseId: Schema.optionalKey(ShortText),
  /** The CLI's one-line description of the call, when it gives one. */
  description: Schema.optionalKey(Schema.String),
})

/** The CLI withdrew a pending permission request (after an interrupt). */
export const PermissionCancelledEvent = Schema.Struct({
  kind: Schema.Literal("permission-cancelled"),
  requestId: ShortText,
})

/** Text a process wrote: stderr of either kind, stdout of a shell command, non-JSON stdout of the CLI. */
export const OutputTextEvent = Schema.Struct({
  kind: Schema.Literals(["stdout", "stderr"]),
  text: Schema.String,
})

/** Largest patch a `patch` event carries (base64 of up to this many bytes); a larger one stays on the laptop. */
export const MAX_PATCH_EVENT_BYTES = 4 * 1024 * 1024

/**
 * What a sandbox run changed in the project: a binary git patch (`git diff --binary` against the tree
 * the laptop sent), to `git apply` in the project on the laptop. Sent after the run, before the exit;
 * none when nothing changed. The daemon also keeps it at `savedAs` (`overlord sandboxes patch`).
 */
export const PatchEvent = Schema.Struct({
  kind: Schema.Literal("patch"),
  /** Size of the patch in bytes. */
  bytes: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  /** Base64 of the patch; absent when it is over `MAX_PATCH_EVENT_BYTES`. */
  base64: Schema.optionalKey(Schema.String),
  /** The paths it changes (project-relative), at most 1,000. */
  files: Schema.Array(Schema.String.check(Schema.isMaxLength(4096))).check(Schema.isMaxLength(1000)),
  /** Where the daemon saved it on the laptop. */
  savedAs: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(4096))),
})
export type PatchEvent = typeof PatchEvent.Type

export const CommandEventBody = Schema.Union([
  CliMessageEvent,
  PermissionRequestEvent,
  PermissionCancelledEvent,
  OutputTextEvent,
  PatchEvent,
])
export type CommandEventBody = typeof CommandEventBody.Type

export const CommandEvent = Schema.Struct({
  type: Schema.Literal("command-event"),
  commandId: CommandId,
  /** 0, 1, 2, ... per command, in the order the events happened. */
  eventSeq: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  event: CommandEventBody,
})
export type CommandEvent = typeof CommandEvent.Type

/** Why a command was not run. */
export const RefusalReason = Schema.Literals([
  /** Remote commands are off (`--allow-remote` or the config turns them on). */
  "remote-disabled",
  /** No session file of this machine has this directory (or a parent of it) as its `cwd`. */
  "unknown-project",
  /** The path has `..` segments, or a symlink leads out of the known project. */
  "path-escape",
  "prompt-too-long",
  /** Shell commands are off, or this argv is not on the allowlist. */
  "shell-not-allowed",
  /** `bypassPermissions` was asked for and the daemon's config does not allow it. */
  "permission-mode-not-allowed",
  /** As many commands as the daemon allows are running already. */
  "concurrency-limit",
  /** A `where: "sandbox"` command, and this machine's daemon has no Daytona settings. */
  "sandbox-unavailable",
])
export type RefusalReason = typeof RefusalReason.Type

/**
 * How a daemon's warning starts when its Daytona settings are there but unusable (a `daytona.json`
 * that is not JSON, a key not a string). The reason itself travels as `remote.sandboxesOff`; daemons
 * before that field said it only here, in their status's last error, which their next warning replaced.
 */
export const SANDBOX_SETTINGS_UNUSABLE = "remote: Daytona settings unusable, sandboxes off: "

/** The daemon's reason its Daytona settings are unusable, when its last error says it; else null. */
export const sandboxSettingsProblem = (lastError: string | null | undefined): string | null => {
  const at = lastError?.indexOf(SANDBOX_SETTINGS_UNUSABLE) ?? -1
  return at < 0 || !lastError ? null : lastError.slice(at + SANDBOX_SETTINGS_UNUSABLE.length).trim() || null
}

/**
 * Why a machine's daemon runs no sandboxes although it has Daytona settings, for the server's
 * `sandbox-unavailable` refusal and the Run panel: what it said (`remote.sandboxesOff`), else, from a
 * daemon before that field, its last error when that is still this warning; null when not known (then
 * the caller says where the settings go).
 */
export const sandboxesOffReason = (
  remote: { readonly sandboxesOff?: string } | null | undefined,
  lastError: string | null | undefined,
): string | null => remote?.sandboxesOff || sandboxSettingsProblem(lastError)

export const ExitStatus = Schema.Literals(["completed", "failed", "cancelled", "interrupted", "refused", "timed-out"])
export type ExitStatus = typeof ExitStatus.Type

/** The last message about a command. */
export const CommandExit = Schema.Struct({
  type: Schema.Literal("command-exit"),
  commandId: CommandId,
  status: ExitStatus,
  /** Present when `status` is `refused`. */
  reason: Schema.optionalKey(RefusalReason),
  exitCode: Schema.optionalKey(Schema.Int),
  /** Claude Code's session id: pass it as `resumeSessionId` to continue. */
  sessionId: Schema.optionalKey(Schema.String),
  /** For people: why it was refused, failed or interrupted. */
  message: Schema.optionalKey(Schema.String),
})
export type CommandExit = typeof CommandExit.Type

/**
 * Text of a content block the model is still writing (the CLI's `stream_event` deltas with
 * `--include-partial-messages`), coalesced by the daemon. Relayed live to whoever watches the command
 * and never stored: the complete `assistant` message (a `cli` event) replaces it.
 */
export const PartialBlock = Schema.Struct({
  /** The API message's id (`msg_…`): its `assistant` event, once stored, replaces this block. */
  messageId: ShortText,
  /** The block's index in that message. */
  index: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  kind: Schema.Literals(["text", "thinking"]),
  /** The Task call a subagent's block belongs to; absent for the main conversation. */
  parentToolUseId: Schema.optionalKey(ShortText),
  /** The last stored event (`eventSeq`) before the block began (-1: none): the block follows it. */
  afterEventSeq: Schema.Int.check(Schema.isGreaterThanOrEqualTo(-1)),
  /** Where `text` starts in the block's text so far (UTF-16 code units); 0 with the whole of it. */
  from: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  text: Schema.String,
})
export type PartialBlock = typeof PartialBlock.Type

/**
 * Blocks being written, sent only to a server whose `welcome` said `commandPartials` (an older server
 * would answer a type it does not know with a warning each time) and only while connected: a partial
 * held back for a reconnect is stale by then, and its complete message is in the outbox anyway.
 */
export const CommandPartial = Schema.Struct({
  type: Schema.Literal("command-partial"),
  commandId: CommandId,
  blocks: Schema.Array(PartialBlock),
})
export type CommandPartial = typeof CommandPartial.Type

/**
 * Whether stored event `event` (with `eventSeq`) replaces partial block `block`: the block's own
 * complete message (the CLI prints one `assistant` message per content block, with the API message's
 * id, before the block's `content_block_stop`), or a `result`, which ends the turn it was part of.
 */
export const replacesPartial = (eventSeq: number, event: CommandEventBody, block: PartialBlock): boolean => {
  if (event.kind !== "cli" || eventSeq <= block.afterEventSeq) return false
  const m = event.message
  if (m.type === "result") return true
  if (m.type !== "assistant") return false
  const inner = m.message
  return (
    typeof inner === "object" &&
    inner !== null &&
    !Array.isArray(inner) &&
    "id" in inner &&
    inner.id === block.messageId
  )
}

export const CommandDaemonMessage = Schema.Union([CommandAck, CommandEvent, CommandExit, CommandPartial])
export type CommandDaemonMessage = typeof CommandDaemonMessage.Type

export const CommandServerMessageFromJson = Schema.fromJsonString(CommandServerMessage)
export const CommandDaemonMessageFromJson = Schema.fromJsonString(CommandDaemonMessage)
