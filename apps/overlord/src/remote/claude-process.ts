/**
 * One run of the real Claude Code CLI, driven over its stream-json control protocol
 * (`../shared/reference/claude-control-protocol.md`): NDJSON user messages and control messages on
 * stdin, NDJSON events on stdout. Permission prompts (`control_request` `can_use_tool`) become
 * `permission-request` events and are answered with `answerPermission`.
 *
 * The CLI needs no `initialize` handshake: the first user message starts the work (the reference
 * verified it with 2.1.332, the tests here run 2.1.330). It runs with `--replay-user-messages`, which echoes each user message from stdin
 * (`isReplay: true`) when the CLI takes it up. That is how the run knows it is finished: a follow-up
 * sent while a tool runs is folded into the current turn (one `result` for both), one sent while the
 * model answers gets a turn of its own (a second `result`), so counting results cannot tell; when a
 * `result` arrives and every message sent has been echoed, nothing is left to answer and stdin is
 * closed, on which the CLI exits.
 *
 * With `partialOutput` it also runs with `--include-partial-messages` and turns the `stream_event`
 * lines (the API's raw SSE events) into `partial` items between the events, coalesced
 * (`partial-output.ts`): the text being written, which the complete `assistant` message then replaces.
 * The `stream_event` lines themselves are not events.
 *
 * The CLI prints a `system`/`thinking_tokens` line per thinking delta (checked with 2.1.330 against
 * the fake API: a thinking block of 49 deltas gave 49 lines, `estimated_tokens` counting up and
 * `estimated_tokens_delta` the step), with or without `--include-partial-messages`. Each was an event:
 * stored, and relayed to every watcher, for a line the Run panel hides. Only the last of a run of them
 * is an event now (`heldProgress`), given out when the next event or the end comes, its delta the run's
 * sum: one per thinking block. Nothing else is held: `status` is one line per API request, and
 * `hook_started`/`hook_response` carry the hook's output and outcome.
 */
import type { Commands } from "@overlord/protocol"
import type { Schema } from "effect"
import {
  type ChildExit,
  EventQueue,
  endProcessTree,
  onLines,
  onText,
  spawnGroupLeader,
  within,
} from "./child-process.ts"
import { PARTIAL_INTERVAL_MS, PartialOutput } from "./partial-output.ts"

/** What `JSON.parse` of an object gives: JSON by construction. */
type JsonObject = Schema.JsonObject

export type ClaudeEvent = Commands.CommandEventBody

/** Text being written since the last such item (`partialOutput`); not an event, so it has no `eventSeq`. */
export interface ClaudePartial {
  readonly kind: "partial"
  /** Each block's `afterEventSeq` counts this process's events (`ClaudeEvent`s) from 0. */
  readonly blocks: readonly Commands.PartialBlock[]
}

export interface ClaudeProcessOptions {
  /** The `claude` executable: a path, or a name looked up on PATH. */
  readonly claudePath: string
  /** The project's directory (already checked by the runner). */
  readonly cwd: string
  readonly prompt: string
  readonly resumeSessionId?: string
  readonly model?: string
  readonly permissionMode?: Commands.PermissionMode
  readonly allowTools?: readonly string[]
  /** The laptop's environment: the CLI's own login or API key stays on the laptop. */
  readonly env: Readonly<Record<string, string | undefined>>
  /** Text as the model writes it, as `partial` items (`--include-partial-messages`). */
  readonly partialOutput?: boolean
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/** The CLI's arguments; `-p` with `--input-format stream-json` reads the prompt from stdin. */
export function claudeArgs(options: Omit<ClaudeProcessOptions, "claudePath" | "cwd" | "prompt" | "env">): string[] {
  return [
    "-p",
    "--output-format",
    "stream-json",
    "--input-format",
    "stream-json",
    "--verbose",
    "--permission-prompt-tool",
    "stdio",
    "--replay-user-messages",
    ...(options.partialOutput ? ["--include-partial-messages"] : []),
    ...(options.resumeSessionId ? ["--resume", options.resumeSessionId] : []),
    ...(options.model ? ["--model", options.model] : []),
    ...(options.permissionMode ? ["--permission-mode", options.permissionMode] : []),
    ...(options.allowTools && options.allowTools.length > 0 ? ["--allowedTools", options.allowTools.join(",")] : []),
  ]
}

export class ClaudeProcess {
  /** Also the process group id: the CLI leads a group of its own. */
  readonly pid: number | undefined
  /** Everything the CLI says, in order; ends when its stdout and stderr have closed (or `closeOutput`). */
  readonly events: AsyncIterable<ClaudeEvent | ClaudePartial>
  /** The CLI itself has exited; its output may still be draining. */
  readonly exited: Promise<ChildExit>

