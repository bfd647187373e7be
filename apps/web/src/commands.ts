/**
 * Remote commands from the dashboard: the REST client for `/api/v1/commands`, and the pure reading of
 * a command's events into what the Run panel shows. The CLI's stream-json `assistant` and `user`
 * messages are the records Claude Code writes to its session file, so they become `LineRecord`s and
 * go through the transcript's own renderers; everything else (start, result, stderr, permission
 * prompts) is a small item of its own. Pure apart from `commandsApi`, so it is tested without a browser.
 */
import { type Api, Commands } from "@overlord/protocol"
import { apiUrl, getJson, HttpError, notifyUnauthorized } from "./api.ts"
import type { Row } from "./grouping.ts"
import { type JsonObject, num, obj, readLine, str } from "./records.ts"

/** A refused or failed command request, with the server's typed reason (null when the body had none). */
export class CommandRequestError extends HttpError {
  constructor(
    status: number,
    message: string,
    readonly reason: Api.CommandErrorReason | null,
  ) {
    super(status, message)
  }
}

const sendJson = async <T>(method: "POST", path: string, body: unknown): Promise<T> => {
  const res = await fetch(apiUrl(path), {
    method,
    credentials: "same-origin",
    headers: { accept: "application/json", "content-type": "application/json" },
    body: JSON.stringify(body),
  })
  if (res.status === 401) {
    notifyUnauthorized()
    throw new CommandRequestError(401, "Not signed in: open the link printed by `overlord start`.", null)
  }
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`
    let reason: Api.CommandErrorReason | null = null
    try {
      const parsed = (await res.json()) as Partial<Api.CommandErrorResponse>
      if (parsed.error?.message) message = parsed.error.message
      if (parsed.error?.reason) reason = parsed.error.reason
    } catch {
      // not JSON (a proxy's error page): keep the status line
    }
    throw new CommandRequestError(res.status, message, reason)
  }
  return (await res.json()) as T
}

/** What the Run panel's form holds. */
export interface RunForm {
  readonly machineId: string
  readonly projectDir: string
  readonly prompt: string
  readonly where: Api.CommandWhere
  readonly permissionMode: Commands.PermissionMode
  readonly model: string
  readonly resumeSessionId?: string
}

/**
 * The request the Run panel sends. A sandbox run has nobody to answer a permission prompt (Claude Code
 * runs there with `-p`): in `default` mode every edit would be denied, so the sandbox's own default
 * is used (every tool allowed; the sandbox is isolated, and its changes come back as a patch).
 */
export const runRequest = (form: RunForm): Api.CreateCommandRequest => ({
  machineId: form.machineId,
  projectDir: form.projectDir.trim(),
  prompt: form.prompt,
  where: form.where,
  ...(form.where === "sandbox" ? {} : { permissionMode: form.permissionMode }),
  ...(form.model ? { model: form.model } : {}),
  ...(form.resumeSessionId ? { resumeSessionId: form.resumeSessionId } : {}),
})

export const commandsApi = {
  create: (request: Api.CreateCommandRequest) => sendJson<Api.CommandCreated>("POST", "/commands", request),
  list: (filter: { machineId?: string; sessionId?: string; limit?: number }, signal?: AbortSignal) =>
    getJson<Api.CommandList>("/commands", { ...filter }, signal),
  detail: (commandId: string, signal?: AbortSignal) =>
    getJson<Api.CommandDetail>(`/commands/${encodeURIComponent(commandId)}`, {}, signal),
  input: (commandId: string, input: Api.CommandInputRequest) =>
    sendJson<Api.CommandCreated>("POST", `/commands/${encodeURIComponent(commandId)}/input`, input),
}

const FINAL: ReadonlySet<Api.CommandStatus> = new Set([
  "completed",
  "failed",
  "cancelled",
  "interrupted",
  "refused",
  "expired",
  "timed-out",
])
export const isFinal = (status: Api.CommandStatus): boolean => FINAL.has(status)

/** Why a refusal happened, in words a person can act on; the server's message is shown under it. */
export const REASON_TITLES: Readonly<Record<Api.CommandErrorReason, string>> = {
  "remote-disabled": "This machine does not accept commands",
  "unknown-project": "Unknown project",
  "path-escape": "Path outside the project",
  "prompt-too-long": "Prompt too long",
  "shell-not-allowed": "Shell command not allowed",
  "permission-mode-not-allowed": "Permission mode not allowed",
  "concurrency-limit": "Too many commands running",
  "machine-not-found": "No such machine",
  "command-not-found": "No such command",
  "session-not-found": "No such session",
  "invalid-request": "Invalid request",
  "not-running": "The command is not running",
  "sandbox-unavailable": "Sandboxes are not set up on this machine",
  expired: "Expired before the machine took it",
  failed: "Failed",
  interrupted: "Interrupted",
  "timed-out": "Timed out",
}

/** What `overlord start` needs for a machine to take commands, shown where Run is disabled. */
export const ALLOW_REMOTE_HINT = "overlord start --allow-remote"
/**
 * The same for a machine whose daemon runs now: `overlord start --allow-remote` next to a running
 * daemon only says "already running", and the flag (or the config) is read when the daemon starts.
 */
export const RESTART_ALLOW_REMOTE_HINT = "overlord stop && overlord start --allow-remote"

/** Milliseconds from acknowledgement (or creation) to the end, or to `now` while it runs. */
export const commandDuration = (c: Api.CommandSummary, now: number): number | null => {
  const start = Date.parse(c.startedAt ?? c.createdAt)
  const end = c.endedAt ? Date.parse(c.endedAt) : isFinal(c.status) ? Number.NaN : now
  return Number.isNaN(start) || Number.isNaN(end) ? null : Math.max(0, end - start)
}

// ---- events -> what the panel shows -------------------------------------------------------------

export type PermissionRequest = Extract<Commands.CommandEventBody, { kind: "permission-request" }>

export type OutputItem =
  /**
   * A stream-json `assistant`/`user` message, read as the session line it also is; `partial`: the text
   * of a block the model is still writing, shown as the message it will be.
   */
  | { readonly type: "entry"; readonly key: string; readonly row: Row; readonly partial?: boolean }
  | {
      readonly type: "init"
      readonly key: string
      readonly sessionId: string | null
      readonly model: string | null
      readonly cwd: string | null
    }
  | {
      readonly type: "result"
      readonly key: string
      readonly isError: boolean
      readonly text: string | null
      readonly costUsd: number | null
      readonly durationMs: number | null
      readonly turns: number | null
    }
  /** Consecutive stdout or stderr text, joined. */
  | { readonly type: "text"; readonly key: string; readonly stream: "stdout" | "stderr"; readonly text: string }
  | {
      readonly type: "permission"
      readonly key: string
      readonly request: PermissionRequest
      readonly state: PermissionState
    }
  /** A sandbox run's changes to the project, pulled back as a git patch (`available`: the server has its bytes). */
  | {
      readonly type: "patch"
      readonly key: string
      readonly bytes: number
      readonly files: readonly string[]
      readonly available: boolean
    }
  /** A stream-json message of another type, shown raw so nothing is hidden. */
  | { readonly type: "other"; readonly key: string; readonly label: string; readonly message: JsonObject }

export type PermissionState = "pending" | "allowed" | "denied" | "withdrawn" | "answered"

/**
 * The session line a stream-json message stands for: the same record with the file's field names
 * (`session_id` → `sessionId`, `tool_use_result` → `toolUseResult`), so the renderers see what they see
 * in a session file.
 */
export const sessionLineOf = (message: JsonObject): JsonObject => {
  const { session_id, tool_use_result, parent_tool_use_id, ...rest } = message
  return {
    ...rest,
    ...(typeof session_id === "string" ? { sessionId: session_id } : {}),
    ...(tool_use_result !== undefined ? { toolUseResult: tool_use_result } : {}),
  }
}

/** System messages the CLI prints for itself while it works (token estimates, hooks starting). */
const QUIET_SYSTEM = new Set(["thinking_tokens", "hook_started", "hook_response", "status"])

/** Tool use ids that have a result among the events: their permission prompts were answered. */
const resultIds = (events: readonly Api.CommandEventDto[]): Set<string> => {
  const ids = new Set<string>()
  for (const e of events) {
    if (e.event.kind !== "cli" || e.event.message.type !== "user") continue
    const content = obj(e.event.message.message)?.content
    if (!Array.isArray(content)) continue
    for (const b of content) {
      const id = str(obj(b)?.tool_use_id)
      if (id) ids.add(id)
    }
  }
  return ids
}

/**
 * The items to render, in event order. `answers` are the decisions this page sent (the event stream
 * does not carry answers); a request whose tool has a result, or the command having ended, is no
 * longer pending either way.
 */
export const outputItems = (
  events: readonly Api.CommandEventDto[],
  answers: ReadonlyMap<string, "allow" | "deny">,
  final: boolean,
): OutputItem[] => {
  const items: OutputItem[] = []
  const withdrawn = new Set(events.flatMap((e) => (e.event.kind === "permission-cancelled" ? [e.event.requestId] : [])))
  const results = resultIds(events)
  for (const { eventSeq, event, at } of events) {
    const key = `ev${eventSeq}`
    switch (event.kind) {
      case "stdout":
      case "stderr": {
        const last = items.at(-1)
        if (last?.type === "text" && last.stream === event.kind) {
          items[items.length - 1] = { ...last, text: last.text + event.text }
        } else items.push({ type: "text", key, stream: event.kind, text: event.text })
        break
      }
      case "permission-cancelled":
        break
      case "patch":
        items.push({
          type: "patch",
          key,
          bytes: event.bytes,
          files: event.files,
          available: event.base64 !== undefined,
        })
        break
      case "permission-request": {
        const answer = answers.get(event.requestId)
        const state: PermissionState = withdrawn.has(event.requestId)
          ? "withdrawn"
          : answer === "allow"
            ? "allowed"
            : answer === "deny"
              ? "denied"
              : (event.toolUseId && results.has(event.toolUseId)) || final
                ? "answered"
                : "pending"
        items.push({ type: "permission", key, request: event, state })
        break
      }
      case "cli": {
        const m = event.message
        const type = str(m.type)
        if (type === "assistant" || type === "user") {
          const line = sessionLineOf(m.timestamp === undefined ? { ...m, timestamp: at } : m)
          const record = readLine(JSON.stringify(line))
          const entry: Api.Entry = {
            seq: eventSeq,
            fileKey: "",
            agentId: null,
            lineNo: eventSeq,
            byteOffset: 0,
            kind: record.kind,
            line: record.raw,
          }
          items.push({ type: "entry", key, row: { entry, record } })
        } else if (type === "system" && str(m.subtype) === "init") {
          items.push({ type: "init", key, sessionId: str(m.session_id), model: str(m.model), cwd: str(m.cwd) })
        } else if (type === "system" && QUIET_SYSTEM.has(str(m.subtype) ?? "")) {
          // progress chatter: the entries and the result say what happened
        } else if (type === "result") {
          items.push({
            type: "result",
            key,
            isError: m.is_error === true,
            text: str(m.result),
            costUsd: num(m.total_cost_usd),
            durationMs: num(m.duration_ms),
            turns: num(m.num_turns),
          })
        } else if (type === "stream_event") {
          // partial deltas (only with --include-partial-messages): the whole message follows
        } else {
          items.push({ type: "other", key, label: [type, str(m.subtype)].filter(Boolean).join(" · "), message: m })
        }
        break
      }
    }
  }
  return items
}

// ---- text being written -------------------------------------------------------------------------

/** Blocks being written, by `messageId:index`. */
export type PartialBlocks = ReadonlyMap<string, Commands.PartialBlock>

const partialKey = (b: Commands.PartialBlock) => `${b.messageId}:${b.index}`

/**
 * `incoming` pieces added to the blocks: each continues its block's text at `from` (0 after a watch:
 * the whole text so far). A piece that would leave a gap is dropped; the complete message follows.
 */
export const mergePartials = (known: PartialBlocks, incoming: readonly Commands.PartialBlock[]): PartialBlocks => {
  const next = new Map(known)
  for (const piece of incoming) {
    const before = next.get(partialKey(piece))?.text ?? ""
    if (piece.from > before.length) continue
    next.set(partialKey(piece), { ...piece, from: 0, text: before.slice(0, piece.from) + piece.text })
  }
  return next
}

/** Whether a stored event replaced the block (its complete message, or the turn's result). */
const replaced = (events: readonly Api.CommandEventDto[], block: Commands.PartialBlock): boolean => {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!
    if (e.eventSeq <= block.afterEventSeq) return false
    if (Commands.replacesPartial(e.eventSeq, e.event, block)) return true
  }
  return false
}

/** The blocks no stored event has replaced yet, in the order they began. */
export const openPartials = (
  events: readonly Api.CommandEventDto[],
  partials: PartialBlocks,
): Commands.PartialBlock[] =>
  [...partials.values()]
    .filter((b) => b.text !== "" && !replaced(events, b))
    .sort((a, b) => a.afterEventSeq - b.afterEventSeq || a.index - b.index)

/** Blocks being written as the `assistant` entries they will be, after the command's other items. */
export const partialItems = (blocks: readonly Commands.PartialBlock[]): OutputItem[] =>
  blocks.map((b) => {
    const content = b.kind === "text" ? { type: "text", text: b.text } : { type: "thinking", thinking: b.text }
    const record = readLine(
      JSON.stringify({
        type: "assistant",
        message: { id: b.messageId, type: "message", role: "assistant", content: [content] },
      }),
    )
    const seq = b.afterEventSeq + 0.5
    const entry: Api.Entry = {
      seq,
      fileKey: "",
      agentId: null,
      lineNo: seq,
      byteOffset: 0,
      kind: record.kind,
      line: record.raw,
    }
    return { type: "entry", key: `partial:${partialKey(b)}`, row: { entry, record }, partial: true }
  })

/** The permission prompts still waiting for an answer. */
export const pendingPermissions = (items: readonly OutputItem[]): PermissionRequest[] =>
  items.flatMap((i) => (i.type === "permission" && i.state === "pending" ? [i.request] : []))

/** Events merged by `eventSeq` (REST pages and the live feed overlap), in order, each once. */
export const mergeEvents = (
  known: readonly Api.CommandEventDto[],
  incoming: readonly Api.CommandEventDto[],
): readonly Api.CommandEventDto[] => {
  if (incoming.length === 0) return known
  const last = known.at(-1)?.eventSeq ?? -1
  if (incoming.every((e, i) => e.eventSeq === last + 1 + i)) return [...known, ...incoming]
  const bySeq = new Map<number, Api.CommandEventDto>()
  for (const e of known) bySeq.set(e.eventSeq, e)
  for (const e of incoming) if (!bySeq.has(e.eventSeq)) bySeq.set(e.eventSeq, e)
  return [...bySeq.values()].sort((a, b) => a.eventSeq - b.eventSeq)
}

/** The session a command produced or continued, as soon as any event names it. */
export const sessionIdOf = (
  command: Api.CommandSummary | null,
  events: readonly Api.CommandEventDto[],
): string | null => {
  if (command?.sessionId) return command.sessionId
  for (const e of events)
    if (e.event.kind === "cli" && typeof e.event.message.session_id === "string") return e.event.message.session_id
  return null
}
