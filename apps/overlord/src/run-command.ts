/**
 * `overlord run`: asks a machine (this one by default) to run Claude Code through the server the CLI
 * already talks to (`credentials.json`: the embedded server or the configured one), prints what it
 * does as it streams (assistant text as the model writes it, and tool calls, not raw JSON), answers its permission prompts
 * (`--allow-tools`, else y/n on a terminal, else deny) and resolves with the command's exit code.
 */
import { resolve } from "node:path"
import { createInterface } from "node:readline/promises"
import type { Api, Commands, Live } from "@overlord/protocol"
import { type HomePaths, loadMachine } from "./home.ts"
import {
  loadCredentials,
  loadServerCredentials,
  NO_SERVER_MESSAGE,
  refusedMessage,
  unreachableMessage,
} from "./server-credentials.ts"

export interface RunOptions {
  readonly project: string
  readonly machine?: string
  readonly sandbox?: boolean
  readonly resume?: string
  /** Tools whose permission prompts are answered allow (`Write,Bash`); others are asked or denied. */
  readonly allowTools?: string
  /** Claude Code's `--permission-mode` for the run (default: the machine's own settings). */
  readonly permissionMode?: string
}

export class RunError extends Error {}

const PERMISSION_MODES: readonly string[] = ["default", "acceptEdits", "plan", "bypassPermissions"]

/** One event as a person reads it; empty when there is nothing worth a line. */
export function renderEvent(event: Commands.CommandEventBody): string {
  if (event.kind === "stdout") return event.text
  if (event.kind === "stderr") return ""
  if (event.kind === "permission-request") return ""
  if (event.kind === "permission-cancelled") return "(permission request withdrawn)\n"
  if (event.kind !== "cli") return ""
  const m = event.message as Record<string, unknown>
  const content = (m.message as { content?: unknown } | undefined)?.content
  if (m.type === "system" && m.subtype === "init") return `session ${String(m.session_id)}\n`
  if (m.type === "assistant" && Array.isArray(content)) {
    return content
      .map((c: Record<string, unknown>) =>
        c.type === "text"
          ? `${String(c.text)}\n`
          : c.type === "tool_use"
            ? `⏺ ${String(c.name)}(${JSON.stringify(c.input).slice(0, 200)})\n`
            : "",
      )
      .join("")
  }
  if (m.type === "user" && Array.isArray(content)) {
    return content
      .map((c: Record<string, unknown>) => {
        if (c.type !== "tool_result") return ""
        const text = typeof c.content === "string" ? c.content : JSON.stringify(c.content ?? "")
        return `  ⎿ ${text.split("\n")[0]!.slice(0, 200)}\n`
      })
      .join("")
  }
  if (m.type === "result")
    return `(${String(m.subtype ?? "done")}${typeof m.total_cost_usd === "number" ? `, $${m.total_cost_usd.toFixed(4)}` : ""})\n`
  return ""
}

