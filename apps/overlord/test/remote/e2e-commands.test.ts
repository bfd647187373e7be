/**
 * Remote commands end to end: the real daemon (bundle, `overlord start --allow-remote`) with its real
 * embedded server, and the real Claude Code CLI against the scripted fake Anthropic API. A command
 * POSTed to the API reaches the daemon over the sync socket, its events stream back over the live
 * socket in order, a permission prompt is answered over the API, and the session it produced syncs
 * and is linked to the command. A project the daemon does not know is refused by the daemon.
 */
import { spawn } from "node:child_process"
import { readFile, rm } from "node:fs/promises"
import { join } from "node:path"
import type { Api, Live } from "@overlord/protocol"
import type { ClaudeHome } from "@overlord/testkit/claude-cli"
import { OVERLORD_BIN, type OverlordCredentials, type OverlordProcess } from "@overlord/testkit/overlord-process"
import {
  type BearerApi,
  openLiveSocket,
  type RemoteCommandRig,
  remoteDaemonReady,
  startRemoteCommandRig,
} from "@overlord/testkit/remote-commands"
import { permissionWrite, REMOTE_FILE, REMOTE_FILE_CONTENT, repeated } from "@overlord/testkit/scenarios"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

describe("remote commands through the real daemon and server", () => {
  let rig: RemoteCommandRig | undefined
  let claude: ClaudeHome
  let daemon: OverlordProcess
  let creds: OverlordCredentials
  let machineId: string
  let firstSessionId: string | null = null

  let api: BearerApi

  beforeAll(async () => {
    // The scenario played four times (the API's command, the denied one and `overlord run`'s run the CLI);
    // a session of this project already synced (the daemon learns the project from its lines' cwd); the
    // daemon's commands run with its environment: the CLI the test kit runs, against the fake API.
    rig = await startRemoteCommandRig(
      "overlord-remote-e2e-",
      repeated(permissionWrite, 4),
      "00000000-0000-4000-8000-000000000001",
    )
    claude = rig.claude
    daemon = rig.startDaemon()
    const ready = await remoteDaemonReady<Api.Machine>(daemon, rig.home, [claude.projectDir])
    creds = ready
    api = ready.api
    machineId = ready.machine.machineId
  }, 120_000)

  afterAll(() => rig?.cleanup())

  it("runs a command: events stream in order, the permission prompt is answered over the API, the session syncs linked", async () => {
    const created = await api<Api.CommandCreated>("/commands", {
      machineId,
      projectDir: claude.projectDir,
      prompt: "Write remote.txt.",
      // The test kit's Claude settings skip prompts; `default` asks before the Write.
      permissionMode: "default",
    })
    expect(created.status).toBe(201)
    const { commandId } = created.body.command

    // The dashboard's live socket, watching from the first event.
    const live: Live.LiveMessage[] = []
    const ws = await openLiveSocket(creds.serverUrl, creds.apiToken, live)
    ws.send(JSON.stringify({ type: "watch-command", commandId, afterEventSeq: -1 } satisfies Live.WatchCommand))
    const events = () => live.flatMap((m) => (m.type === "command-events" ? m.events : []))

    const request = await waitFor(
      "the permission request",
      () => events().find((e) => e.event.kind === "permission-request") ?? null,
      20_000,
    ).catch(async (error: unknown) => {
      const detail = (await api<Api.CommandDetail>(`/commands/${commandId}`)).body
      throw new Error(
        `${String(error)}; live: ${JSON.stringify(live).slice(0, 1500)}; command: ${JSON.stringify(detail).slice(0, 3000)}; daemon: ${daemon.output().slice(-1500)}`,
      )
    })
    if (request.event.kind !== "permission-request") throw new Error("unreachable")
    expect(request.event.toolName).toBe("Write")
    const answered = await api(`/commands/${commandId}/input`, {
      type: "permission",
      requestId: request.event.requestId,
      decision: "allow",
    })
    expect(answered.status).toBe(202)

    const done = await waitFor(
      "the command's end",
      async () => {
        const c = (await api<Api.CommandDetail>(`/commands/${commandId}`)).body.command
        return c.endedAt !== null ? c : null
      },
      60_000,
    )
    expect(done).toMatchObject({ status: "completed", exitCode: 0 })
    expect(await readFile(join(claude.projectDir, REMOTE_FILE), "utf8")).toBe(REMOTE_FILE_CONTENT)
    // Events arrived over the live socket in order, without gaps or repeats.
    await waitFor("every event live", async () => {
      const stored = (await api<Api.CommandDetail>(`/commands/${commandId}`)).body.events.length
      return events().length === stored ? true : null
    })
    expect(events().map((e) => e.eventSeq)).toEqual(events().map((_, i) => i))
    ws.close()

    // The session it produced syncs like any other and is linked both ways.
    const sessionId = done.sessionId
    expect(sessionId).toBeTruthy()
    await waitFor(
      "the command's session to sync",
      async () => {
        const res = await fetch(`${creds.serverUrl}/api/v1/sessions/${sessionId}`, {
          headers: { authorization: `Bearer ${creds.apiToken}` },
        })
        return res.ok ? true : null
      },
      30_000,
    )
    const linked = (await api<Api.CommandList>(`/commands?sessionId=${sessionId}`)).body.commands
    expect(linked.map((c) => c.commandId)).toEqual([commandId])
    firstSessionId = sessionId
  }, 120_000)

  it("resumes the session: the same transcript continues, and both commands are linked to it", async () => {
    const entriesOf = async () =>
      (await api<Api.EntryPage>(`/sessions/${firstSessionId}/entries?limit=1000`)).body.entries.length
    const before = await entriesOf()
    const created = await api<Api.CommandCreated>("/commands", {
      machineId,
      projectDir: claude.projectDir,
      prompt: "Write remote.txt.",
      resumeSessionId: firstSessionId!,
      permissionMode: "acceptEdits",
    })
    expect(created.status).toBe(201)
    const { commandId } = created.body.command
    const done = await waitFor("the end", async () => {
      const c = (await api<Api.CommandDetail>(`/commands/${commandId}`)).body.command
      return c.endedAt !== null ? c : null
    })
    expect(done).toMatchObject({ status: "completed", sessionId: firstSessionId })
    await waitFor("the continued transcript to sync", async () => ((await entriesOf()) > before ? true : null), 30_000)
    const linked = (await api<Api.CommandList>(`/commands?sessionId=${firstSessionId}`)).body.commands
    expect(linked.map((c) => c.commandId)).toContain(commandId)
    expect(linked).toHaveLength(2)
  }, 120_000)

  it("a permission denied over the API does not run the tool", async () => {
    await rm(join(claude.projectDir, REMOTE_FILE), { force: true })
    const created = await api<Api.CommandCreated>("/commands", {
      machineId,
      projectDir: claude.projectDir,
      prompt: "Write remote.txt.",
      permissionMode: "default",
    })
    const { commandId } = created.body.command
    const request = await waitFor("the permission request", async () => {
      const { events } = (await api<Api.CommandDetail>(`/commands/${commandId}`)).body
      return events.find((e) => e.event.kind === "permission-request") ?? null
    })
    if (request.event.kind !== "permission-request") throw new Error("unreachable")
    const denied = await api(`/commands/${commandId}/input`, {
      type: "permission",
      requestId: request.event.requestId,
      decision: "deny",
      message: "not now",
    })
    expect(denied.status).toBe(202)
    const done = await waitFor("the end", async () => {
      const c = (await api<Api.CommandDetail>(`/commands/${commandId}`)).body.command
      return c.endedAt !== null ? c : null
    })
    expect(done.status).toBe("completed")
    await expect(readFile(join(claude.projectDir, REMOTE_FILE), "utf8")).rejects.toThrow()
  }, 60_000)

  it("ends a command in a project the daemon does not know as refused, with the daemon's reason", async () => {
    const created = await api<Api.CommandCreated>("/commands", { machineId, projectDir: "/usr", prompt: "hi" })
    expect(created.status).toBe(201)
    const done = await waitFor(
      "the refusal",
      async () => {
        const c = (await api<Api.CommandDetail>(`/commands/${created.body.command.commandId}`)).body.command
        return c.status === "refused" ? c : null
      },
      30_000,
    )
    expect(done.error?.reason).toBe("unknown-project")
  }, 60_000)

  it("overlord run streams the output readably, answers the prompt with --allow-tools and exits with the command's code", async () => {
    const child = spawn(
      "bun",
      [
        OVERLORD_BIN,
        "--home",
        rig!.home,
        "run",
        "--project",
        claude.projectDir,
        "--allow-tools",
        "Write",
        "--permission-mode",
        "default",
        "Write remote.txt.",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    )
    let out = ""
    let err = ""
    child.stdout.on("data", (d) => {
      out += String(d)
    })
    child.stderr.on("data", (d) => {
      err += String(d)
    })
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve))
    expect(code, `${out}\n${err}`).toBe(0)
    expect(out).toMatch(/^session [0-9a-f-]+$/m)
    expect(out).toContain("Writing the file.")
    expect(out).toContain("⏺ Write(")
    expect(out).not.toContain('"type":"assistant"')
    // The Write asked for permission and `--allow-tools` answered it.
    expect(err).toContain("allowed Write")
    const latest = (await api<Api.CommandList>("/commands?limit=1")).body.commands[0]
    expect(latest).toMatchObject({ status: "completed", exitCode: 0, prompt: "Write remote.txt." })
  }, 120_000)
})
