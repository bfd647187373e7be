/**
 * `/api/v1/commands`: ask one of the user's machines to run Claude Code, follow it, answer it.
 * Every query is scoped to the signed-in user; another user's machine or command is simply not found.
 * What the server can tell at once is refused at once with its typed reason (`Api.CommandErrorReason`);
 * what only the daemon can tell (a project it does not know, a symlink out) ends the command
 * `refused` with the daemon's reason.
 */
import { Api, Commands } from "@overlord/protocol"
import { type Actor, isRetryable, isStoreError, type Interface as StoreApi } from "@overlord/store"
import { Effect, Schema } from "effect"
import type { CommandRelay } from "./command-relay.ts"
import { apiError, logRequestFailure } from "./http-api.ts"

/** How long a command waits for an offline machine by default. */
export const DEFAULT_EXPIRY_MS = 3600_000
/** Request bodies larger than this are refused before parsing (a prompt is at most 1 MiB). */
const MAX_BODY_BYTES = 2 * 1024 * 1024

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8" } })

const refusal = (status: number, code: string, reason: Api.CommandErrorReason, message: string) =>
  json({ error: { code, reason, message } } satisfies Api.CommandErrorResponse, status)

const decodeCreate = Schema.decodeUnknownExit(Api.CreateCommandRequest)
const decodeInput = Schema.decodeUnknownExit(Api.CommandInputRequest)
const COMMAND_ID = /^[A-Za-z0-9._:-]{1,128}$/
const SESSION_ID = /^[A-Za-z0-9-]{1,128}$/

const run = <A>(e: Effect.Effect<A, unknown>) => Effect.runPromise(e)

async function body(req: Request): Promise<unknown> {
  // Bun fails the read of a body past `maxRequestBodySize` (`http-server.ts`) and answers 413 itself.
  const text = await req.text().catch(() => {
    throw new BadBody("the request body is too large or was cut off")
  })
  if (text.length > MAX_BODY_BYTES) throw new BadBody("the request body is too large")
  try {
    return JSON.parse(text)
  } catch {
    throw new BadBody("the request body is not JSON")
  }
}
class BadBody extends Error {}

export async function handleCommands(
  store: StoreApi,
  relay: CommandRelay,
  actor: Actor,
  req: Request,
  url: URL,
): Promise<Response> {
  const path = url.pathname.slice("/api/v1/commands".length)
  try {
    if (path === "" || path === "/") {
      if (req.method === "POST") return await create(store, relay, actor, await body(req))
      if (req.method !== "GET") return apiError(405, "method_not_allowed", "GET or POST")
      await relay.expire()
      const machineUid = url.searchParams.get("machineId") || undefined
      const sessionId = url.searchParams.get("sessionId") || undefined
      const limitText = url.searchParams.get("limit")
      const limit = limitText ? Number(limitText) : undefined
      if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1))
        return refusal(400, "bad_request", "invalid-request", "limit must be a positive integer")
      if ((machineUid?.length ?? 0) > 128 || (sessionId?.length ?? 0) > 128)
        return refusal(400, "bad_request", "invalid-request", "machineId and sessionId are at most 128 characters")
      const commands = await run(
        store.listCommands(actor, {
          ...(machineUid ? { machineUid } : {}),
          ...(sessionId ? { sessionId } : {}),
          ...(limit !== undefined ? { limit } : {}),
        }),
      )
      return json({ commands } satisfies Api.CommandList)
    }
    const match = /^\/([^/]+)(\/input|\/patch)?$/.exec(path)
    const commandId = match ? decodeURIComponent(match[1]!) : ""
    if (!match || !COMMAND_ID.test(commandId)) return refusal(404, "not_found", "command-not-found", "no such command")
    if (match[2] === "/input") {
      if (req.method !== "POST") return apiError(405, "method_not_allowed", "POST the input")
      return await input(store, relay, actor, commandId, await body(req))
    }
    if (match[2] === "/patch") {
      if (req.method !== "GET") return apiError(405, "method_not_allowed", "GET the patch")
      return await patch(store, actor, commandId)
    }
    if (req.method !== "GET") return apiError(405, "method_not_allowed", "GET a command")
    await relay.expire()
    const command = await run(store.getCommand(actor, commandId))
    if (!command) return refusal(404, "not_found", "command-not-found", "no such command")
    const events = (await run(store.listCommandEvents(actor, commandId, -1, 10_000))) ?? []
    return json({ command, events } satisfies Api.CommandDetail)
  } catch (error) {
    if (error instanceof BadBody) return refusal(400, "bad_request", "invalid-request", error.message)
    if (error instanceof URIError) return refusal(400, "bad_request", "invalid-request", "malformed %-escape")
    logRequestFailure(req, error)
    if (isStoreError(error) && isRetryable(error))
      return apiError(503, "unavailable", "the store is unavailable; retry later")
    return apiError(500, "internal", "internal server error; the server's log has the details")
  }
}