  private readonly child: ReturnType<typeof spawnGroupLeader>["child"]
  private readonly queue = new EventQueue<ClaudeEvent | ClaudePartial>()
  /** Events pushed so far (not partials): the next one's index. */
  private eventCount = 0
  private readonly partials: PartialOutput | undefined
  private partialTimer: ReturnType<typeof setTimeout> | undefined
  private partialTakenAt = 0
  /** Open permission prompts: request id -> the tool input, which an `allow` must send back. */
  private readonly pending = new Map<string, JsonObject>()
  private inputOpen = true
  private userSent = 0
  private userEchoed = 0
  private interrupts = 0
  private session: string | undefined
  private lastResult: JsonObject | undefined
  /** The last `thinking_tokens` line of the current run of them, not given out yet; its delta is the run's. */
  private heldProgress: Record<string, unknown> | undefined

  private constructor(options: ClaudeProcessOptions) {
    const { child, exited } = spawnGroupLeader([options.claudePath, ...claudeArgs(options)], options.cwd, options.env)
    this.child = child
    this.pid = child.pid
    this.events = this.queue
    this.partials = options.partialOutput ? new PartialOutput() : undefined
    let streams = 2
    const streamEnded = () => {
      streams -= 1
      if (streams === 0) this.endEvents()
    }
    if (child.stdout && child.stderr) {
      onLines(child.stdout, (line) => this.onStdoutLine(line), streamEnded)
      onText(child.stderr, (text) => this.push({ kind: "stderr", text }), streamEnded)
    } else this.endEvents()
    this.exited = exited.then((exit) => {
      this.inputOpen = false
      if (exit.spawnError) this.closeOutput()
      return exit
    })
    this.send(options.prompt)
  }

  static start(options: ClaudeProcessOptions): ClaudeProcess {
    return new ClaudeProcess(options)
  }

  /** From the `system`/`init` event (and every later one); a resumed run keeps the id it resumed. */
  get sessionId(): string | undefined {
    return this.session
  }

  /** The last `result` message, if the CLI printed one. */
  get result(): JsonObject | undefined {
    return this.lastResult
  }

  /** Stops reading output still held open (by something that outlived the CLI) and ends `events`. */
  closeOutput(): void {
    this.child.stdout?.destroy()
    this.child.stderr?.destroy()
    this.endEvents()
  }

  /** A user message: the prompt, or a follow-up while the CLI runs. False once input has closed. */
  send(text: string): boolean {
    if (!this.write({ type: "user", message: { role: "user", content: text } })) return false
    this.userSent += 1
    return true
  }

  /** Answers permission prompt `requestId`; false if no such prompt is open. */
  answerPermission(requestId: string, decision: "allow" | "deny", message?: string): boolean {
    const input = this.pending.get(requestId)
    if (input === undefined) return false
    const response =
      decision === "allow"
        ? { behavior: "allow", updatedInput: input }
        : { behavior: "deny", message: message ?? "The user denied this from Overlord." }
    if (!this.write({ type: "control_response", response: { subtype: "success", request_id: requestId, response } }))
      return false
    this.pending.delete(requestId)
    return true
  }

  /** Asks the CLI to stop its current turn (it answers with a `result` of subtype `error_during_execution`). */
  interrupt(): boolean {
    this.interrupts += 1
    return this.write({
      type: "control_request",
      request_id: `overlord-interrupt-${this.interrupts}`,
      request: { subtype: "interrupt" },
    })
  }

  /** Closes stdin: the CLI finishes what it has and exits. */
  endInput(): void {
    if (!this.inputOpen) return
    this.inputOpen = false
    this.child.stdin?.end()
  }

  /** Ends the CLI's process group and its tools' (SIGTERM, then SIGKILL) and waits for them to be gone. */
  async kill(termGraceMs?: number): Promise<void> {
    this.inputOpen = false
    if (this.pid !== undefined) await endProcessTree(this.pid, termGraceMs)
  }

  /** Interrupt, give the CLI `graceMs` to wind down, then end the process group. */
  async cancel(graceMs: number): Promise<void> {
    if (this.interrupt()) await within(this.exited, graceMs)
    await this.kill()
  }

  private write(message: unknown): boolean {
    const stdin = this.child.stdin
    if (!this.inputOpen || !stdin || stdin.destroyed) return false
    stdin.write(`${JSON.stringify(message)}\n`)
    return true
  }

