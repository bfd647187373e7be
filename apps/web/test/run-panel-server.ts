/**
 * A minimal command server for the Run panel's browser tests while the server's own command routes and
 * the daemon's socket wiring are not in this tree yet: it stands in front of the real `overlord start`
 * (its embedded server, dashboard, REST and live feed are passed through untouched) and serves the
 * published contract (`Api` commands routes, `Live` `watch-command` / `command` / `command-events`) over
 * the real store (`SqliteEngine`'s command store) and the daemon's real `CommandRunner`, in this
 * process, running the real CLI. Every request and message is checked with the protocol's schemas.
 */
import { randomUUID } from "node:crypto"
import { join } from "node:path"
import { Api, type Commands, Live } from "@overlord/protocol"
// apps/web depends on neither the store nor effect (the dashboard needs neither): a stand-in for the
// server reaches them through the packages that do.
import * as Schema from "../../../packages/protocol/node_modules/effect/dist/Schema.js"
import { SqliteEngine } from "../../../packages/store/src/sqlite/index.ts"
import type { MachineActor } from "../../../packages/store/src/store.ts"
import { CommandRunner, type RemoteConfig } from "../../overlord/src/remote/command-runner.ts"

export interface CommandServer {
  readonly url: string
  /** The runner's home (its audit log is `<home>/remote/audit.jsonl`). */
  readonly runnerHome: string
  stop(): Promise<void>
}

export interface CommandServerOptions {
  /** The real server (the daemon's embedded one) everything else goes to. */
  readonly upstream: string
  /** A bearer token of the upstream's user, to read its machines and projects. */
  readonly apiToken: string
  /** The machine whose daemon this stands in for. */
  readonly machineId: string
  readonly dir: string
  readonly claudePath: string
  readonly env: Readonly<Record<string, string | undefined>>
  readonly config?: Partial<RemoteConfig>
}

type Socket = import("bun").ServerWebSocket<{ cookie: string; up: WebSocket | null; queue: string[] }>

const decodeCreate = Schema.decodeUnknownExit(Api.CreateCommandRequest)
const decodeInput = Schema.decodeUnknownExit(Api.CommandInputRequest)
const decodeClient = Schema.decodeUnknownExit(Live.ClientMessageFromJson)

const refuse = (status: number, reason: Api.CommandErrorReason, message: string) =>
  Response.json(
    { error: { code: status === 404 ? "not_found" : status === 400 ? "bad_request" : "refused", reason, message } },
    { status },
  )