/**
 * `GET /commands/{id}/patch`: what a sandbox command changed in the project, as the binary git patch
 * its `patch` event carries (`git apply` it in the project). 404 when it has none: not a sandbox
 * command, still running, nothing changed, or too large to travel (then it is only on the laptop, at
 * the event's `savedAs`).
 */
async function patch(store: StoreApi, actor: Actor, commandId: string): Promise<Response> {
  const command = await run(store.getCommand(actor, commandId))
  if (!command) return refusal(404, "not_found", "command-not-found", "no such command")
  const events = (await run(store.listCommandEvents(actor, commandId, -1, 10_000))) ?? []
  const last = events.findLast((e) => e.event.kind === "patch")?.event
  if (last?.kind !== "patch") return apiError(404, "not_found", "this command has no patch (no sandbox changes)")
  if (last.base64 === undefined)
    return apiError(
      404,
      "not_found",
      `the patch has ${last.bytes} bytes, too large to send; it is on the machine at ${last.savedAs ?? "its overlord home"}`,
    )
  return new Response(Buffer.from(last.base64, "base64"), {
    headers: {
      "content-type": "text/x-diff; charset=utf-8",
      "content-disposition": `attachment; filename="${commandId}.patch"`,
    },
  })
}

async function create(store: StoreApi, relay: CommandRelay, actor: Actor, raw: unknown): Promise<Response> {
  const decoded = decodeCreate(raw)
  if (decoded._tag === "Failure")
    return refusal(400, "bad_request", "invalid-request", `invalid command: ${String(decoded.cause)}`)
  const ask = decoded.value
  const machine = await run(store.getMachineRemote(actor, ask.machineId))
  // Another user's machine answers exactly as a machine that does not exist.
  if (!machine) return refusal(404, "not_found", "machine-not-found", "no such machine")
  if (ask.projectDir.split("/").includes(".."))
    return refusal(400, "refused", "path-escape", `${ask.projectDir}: only absolute paths without '..' are accepted`)
  if (ask.resumeSessionId !== undefined && !SESSION_ID.test(ask.resumeSessionId))
    return refusal(400, "bad_request", "invalid-request", "resumeSessionId is not a session id")
  const remote = machine.remote
  if (!remote?.enabled)
    return refusal(
      409,
      "refused",
      "remote-disabled",
      'this machine does not accept remote commands: restart its daemon with `overlord stop && overlord start --allow-remote` (or set "enabled": true in its ~/.overlord/remote/config.json, then restart it)',
    )
  const where = ask.where ?? "local"
  if (where === "sandbox" && !remote.sandbox) {
    // A daytona.json the daemon could not use: its reason (`remote.sandboxesOff`), not "no settings".
    const problem = Commands.sandboxesOffReason(remote, machine.lastError)
    return refusal(
      409,
      "refused",
      "sandbox-unavailable",
      problem
        ? `this machine's daemon runs no sandboxes, its Daytona settings are unusable: ${problem}`
        : // The same sentence as the daemon's own refusal (command-runner.ts): where the settings go.
          'this machine\'s daemon has no Daytona settings: put "apiKey" and "anthropicApiKey" in its ~/.overlord/daytona.json (or set DAYTONA_API_KEY and ANTHROPIC_API_KEY), then restart the daemon',
    )
  }
  // Only where the daemon said it does not allow it (one before that said nothing: it decides itself).
  if (ask.permissionMode === "bypassPermissions" && remote.bypassPermissions === false)
    return refusal(
      409,
      "refused",
      "permission-mode-not-allowed",
      'bypassPermissions is not allowed for remote commands on this machine: set "allowBypassPermissions": true in its ~/.overlord/remote/config.json, then restart its daemon',
    )
  const promptBytes = Buffer.byteLength(ask.prompt, "utf8")
  if (promptBytes > remote.maxPromptBytes)
    return refusal(
      413,
      "refused",
      "prompt-too-long",
      `the prompt has ${promptBytes} bytes; this machine accepts at most ${remote.maxPromptBytes}`,
    )
  const active = await run(store.countActiveCommands(actor, ask.machineId))
  if (active >= remote.maxConcurrent)
    return refusal(
      429,
      "refused",
      "concurrency-limit",
      `${active} commands are running on this machine; it allows ${remote.maxConcurrent} at once`,
    )
  if (ask.resumeSessionId !== undefined && !(await run(store.getSession(actor, ask.resumeSessionId))))
    return refusal(404, "not_found", "session-not-found", "no such session to resume")
  const commandId = crypto.randomUUID()
  const request: Commands.ClaudeCommand = {
    type: "command",
    commandId,
    kind: "claude",
    prompt: ask.prompt,
    projectDir: ask.projectDir,
    requestedBy: `user:${actor.userId}`,
    ...(ask.resumeSessionId !== undefined ? { resumeSessionId: ask.resumeSessionId } : {}),
    ...(ask.model !== undefined ? { model: ask.model } : {}),
    ...(ask.permissionMode !== undefined ? { permissionMode: ask.permissionMode } : {}),
    ...(ask.allowTools !== undefined ? { allowTools: ask.allowTools } : {}),
    ...(ask.timeoutMs !== undefined ? { timeoutMs: ask.timeoutMs } : {}),
    ...(where === "sandbox" ? { where } : {}),
  }
  const now = Date.now()
  const command = await run(
    store.createCommand(actor, ask.machineId, {
      commandId,
      kind: "claude",
      where,
      projectDir: ask.projectDir,
      prompt: ask.prompt,
      resumeSessionId: ask.resumeSessionId ?? null,
      request,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + (ask.expiresInMs ?? DEFAULT_EXPIRY_MS)).toISOString(),
    }),
  )
  if (!command) return refusal(404, "not_found", "machine-not-found", "no such machine")
  relay.commandChanged(actor.userId, command)
  // Offline: it stays `queued` (visibly) and goes out at the daemon's next hello, unless it expires first.
  relay.sendTo(actor.userId, ask.machineId, request)
  return json({ command } satisfies Api.CommandCreated, 201)
}