  private push(event: ClaudeEvent): void {
    this.giveOutProgress()
    this.eventCount += 1
    this.queue.push(event)
  }

  /** The held `thinking_tokens` line, as the event before whatever comes next. */
  private giveOutProgress(): void {
    const held = this.heldProgress
    if (held === undefined) return
    this.heldProgress = undefined
    this.eventCount += 1
    this.queue.push({ kind: "cli", message: held as JsonObject })
  }

  /** Holds a `thinking_tokens` line in place of the one held before (a run of them ends as one event). */
  private holdProgress(message: Record<string, unknown>): void {
    const held = this.heldProgress
    const delta = (m: Record<string, unknown> | undefined) =>
      typeof m?.estimated_tokens_delta === "number" ? m.estimated_tokens_delta : 0
    this.heldProgress =
      held === undefined ? message : { ...message, estimated_tokens_delta: delta(held) + delta(message) }
  }

  private endEvents(): void {
    // A run of progress lines the output ended in: its last one is still an event.
    this.giveOutProgress()
    if (this.partialTimer !== undefined) clearTimeout(this.partialTimer)
    this.partialTimer = undefined
    this.queue.end()
  }

  /** Gives out the text gathered since the last time: at once if that was long enough ago, else when it is. */
  private partialAdded(): void {
    if (this.partialTimer !== undefined) return
    const wait = this.partialTakenAt + PARTIAL_INTERVAL_MS - performance.now()
    if (wait <= 0) this.takePartials()
    else this.partialTimer = setTimeout(() => this.takePartials(), wait)
  }

  private takePartials(): void {
    this.partialTimer = undefined
    this.partialTakenAt = performance.now()
    const blocks = this.partials?.take() ?? []
    if (blocks.length > 0) this.queue.push({ kind: "partial", blocks })
  }

  private onStdoutLine(line: string): void {
    if (line.trim() === "") return
    let message: unknown
    try {
      message = JSON.parse(line)
    } catch {
      this.push({ kind: "stdout", text: `${line}\n` })
      return
    }
    if (!isRecord(message)) {
      this.push({ kind: "stdout", text: `${line}\n` })
      return
    }
    if (typeof message.session_id === "string") this.session = message.session_id
    switch (message.type) {
      case "control_request":
        this.onControlRequest(message)
        return
      case "control_cancel_request": {
        const requestId = typeof message.request_id === "string" ? message.request_id : undefined
        if (requestId !== undefined && this.pending.delete(requestId))
          this.push({ kind: "permission-cancelled", requestId })
        return
      }
      // Answers to our own interrupts: nothing for the user.
      case "control_response":
        return
      case "user":
        if (message.isReplay === true) this.userEchoed += 1
        break
      case "stream_event":
        if (this.partials === undefined) break
        if (this.partials.add(message, this.eventCount - 1)) this.partialAdded()
        return
      case "assistant":
        // What of its block was not given out yet is in the message itself.
        if (isRecord(message.message) && typeof message.message.id === "string")
          this.partials?.complete(message.message.id)
        break
      case "system":
        if (message.subtype === "thinking_tokens") {
          this.holdProgress(message)
          return
        }
        break
      case "result":
        this.lastResult = message as JsonObject
        this.partials?.clear()
        break
    }
    this.push({ kind: "cli", message: message as JsonObject })
    if (message.type === "result" && this.userEchoed >= this.userSent) this.endInput()
  }

  private onControlRequest(message: Record<string, unknown>): void {
    const requestId = typeof message.request_id === "string" ? message.request_id : undefined
    const request = isRecord(message.request) ? message.request : {}
    if (requestId === undefined) return
    if (request.subtype === "can_use_tool" && typeof request.tool_name === "string") {
      const input = isRecord(request.input) ? (request.input as JsonObject) : {}
      this.pending.set(requestId, input)
      this.push({
        kind: "permission-request",
        requestId,
        toolName: request.tool_name,
        input,
        ...(typeof request.tool_use_id === "string" ? { toolUseId: request.tool_use_id } : {}),
        ...(typeof request.description === "string" ? { description: request.description } : {}),
      })
      return
    }
    // Hook callbacks, MCP messages and the like: we registered none, so say so rather than leave the CLI waiting.
    this.write({
      type: "control_response",
      response: {
        subtype: "error",
        request_id: requestId,
        error: `unsupported control request ${String(request.subtype)}`,
      },
    })
  }
}