export async function startCommandServer(options: CommandServerOptions): Promise<CommandServer> {
  const engine = new SqliteEngine({ path: join(options.dir, "commands.db") })
  const actor = { userId: await engine.ensureUser("run-panel") }
  const opened = await engine.openMachine(actor, options.machineId, "run-panel machine")
  const machine: MachineActor = { userId: actor.userId, machineId: opened.machineId }
  const runnerHome = join(options.dir, "runner-home")
  const config: Partial<RemoteConfig> = { enabled: true, cancelGraceMs: 3000, ...options.config }
  const upstreamJson = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${options.upstream}/api/v1${path}`, {
      headers: { authorization: `Bearer ${options.apiToken}` },
    })
    return (await res.json()) as T
  }
  let projects = new Set<string>()
  const refreshProjects = async () => {
    const { projects: list } = await upstreamJson<{ projects: Api.Project[] }>("/projects")
    projects = new Set(list.flatMap((p) => (p.cwd ? [p.cwd] : [])))
  }
  await refreshProjects()

  const sockets = new Set<Socket>()
  const watches = new Map<Socket, Map<string, number>>()
  const broadcast = (m: Live.LiveMessage) => {
    const text = JSON.stringify(m)
    for (const ws of sockets) ws.send(text)
  }
  const pushEvents = async (commandId: string) => {
    for (const [ws, map] of watches) {
      const after = map.get(commandId)
      if (after === undefined) continue
      const events = (await engine.listCommandEvents(actor, commandId, after, 1000)) ?? []
      if (events.length === 0) continue
      map.set(commandId, events.at(-1)?.eventSeq ?? after)
      const m: Live.LiveMessage = { type: "command-events", commandId, events }
      ws.send(JSON.stringify(m))
    }
  }

  // What the daemon would send on its socket, stored and fanned out as the server does.
  let chain = Promise.resolve()
  const onDaemon = (m: Commands.CommandDaemonMessage) => {
    chain = chain.then(async () => {
      const at = new Date().toISOString()
      let changed: Api.CommandSummary | null = null
      if (m.type === "command-ack") changed = await engine.recordCommandAck(machine, m.commandId, at)
      else if (m.type === "command-event") {
        changed = (
          await engine.recordCommandEvents(machine, m.commandId, [{ eventSeq: m.eventSeq, event: m.event }], at)
        ).command
        await pushEvents(m.commandId)
      } else if (m.type === "command-exit") changed = await engine.recordCommandExit(machine, m, at)
      if (changed) broadcast({ type: "command", command: changed })
    })
  }
  const runner = CommandRunner.open({
    home: runnerHome,
    config,
    knownProjects: () => projects,
    send: onDaemon,
    claudePath: options.claudePath,
    env: options.env,
  })
  await engine.setMachineRemote(machine, {
    enabled: runner.config.enabled,
    maxConcurrent: runner.config.maxConcurrent,
    maxPromptBytes: runner.config.maxPromptBytes,
    sandbox: false,
  })

  const withAccepts = (m: Api.Machine): Api.Machine =>
    m.machineId === options.machineId ? { ...m, acceptsCommands: runner.config.enabled } : m

  const createCommand = async (body: unknown): Promise<Response> => {
    const exit = decodeCreate(body)
    if (exit._tag === "Failure") return refuse(400, "invalid-request", String(exit.cause))
    const req = exit.value
    const remote = await engine.getMachineRemote(actor, req.machineId)
    if (!remote) return refuse(404, "machine-not-found", `no machine ${req.machineId}`)
    if (!remote.remote?.enabled)
      return refuse(409, "remote-disabled", "This machine does not accept commands: overlord start --allow-remote")
    if (req.resumeSessionId) {
      const s = await fetch(`${options.upstream}/api/v1/sessions/${encodeURIComponent(req.resumeSessionId)}`, {
        headers: { authorization: `Bearer ${options.apiToken}` },
      })
      if (!s.ok) return refuse(404, "session-not-found", `no session ${req.resumeSessionId}`)
    }
    await refreshProjects()
    const commandId = `cmd-${randomUUID()}`
    const now = Date.now()
    const request: Commands.ClaudeCommand = {
      type: "command",
      commandId,
      kind: "claude",
      prompt: req.prompt,
      projectDir: req.projectDir,
      requestedBy: "run-panel",
      ...(req.resumeSessionId ? { resumeSessionId: req.resumeSessionId } : {}),
      ...(req.model ? { model: req.model } : {}),
      ...(req.permissionMode ? { permissionMode: req.permissionMode } : {}),
      ...(req.allowTools ? { allowTools: req.allowTools } : {}),
      ...(req.timeoutMs ? { timeoutMs: req.timeoutMs } : {}),
    }
    const command = await engine.createCommand(actor, req.machineId, {
      commandId,
      kind: "claude",
      where: req.where ?? "local",
      projectDir: req.projectDir,
      prompt: req.prompt,
      resumeSessionId: req.resumeSessionId ?? null,
      request,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + (req.expiresInMs ?? 3600_000)).toISOString(),
    })
    if (!command) return refuse(404, "machine-not-found", `no machine ${req.machineId}`)
    broadcast({ type: "command", command })
    void runner.accept(request)
    return Response.json({ command } satisfies Api.CommandCreated, { status: 201 })
  }

  const input = async (commandId: string, body: unknown): Promise<Response> => {
    const exit = decodeInput(body)
    if (exit._tag === "Failure") return refuse(400, "invalid-request", String(exit.cause))
    const command = await engine.getCommand(actor, commandId)
    if (!command) return refuse(404, "command-not-found", `no command ${commandId}`)
    if (command.status !== "delivered" && command.status !== "running")
      return refuse(409, "not-running", `the command is ${command.status}`)
    await runner.accept({ type: "command-input", commandId, input: Api.commandInputToWire(exit.value) })
    return Response.json({ command } satisfies Api.CommandCreated, { status: 202 })
  }

  const handleCommands = async (req: Request, url: URL): Promise<Response> => {
    const parts = url.pathname.split("/").filter(Boolean).slice(3)
    if (parts.length === 0 && req.method === "POST") return createCommand(await req.json().catch(() => null))
    if (parts.length === 0 && req.method === "GET") {
      const machineId = url.searchParams.get("machineId")
      const sessionId = url.searchParams.get("sessionId")
      const commands = await engine.listCommands(actor, {
        ...(machineId ? { machineUid: machineId } : {}),
        ...(sessionId ? { sessionId } : {}),
        limit: Number(url.searchParams.get("limit") ?? 50),
      })
      return Response.json({ commands } satisfies Api.CommandList)
    }
    const commandId = decodeURIComponent(parts[0] ?? "")
    if (parts.length === 1 && req.method === "GET") {
      const command = await engine.getCommand(actor, commandId)
      const events = await engine.listCommandEvents(actor, commandId, -1, 100_000)
      if (!command || !events) return refuse(404, "command-not-found", `no command ${commandId}`)
      return Response.json({ command, events } satisfies Api.CommandDetail)
    }
    if (parts.length === 2 && parts[1] === "input" && req.method === "POST")
      return input(commandId, await req.json().catch(() => null))
    return refuse(404, "invalid-request", `${req.method} ${url.pathname}`)
  }

  const upstreamWs = options.upstream.replace(/^http/, "ws")
  const server = Bun.serve<{ cookie: string; up: WebSocket | null; queue: string[] }>({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req, srv) {
      const url = new URL(req.url)
      if (url.pathname === "/api/v1/live") {
        const ok = srv.upgrade(req, { data: { cookie: req.headers.get("cookie") ?? "", up: null, queue: [] } })
        return ok ? undefined : new Response("upgrade failed", { status: 400 })
      }
      if (url.pathname.startsWith("/api/v1/commands")) {
        // Signed in as the upstream says: the same cookie or bearer token must read its machines.
        const auth = await fetch(`${options.upstream}/api/v1/machines`, {
          headers: {
            ...(req.headers.get("cookie") ? { cookie: req.headers.get("cookie") ?? "" } : {}),
            ...(req.headers.get("authorization") ? { authorization: req.headers.get("authorization") ?? "" } : {}),
          },
        })
        if (!auth.ok) return Response.json({ error: { code: "unauthorized", message: "sign in" } }, { status: 401 })
        return handleCommands(req, url)
      }
      const headers = new Headers(req.headers)
      headers.delete("host")
      if (headers.has("origin")) headers.set("origin", options.upstream)
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer()
      const res = await fetch(`${options.upstream}${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        redirect: "manual",
        ...(body ? { body } : {}),
      })
      if (url.pathname === "/api/v1/machines" && res.ok) {
        const { machines } = (await res.json()) as { machines: Api.Machine[] }
        return Response.json({ machines: machines.map(withAccepts) })
      }
      // fetch has decoded the body already; a redirect to the upstream comes back here.
      const out = new Headers(res.headers)
      out.delete("content-encoding")
      out.delete("content-length")
      const location = out.get("location")
      if (location?.startsWith(options.upstream)) out.set("location", location.slice(options.upstream.length) || "/")
      return new Response(res.body, { status: res.status, statusText: res.statusText, headers: out })
    },
    websocket: {
      open(ws) {
        sockets.add(ws)
        watches.set(ws, new Map())
        const up = new WebSocket(`${upstreamWs}/api/v1/live`, {
          headers: { cookie: ws.data.cookie, origin: options.upstream },
        } as unknown as string[])
        ws.data.up = up
        up.onopen = () => {
          for (const m of ws.data.queue.splice(0)) up.send(m)
        }
        up.onmessage = (e) => {
          const text = String(e.data)
          if (text.includes('"type":"health"')) {
            const m = JSON.parse(text) as Extract<Live.LiveMessage, { type: "health" }>
            ws.send(JSON.stringify({ ...m, machines: m.machines.map(withAccepts) }))
          } else ws.send(text)
        }
        up.onclose = () => ws.close()
      },
      message(ws, message) {
        const text = String(message)
        const exit = decodeClient(text)
        if (exit._tag === "Success" && exit.value.type === "watch-command") {
          watches.get(ws)?.set(exit.value.commandId, exit.value.afterEventSeq)
          void pushEvents(exit.value.commandId)
          return
        }
        const up = ws.data.up
        if (up && up.readyState === WebSocket.OPEN) up.send(text)
        else ws.data.queue.push(text)
      },
      close(ws) {
        sockets.delete(ws)
        watches.delete(ws)
        ws.data.up?.close()
      },
    },
  })

  return {
    url: `http://127.0.0.1:${server.port}`,
    runnerHome,
    stop: async () => {
      server.stop(true)
      await runner.close()
      await chain
      await engine.close()
    },
  }
}