export async function runRemote(paths: HomePaths, prompt: string, options: RunOptions): Promise<number> {
  const creds = loadCredentials(paths)
  if (!creds) throw new RunError(NO_SERVER_MESSAGE)
  const paired = loadServerCredentials(paths)
  const headers = { authorization: `Bearer ${creds.apiToken}` }
  const post = async <T>(path: string, body: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${creds.serverUrl}/api/v1${path}`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json", origin: creds.serverUrl },
      body: JSON.stringify(body),
    }).catch(() => {
      throw new RunError(unreachableMessage(paths, creds.serverUrl))
    })
    // A paired machine holds only its machine token, which reads and never starts a command (auth.ts).
    if (res.status === 401 && paired)
      throw new RunError(
        `a paired machine's token can read but not start commands: start it from the dashboard's Run panel (${creds.serverUrl}/#/run)`,
      )
    if (res.status === 401) throw new RunError(refusedMessage(paths, creds.serverUrl))
    return { status: res.status, body: (await res.json()) as T }
  }
  const allowed = new Set(
    (options.allowTools ?? "")
      .split(",")
      .map((t) => t.trim())
      .filter((t) => t !== ""),
  )
  // Checked here so a typo is one sentence, not the server's schema error.
  if (options.permissionMode !== undefined && !PERMISSION_MODES.includes(options.permissionMode))
    throw new RunError(
      `--permission-mode ${options.permissionMode} is not a permission mode: use ${PERMISSION_MODES.join(", ")}`,
    )
  const created = await post<Api.CommandCreated | Api.CommandErrorResponse>("/commands", {
    machineId: options.machine ?? loadMachine(paths).machineId,
    projectDir: resolve(options.project),
    prompt,
    ...(options.resume ? { resumeSessionId: options.resume } : {}),
    ...(options.sandbox ? { where: "sandbox" } : {}),
    ...(options.permissionMode ? { permissionMode: options.permissionMode } : {}),
  })
  if ("error" in created.body)
    throw new RunError(`refused (${created.body.error.reason}): ${created.body.error.message}`)
  const { commandId } = created.body.command
  if (created.body.command.status === "queued") process.stderr.write(`command ${commandId} queued\n`)

  const ws = new WebSocket(`${creds.serverUrl.replace(/^http/, "ws")}/api/v1/live`, {
    headers: { ...headers, origin: creds.serverUrl },
  } as unknown as string[])
  let lastSeq = -1
  const answer = async (request: Extract<Commands.CommandEventBody, { kind: "permission-request" }>) => {
    let decision: "allow" | "deny" = allowed.has(request.toolName) ? "allow" : "deny"
    if (decision === "deny" && process.stdin.isTTY) {
      const rl = createInterface({ input: process.stdin, output: process.stderr })
      const reply = await rl.question(
        `Allow ${request.toolName}${request.description ? ` (${request.description})` : ""} ${JSON.stringify(request.input).slice(0, 200)}? [y/N] `,
      )
      rl.close()
      if (/^y(es)?$/i.test(reply.trim())) decision = "allow"
    }
    process.stderr.write(`${decision === "allow" ? "allowed" : "denied"} ${request.toolName}\n`)
    await post(`/commands/${commandId}/input`, {
      type: "permission",
      requestId: request.requestId,
      decision,
      ...(decision === "deny" ? { message: "not allowed from overlord run" } : {}),
    })
  }
  /**
   * Main-conversation text blocks being written, by message id: what of each is printed. A terminal
   * cannot take text back, so the complete message prints only the rest (`completeStreamed`).
   */
  const streamed = new Map<string, string>()
  const printPartials = (blocks: readonly Commands.PartialBlock[]) => {
    for (const b of blocks) {
      // Thinking is not printed, nor subagents' text (several at once would interleave).
      if (b.kind !== "text" || b.parentToolUseId !== undefined) continue
      const printed = streamed.get(b.messageId) ?? ""
      if (b.from > printed.length) continue
      const fresh = b.text.slice(printed.length - b.from)
      if (fresh === "") continue
      process.stdout.write(fresh)
      streamed.set(b.messageId, printed + fresh)
    }
  }
  /** The complete message of a streamed block: the rest of its text and the line's end. False if none. */
  const completeStreamed = (event: Commands.CommandEventBody): boolean => {
    if (event.kind !== "cli") return false
    const m = event.message as Record<string, unknown>
    if (m.type === "result" && streamed.size > 0) {
      // An interrupted block's text was printed, and no message completes it.
      process.stdout.write("\n")
      streamed.clear()
      return false
    }
    const message = m.type === "assistant" ? (m.message as { id?: unknown; content?: unknown } | undefined) : undefined
    const printed = typeof message?.id === "string" ? streamed.get(message.id) : undefined
    if (printed === undefined || typeof message?.id !== "string") return false
    streamed.delete(message.id)
    const content = Array.isArray(message.content) ? (message.content as Array<Record<string, unknown>>) : []
    const text = content.length === 1 && content[0]?.type === "text" ? String(content[0].text) : undefined
    if (text?.startsWith(printed)) {
      process.stdout.write(`${text.slice(printed.length)}\n`)
      return true
    }
    process.stdout.write("\n")
    return false
  }
  const print = (events: readonly Api.CommandEventDto[]) => {
    for (const e of events) {
      if (e.eventSeq <= lastSeq) continue
      lastSeq = e.eventSeq
      if (completeStreamed(e.event)) continue
      if (e.event.kind === "stderr") process.stderr.write(e.event.text)
      else if (e.event.kind === "patch")
        process.stderr.write(
          `the sandbox changed ${e.event.files.length} file(s); apply them here with: overlord sandboxes patch ${commandId} | git apply\n`,
        )
      else process.stdout.write(renderEvent(e.event))
      if (e.event.kind === "permission-request") void answer(e.event)
    }
  }
  // Ctrl-C cancels the command on the machine (a killed `overlord run` left Claude Code running there,
  // or waiting for ever on a permission prompt only it would answer); a second Ctrl-C leaves at once.
  let interrupts = 0
  const onInterrupt = () => {
    interrupts++
    if (interrupts > 1) process.exit(130)
    process.stderr.write(`cancelling ${commandId} (Ctrl-C again to leave it running)\n`)
    post(`/commands/${commandId}/input`, { type: "cancel" }).catch((e: unknown) =>
      process.stderr.write(`cannot cancel: ${e instanceof Error ? e.message : String(e)}\n`),
    )
  }
  process.on("SIGINT", onInterrupt)
  return await new Promise<number>((done, fail) => {
    let ended = false
    /** The command as stored now; when it has ended, the events not printed yet, its error, and the exit. */
    const finishIfEnded = async () => {
      // Events stored before the exit may still be on their way: read the rest, then end.
      const res = await fetch(`${creds.serverUrl}/api/v1/commands/${commandId}`, { headers })
      const detail = (await res.json()) as Api.CommandDetail
      if (ended || detail.command.endedAt === null) return
      ended = true
      print(detail.events)
      ws.close()
      const c = detail.command
      if (c.error) process.stderr.write(`${c.status}: ${c.error.message}\n`)
      else if (c.status !== "completed") process.stderr.write(`${c.status}\n`)
      done(c.exitCode ?? (c.status === "completed" ? 0 : 1))
    }
    ws.onerror = () => fail(new RunError(`cannot reach the live feed at ${creds.serverUrl}`))
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "watch-command", commandId, afterEventSeq: -1 } satisfies Live.WatchCommand))
      // The feed tells only of changes from now on: a command the daemon refused (an unknown project,
      // a mode it does not allow) or that ended before this socket opened is told by no message, and
      // the CLI waited for ever. Once watched, a later end arrives as a message.
      finishIfEnded().catch((e: unknown) => fail(e))
    }
    ws.onmessage = (message) => {
      const m = JSON.parse(String(message.data)) as Live.LiveMessage
      if (m.type === "command-events" && m.commandId === commandId) print(m.events)
      if (m.type === "command-partial" && m.commandId === commandId && !ended) printPartials(m.blocks)
      if (m.type === "command" && m.command.commandId === commandId && m.command.endedAt !== null)
        finishIfEnded().catch((e: unknown) => fail(e))
    }
  }).finally(() => process.off("SIGINT", onInterrupt))
}
