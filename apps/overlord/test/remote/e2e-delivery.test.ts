/**
 * Delivery of remote commands through a standalone server, end to end with everything real: `overlord
 * serve` (the suite's MariaDB when the CLI takes `--database-url`, else SQLite), a laptop paired with a
 * pairing key (`overlord login <url> --key`), `overlord start --allow-remote` against it, and the real
 * Claude Code CLI against the scripted fake Anthropic API. One server and one laptop for the file; the
 * tests run in order; the fake's conversation requests count the CLI runs (one each here).
 *
 * - with the daemon stopped, a command is `queued` and runs exactly once when the daemon returns (and
 *   not again after a further restart);
 * - a command whose expiry passes while the daemon is away is `expired` and never runs;
 * - a daemon SIGKILLed mid-command shows it `interrupted` after the restart, and it is not run again.
 */
import { readdir, readFile, readlink } from "node:fs/promises"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import { type ClaudeHome, makeClaudeHome } from "@overlord/testkit/claude-cli"
import { type FakeAnthropic, startFakeAnthropic } from "@overlord/testkit/fake-anthropic"
import {
  daemonKnowsProjects,
  pairedMachineId,
  remoteClaudeEnv,
  startPairedDaemon,
} from "@overlord/testkit/remote-commands"
import {
  type CliProcess,
  pairWithKey,
  type ServerAdmin,
  type StandaloneServer,
  setUpAdmin,
  startStandaloneServer,
} from "@overlord/testkit/standalone-server"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

/** Pids of the processes whose working directory is `dir` (Linux /proc). */
async function processesIn(dir: string): Promise<number[]> {
  const pids: number[] = []
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue
    const cwd = await readlink(`/proc/${name}/cwd`).catch(() => "")
    if (cwd === dir) pids.push(Number(name))
  }
  return pids
}

const LONG_STORY = "[long-story-d7]"
const QUEUED_ANSWER = "Ran once, after the daemon came back."
const SEED_SESSION = "00000000-0000-4000-8000-0000000000d1"