async function input(
  store: StoreApi,
  relay: CommandRelay,
  actor: Actor,
  commandId: string,
  raw: unknown,
): Promise<Response> {
  const decoded = decodeInput(raw)
  if (decoded._tag === "Failure")
    return refusal(400, "bad_request", "invalid-request", `invalid input: ${String(decoded.cause)}`)
  const command = await run(store.getCommand(actor, commandId))
  if (!command) return refusal(404, "not_found", "command-not-found", "no such command")
  const msg = decoded.value
  if (msg.type === "cancel" && command.status === "queued") {
    // Never acknowledged: it is simply not delivered any more.
    const cancelled = await run(store.cancelQueuedCommand(actor, commandId, new Date().toISOString()))
    if (cancelled) {
      relay.commandChanged(actor.userId, cancelled)
      return json({ command: cancelled } satisfies Api.CommandCreated, 202)
    }
  }
  if (command.status !== "delivered" && command.status !== "running")
    return refusal(409, "refused", "not-running", `the command is ${command.status}`)
  const wire = Api.commandInputToWire(msg)
  if (!relay.sendTo(actor.userId, command.machineId, { type: "command-input", commandId, input: wire }))
    return refusal(409, "refused", "not-running", "the machine running this command is not connected")
  return json({ command } satisfies Api.CommandCreated, 202)
}
