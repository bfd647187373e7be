/**
 * `/api/v1/commands` over the real app and a real SQLite store, with the daemon's side of the sync
 * socket played by hand (the protocol messages a daemon sends), and a live socket stand-in: refusals
 * and their reasons, queueing while offline, delivery exactly at hello, expiry, events in order to the
 * dashboards, the session link, input routed to the daemon.
 */
import type { Api, Commands, Live } from "@overlord/protocol"
import { Sync } from "@overlord/protocol"
import { fromEngine, type Interface as StoreApi } from "@overlord/store"
import { SqliteEngine } from "@overlord/store/sqlite"
import { Effect } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { makeApp } from "../src/app.ts"
import { accessPolicy } from "../src/auth.ts"
import { openSyncConnection, SyncPresence } from "../src/sync-socket.ts"

const PORT = 47_124
const ORIGIN = `http://127.0.0.1:${PORT}`
const REMOTE: Sync.RemoteCapabilities = { enabled: true, maxConcurrent: 1, maxPromptBytes: 1000, sandbox: false }
const until = async (check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting")
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe("commands API", () => {
  let store: StoreApi
  let app: ReturnType<typeof makeApp>
  let userId: number
  let apiToken: string
  const closers: (() => void)[] = []

  beforeEach(async () => {
    store = fromEngine(new SqliteEngine({ path: ":memory:" }))
    userId = await Effect.runPromise(store.ensureUser("alice"))
    apiToken = await Effect.runPromise(store.issueToken({ userId, kind: "api" }))
    app = makeApp({ store, policy: accessPolicy("127.0.0.1", PORT), webDir: "/nonexistent-web-dir" })
  })
  afterEach(() => {
    for (const c of closers.splice(0)) c()
    app.commands.close()
  })

  const call = async (path: string, init: { method?: string; body?: unknown; token?: string } = {}) => {
    const headers = new Headers({ host: `127.0.0.1:${PORT}`, authorization: `Bearer ${init.token ?? apiToken}` })
    if (init.body !== undefined) headers.set("content-type", "application/json")
    const res = await app.fetch(
      new Request(`${ORIGIN}/api/v1${path}`, {
        method: init.method ?? (init.body !== undefined ? "POST" : "GET"),
        headers,
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      }),
    )
    if (!res) throw new Error("no response")
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }

  /** A daemon's side of the sync socket: what it receives, and a way to send. */
  const daemon = async (machineUid: string, remote?: Sync.RemoteCapabilities, owner = userId) => {
    const token = await Effect.runPromise(store.issueToken({ userId: owner, kind: "machine", machineUid }))
    const got: (Sync.ServerMessage | Commands.CommandServerMessage)[] = []
    const conn = openSyncConnection(
      { send: (d) => got.push(JSON.parse(d)), close: () => undefined },
      store,
      app.hub,
      new SyncPresence(),
      app.commands,
    )
    closers.push(() => conn.onClose())
    const send = (m: unknown) => conn.onMessage(JSON.stringify(m))
    send({
      type: "hello",
      protocolVersion: Sync.PROTOCOL_VERSION,
      daemonVersion: "test",
      machineId: machineUid,
      machineName: machineUid,
      token,
      ...(remote ? { remote } : {}),
    })
    await until(() => got.some((m) => m.type === "welcome"))
    const commands = () => got.filter((m): m is Commands.Command => m.type === "command")
    return { got, send, commands, close: () => conn.onClose() }
  }

  const ask = (over: Partial<Api.CreateCommandRequest> = {}) =>
    call("/commands", { body: { machineId: "laptop", projectDir: "/home/dev/proj", prompt: "say hi", ...over } })

  it("refuses with a typed reason what the server can tell at once", async () => {
    const off = await daemon("laptop")
    expect((await ask()).body).toMatchObject({ error: { code: "refused", reason: "remote-disabled" } })
    off.close()
    await daemon("laptop", REMOTE)
    expect((await ask()).status).toBe(201)
    const bad = await ask({ projectDir: "/home/dev/proj/../../etc" })
    expect([bad.status, (bad.body.error as { reason: string }).reason]).toEqual([400, "path-escape"])
    const long = await ask({ prompt: "x".repeat(1001) })
    expect([long.status, (long.body.error as { reason: string }).reason]).toEqual([413, "prompt-too-long"])
    const invalid = await ask({ projectDir: "relative/dir" })
    expect([invalid.status, (invalid.body.error as { reason: string }).reason]).toEqual([400, "invalid-request"])
    // A daemon that said it does not allow bypassPermissions: refused here, before it is queued.
    const strict = await daemon("strict", { ...REMOTE, bypassPermissions: false })
    const bypass = await ask({ machineId: "strict", permissionMode: "bypassPermissions" })
    expect([bypass.status, (bypass.body.error as { reason: string; message: string }).reason]).toEqual([
      409,
      "permission-mode-not-allowed",
    ])
    expect((bypass.body.error as { message: string }).message).toContain('"allowBypassPermissions": true')
    strict.close()
    // One command allowed at once: the first, acknowledged, holds the slot.
    const first = (await call("/commands")).body.commands as Api.CommandSummary[]
    await Effect.runPromise(store.listCommands({ userId }, {}))
    const d = await daemon("laptop", REMOTE)
    d.send({ type: "command-ack", commandId: first[0]!.commandId })
    await until(() => true)
    await new Promise((r) => setTimeout(r, 50))
    const busy = await ask()
    expect([busy.status, (busy.body.error as { reason: string }).reason]).toEqual([429, "concurrency-limit"])
  })

  it("answers another user's machine exactly as a machine that does not exist", async () => {
    const bob = await Effect.runPromise(store.ensureUser("bob"))
    await daemon("bobs-laptop", REMOTE, bob)
    const theirs = await ask({ machineId: "bobs-laptop" })
    const none = await ask({ machineId: "no-such-machine" })
    expect(theirs).toEqual(none)
    expect(theirs.status).toBe(404)
    expect((theirs.body.error as { reason: string }).reason).toBe("machine-not-found")
    // Nor are their commands visible.
    const bobToken = await Effect.runPromise(store.issueToken({ userId: bob, kind: "api" }))
    await daemon("laptop", REMOTE)
    const mine = (await ask()).body.command as Api.CommandSummary
    expect((await call(`/commands/${mine.commandId}`, { token: bobToken })).status).toBe(404)
    expect((await call("/commands", { token: bobToken })).body.commands).toEqual([])
  })

  it("queues while the daemon is offline, delivers once at its hello, streams events in order and links the session", async () => {
    const first = await daemon("laptop", REMOTE)
    first.close()
    await new Promise((r) => setTimeout(r, 20))
    const created = await ask()
    expect(created.status).toBe(201)
    const command = created.body.command as Api.CommandSummary
    expect(command.status).toBe("queued")

    // A dashboard watching the command before anything happened.
    const live: Live.LiveMessage[] = []
    const liveSocket = { send: (d: string) => live.push(JSON.parse(d)) }
    app.hub.add(liveSocket, { userId })
    app.commands.watch(
      liveSocket,
      { userId },
      { type: "watch-command", commandId: command.commandId, afterEventSeq: -1 },
    )

    const d = await daemon("laptop", REMOTE)
    await until(() => d.commands().length === 1)
    expect(d.commands()[0]).toMatchObject({ commandId: command.commandId, prompt: "say hi", kind: "claude" })
    d.send({ type: "command-ack", commandId: command.commandId })
    const cli = (eventSeq: number, message: Record<string, unknown>) =>
      d.send({ type: "command-event", commandId: command.commandId, eventSeq, event: { kind: "cli", message } })
    cli(0, { type: "system", subtype: "init", session_id: "sess-42" })
    cli(1, { type: "assistant", session_id: "sess-42", message: { content: [{ type: "text", text: "hi" }] } })
    d.send({ type: "command-event", commandId: command.commandId, eventSeq: 1, event: { kind: "stderr", text: "dup" } })
    cli(2, { type: "result", session_id: "sess-42", total_cost_usd: 0.5 })
    d.send({
      type: "command-exit",
      commandId: command.commandId,
      status: "completed",
      exitCode: 0,
      sessionId: "sess-42",
    })
    await until(() => live.some((m) => m.type === "command" && m.command.status === "completed"))
    await until(
      () => live.flatMap((m) => (m.type === "command-events" ? m.events.map((e) => e.eventSeq) : [])).length === 3,
    )
    expect(live.flatMap((m) => (m.type === "command-events" ? m.events.map((e) => e.eventSeq) : []))).toEqual([0, 1, 2])
    const statuses = live.flatMap((m) => (m.type === "command" ? [m.command.status] : []))
    // "running" twice: the result event changed its cost.
    expect(statuses).toEqual(["delivered", "running", "running", "completed"])

    const detail = (await call(`/commands/${command.commandId}`)).body as unknown as Api.CommandDetail
    expect(detail.command).toMatchObject({ status: "completed", exitCode: 0, sessionId: "sess-42", costUsd: 0.5 })
    expect(detail.events.map((e) => e.event.kind)).toEqual(["cli", "cli", "cli"])
    const bySession = (await call("/commands?sessionId=sess-42")).body.commands as Api.CommandSummary[]
    expect(bySession.map((c) => c.commandId)).toEqual([command.commandId])

    // Reconnecting redelivers nothing: it was acknowledged.
    const again = await daemon("laptop", REMOTE)
    await new Promise((r) => setTimeout(r, 50))
    expect(again.commands()).toEqual([])
  })

  it("redelivers an unacknowledged command at the next hello; an expired one is never sent", async () => {
    const d = await daemon("laptop", { ...REMOTE, maxConcurrent: 5 })
    const sent = (await ask()).body.command as Api.CommandSummary
    await until(() => d.commands().length === 1)
    d.close()
    await new Promise((r) => setTimeout(r, 20))
    const expiring = (await ask({ expiresInMs: 30 })).body.command as Api.CommandSummary
    await new Promise((r) => setTimeout(r, 60))
    expect(((await call(`/commands/${expiring.commandId}`)).body.command as Api.CommandSummary).status).toBe("expired")
    const back = await daemon("laptop", { ...REMOTE, maxConcurrent: 5 })
    await until(() => back.commands().length === 1)
    await new Promise((r) => setTimeout(r, 50))
    expect(back.commands().map((c) => c.commandId)).toEqual([sent.commandId])
    const expired = (await call(`/commands/${expiring.commandId}`)).body.command as Api.CommandSummary
    expect(expired.error?.reason).toBe("expired")
  })

  it("routes input to the running command's daemon; cancels a queued one itself", async () => {
    const d = await daemon("laptop", { ...REMOTE, maxConcurrent: 5 })
    const c = (await ask()).body.command as Api.CommandSummary
    await until(() => d.commands().length === 1)
    expect(
      (await call(`/commands/${c.commandId}/input`, { body: { type: "message", text: "more" } })).body,
    ).toMatchObject({
      error: { reason: "not-running" },
    })
    d.send({ type: "command-ack", commandId: c.commandId })
    await new Promise((r) => setTimeout(r, 30))
    const answer = await call(`/commands/${c.commandId}/input`, {
      body: { type: "permission", requestId: "r1", decision: "deny", message: "no" },
    })
    expect(answer.status).toBe(202)
    expect(d.got.filter((m) => m.type === "command-input")).toEqual([
      {
        type: "command-input",
        commandId: c.commandId,
        input: { kind: "permission", requestId: "r1", decision: "deny", message: "no" },
      },
    ])
    d.close()
    const queued = (await ask({ prompt: "later" })).body.command as Api.CommandSummary
    const cancelled = await call(`/commands/${queued.commandId}/input`, { body: { type: "cancel" } })
    expect((cancelled.body.command as Api.CommandSummary).status).toBe("cancelled")
  })
})

describe("commands in the OpenAPI document", () => {
  it("lists the four command routes with their request and error schemas", async () => {
    const { openApiDocument } = await import("../src/openapi.ts")
    const paths = (
      openApiDocument() as {
        paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>>
      }
    ).paths
    expect(Object.keys(paths["/api/v1/commands"] ?? {}).sort()).toEqual(["get", "post"])
    expect(paths["/api/v1/commands"]?.post?.requestBody).toBeDefined()
    expect(paths["/api/v1/commands"]?.post?.responses["4XX"]).toBeDefined()
    expect(Object.keys(paths["/api/v1/commands/{commandId}"] ?? {})).toEqual(["get"])
    expect(paths["/api/v1/commands/{commandId}/input"]?.post?.requestBody).toBeDefined()
  })
})