describe("remote command delivery through overlord serve and a paired daemon", () => {
  let server: StandaloneServer
  let admin: ServerAdmin
  let claude: ClaudeHome
  let fake: FakeAnthropic
  let home: string
  let env: Record<string, string>
  let machineId: string
  let daemon: CliProcess | null = null

  const startDaemon = async () => {
    daemon = await startPairedDaemon(home, claude.configDir, env, async () => (await machine())?.online === true)
  }
  const stopDaemon = async (signal: NodeJS.Signals = "SIGTERM") => {
    const d = daemon
    daemon = null
    if (!d) return
    d.child.kill(signal)
    await d.exited
  }
  const machine = async () =>
    (await admin.api<{ machines: Api.Machine[] }>("/machines")).json.machines.find((m) => m.machineId === machineId)
  const detail = async (commandId: string) => (await admin.api<Api.CommandDetail>(`/commands/${commandId}`)).json
  const post = (extra: Record<string, unknown> = {}) =>
    admin.api<Api.CommandCreated>("/commands", { machineId, projectDir: claude.projectDir, ...extra })
  /** Conversation requests (each new CLI run asks at least one), side requests such as titles left out. */
  const mainRequests = () => fake.requests.filter((r) => r.kind === "main" || r.kind === "agent").length
  const audit = async (commandId: string) =>
    (await readFile(join(home, "remote", "audit.jsonl"), "utf8").catch(() => ""))
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as { event: string; commandId?: string })
      .filter((e) => e.commandId === commandId)
      .map((e) => e.event)
  const ended = (commandId: string, timeoutMs = 60_000) =>
    waitFor(
      `command ${commandId} to end`,
      async () => {
        const c = (await detail(commandId)).command
        return c.endedAt !== null ? c : null
      },
      timeoutMs,
    )

  beforeAll(async () => {
    server = await startStandaloneServer("overlord-delivery-")
    console.log(`delivery test: standalone server on ${server.database}`)
    admin = await setUpAdmin(server)
    claude = await makeClaudeHome("overlord-delivery-claude-")
    fake = startFakeAnthropic({
      // Every new session starts at the first turn: the queued command's answer.
      main: [
        {
          blocks: [{ type: "text", text: QUEUED_ANSWER }],
          usage: { input: 10, output: 5, cacheWrite: 0, cacheRead: 0 },
        },
      ],
      // A prompt carrying the marker gets its own stream: the command the daemon is killed in, a long
      // answer still arriving (about 30 s).
      agents: [
        {
          marker: LONG_STORY,
          turns: [
            {
              blocks: [{ type: "text", text: "Once upon a time, again.".repeat(300) }],
              usage: { input: 10, output: 500, cacheWrite: 0, cacheRead: 0 },
              eventDelayMs: 100,
            },
          ],
        },
      ],
    })
    // The daemon runs commands only in projects it learned from session files: one, synced first.
    env = await remoteClaudeEnv(claude, fake.url, SEED_SESSION)
    home = join(server.dir, "laptop-home")
    await pairWithKey(server, admin, home)
    machineId = await pairedMachineId(home)
    await startDaemon()
    await waitFor("the machine to accept commands", async () => (await machine())?.acceptsCommands === true || null)
    await daemonKnowsProjects(home, [claude.projectDir])
  }, 180_000)

  afterAll(async () => {
    await stopDaemon()
    await fake?.stop()
    await claude?.cleanup()
    await server?.stop()
  })

  it("queues a command while the daemon is stopped, and runs it exactly once when it returns", async () => {
    await stopDaemon()
    await waitFor("the machine to show offline", async () => (await machine())?.online === false || null)
    // Offline, the machine still says it accepts commands (as its last daemon told): the command is taken.
    expect((await machine())?.acceptsCommands).toBe(true)
    const created = await post({ prompt: "Run when you are back." })
    expect(created.status).toBe(201)
    const { commandId } = created.json.command
    expect(created.json.command.status).toBe("queued")
    await Bun.sleep(1500)
    expect((await detail(commandId)).command.status).toBe("queued")
    const listed = (await admin.api<Api.CommandList>(`/commands?machineId=${machineId}`)).json.commands
    expect(listed.find((c) => c.commandId === commandId)?.status).toBe("queued")
    expect(mainRequests()).toBe(0)

    await startDaemon()
    const done = await ended(commandId)
    expect(done.status).toBe("completed")
    expect(done.exitCode).toBe(0)
    const events = (await detail(commandId)).events
    expect(JSON.stringify(events)).toContain(QUEUED_ANSWER)
    // One CLI run: one main-conversation request, one `started` in the daemon's audit log.
    expect(mainRequests()).toBe(1)
    expect(await audit(commandId)).toEqual(["received", "started", "exit"])
    // One session produced, synced to the server and linked to the command.
    expect(done.sessionId).toBeTruthy()
    const session = await waitFor("the command's session on the server", async () => {
      const s = (await admin.api<Api.SessionList>("/sessions")).json.sessions
      return s.find((x) => x.sessionId === done.sessionId) ?? null
    })
    expect(session.sessionId).toBe(done.sessionId)
    const bySession = (await admin.api<Api.CommandList>(`/commands?sessionId=${done.sessionId}`)).json.commands
    expect(bySession.map((c) => c.commandId)).toEqual([commandId])

    // A further restart delivers nothing again (the ack was stored) and runs nothing again.
    await stopDaemon()
    await startDaemon()
    await Bun.sleep(2000)
    expect(mainRequests()).toBe(1)
    expect(await audit(commandId)).toEqual(["received", "started", "exit"])
    expect((await detail(commandId)).command.status).toBe("completed")
  }, 180_000)

  it("never runs a command that expired while the daemon was away", async () => {
    await stopDaemon()
    await waitFor("the machine to show offline", async () => (await machine())?.online === false || null)
    const created = await post({ prompt: "Too late.", expiresInMs: 1000 })
    expect(created.status).toBe(201)
    const { commandId } = created.json.command
    expect(created.json.command.status).toBe("queued")
    expect(Date.parse(created.json.command.expiresAt) - Date.parse(created.json.command.createdAt)).toBe(1000)
    // Nothing reads the command meanwhile: the daemon's hello is the first to find it past its time.
    await Bun.sleep(1500)
    const before = mainRequests()
    await startDaemon()
    await Bun.sleep(2000)
    const c = (await detail(commandId)).command
    expect(c.status).toBe("expired")
    expect(c.error?.reason).toBe("expired")
    expect(c.startedAt).toBeNull()
    expect(mainRequests()).toBe(before)
    expect(await audit(commandId)).toEqual([])
  }, 120_000)

  it("shows a command interrupted after its daemon was SIGKILLed mid-run, and never runs it again", async () => {
    const created = await post({ prompt: `${LONG_STORY} Tell a long story.` })
    expect(created.status).toBe(201)
    const { commandId } = created.json.command
    // Mid-run: the CLI has asked for the long answer, which is still streaming.
    await waitFor("the command to run and ask the API", async () => {
      const d = await detail(commandId)
      return d.command.status === "running" && fake.requests.some((r) => r.kind === "agent") ? true : null
    })
    const requestsAtKill = mainRequests()
    await stopDaemon("SIGKILL")
    await startDaemon()
    const after = await ended(commandId, 30_000)
    expect(after.status).toBe("interrupted")
    expect(after.error?.reason).toBe("interrupted")
    await Bun.sleep(2000)
    const events = await audit(commandId)
    expect(events.filter((e) => e === "started")).toHaveLength(1)
    expect(events).toContain("interrupted")
    expect(mainRequests()).toBe(requestsAtKill)
    // Nothing of the killed run is left running: the CLI ends once the pipes to its dead daemon close.
    await waitFor(
      "no process left in the project",
      async () => (await processesIn(claude.projectDir)).length === 0,
      15_000,
    )
    expect(fake.errors).toEqual([])
  }, 120_000)
})
