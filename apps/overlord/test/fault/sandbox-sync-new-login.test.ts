/**
 * Fault: a running daemon followed a new `overlord login` (`server.json` read again when it changes),
 * but the syncs of its sandboxes' machines (children of the laptop, `SandboxSync`) kept the server and
 * token they were opened with until the daemon restarted. Paired with another server, the laptop's
 * sessions went there and its sandboxes' stayed behind on the old one; after a logout their status line
 * read "run `overlord login <this server's URL>`" where the laptop's named the server.
 *
 * Everything real but Daytona and Anthropic: two `overlord serve` (the suite's MariaDB, or SQLite), the
 * bundled CLI's `login --key`, `logout`, `status` and `start --foreground --allow-remote`, the real
 * `@daytonaio/sdk` against the fake Daytona and the real Claude Code CLI in the "sandbox" against the
 * fake Anthropic API.
 */
import { mkdir, readFile, realpath, writeFile } from "node:fs/promises"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import { claudeBinary } from "@overlord/testkit/claude-cli"
import { type FakeAnthropic, startFakeAnthropic } from "@overlord/testkit/fake-anthropic"
import { type FakeDaytona, startFakeDaytona } from "@overlord/testkit/fake-daytona"
import {
  daemonKnowsProjects,
  pairedMachineId,
  seedProjectSession,
  writeDaytonaSettings,
} from "@overlord/testkit/remote-commands"
import {
  type CliProcess,
  cli,
  pairWithKey,
  runCli,
  type ServerAdmin,
  type StandaloneServer,
  setUpAdmin,
  startStandaloneServer,
  statusOf,
} from "@overlord/testkit/standalone-server"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { findSessionFile } from "../remote/support.ts"

const usage = { input: 20, output: 4, cacheWrite: 0, cacheRead: 0 }
const answer = (text: string) => ({ blocks: [{ type: "text" as const, text }], usage })

interface SandboxStatus {
  readonly machineName: string
  readonly serverUrl?: string
  readonly connected: boolean
  readonly lastError: string | null
}

describe("a sandbox's machine after a new login while the daemon runs", () => {
  let first: StandaloneServer
  let firstAdmin: ServerAdmin
  let second: StandaloneServer | undefined
  let fake: FakeDaytona
  let anthropic: FakeAnthropic
  let daemon: CliProcess | undefined
  let home: string
  let claudeDir: string
  let project: string
  let machineId: string

  const machinesOn = async (admin: ServerAdmin) =>
    (await admin.api<{ machines: Api.Machine[] }>("/machines")).json.machines
  /** Runs a sandbox command on `admin`'s server: its session id, once the command completed. */
  const runInSandbox = async (admin: ServerAdmin, prompt: string): Promise<string> => {
    const created = await admin.api<Api.CommandCreated>("/commands", {
      machineId,
      projectDir: project,
      prompt,
      where: "sandbox",
    })
    expect(created.status, JSON.stringify(created.json)).toBe(201)
    const { commandId } = created.json.command
    const done = await waitFor(
      `the end of ${commandId}`,
      async () => {
        const c = (await admin.api<Api.CommandDetail>(`/commands/${commandId}`)).json.command
        return c.endedAt !== null ? c : null
      },
      120_000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\ndaemon output:\n${daemon?.output().slice(-4000)}`)
    })
    expect(done, JSON.stringify(done)).toMatchObject({ status: "completed", exitCode: 0 })
    if (!done.sessionId) throw new Error("the command has no session")
    return done.sessionId
  }
  /** The session's file as Claude Code wrote it in the sandbox. */
  const inSandbox = async (sessionId: string) => {
    const sandbox = [...fake.sandboxes.values()].find((s) => s.state === "started")
    if (!sandbox) throw new Error("no started sandbox")
    return readFile(await findSessionFile(join(sandbox.home, ".claude", "projects"), sessionId))
  }
  /** Waits until `admin`'s server holds the session byte for byte, under the laptop's sandbox machine. */
  const storedUnderChild = (server: StandaloneServer, admin: ServerAdmin, sessionId: string) =>
    waitFor(
      `session ${sessionId} on ${server.url}`,
      async () => {
        const res = await fetch(`${server.url}/api/v1/sessions/${sessionId}/export`, {
          headers: { authorization: `Bearer ${admin.apiToken}` },
        })
        if (res.status !== 200) return null
        const exported = Buffer.from(await res.arrayBuffer())
        return exported.equals(await inSandbox(sessionId)) ? true : null
      },
      30_000,
    )
      .then(async () => {
        const session = (await admin.api<Api.SessionDetail>(`/sessions/${sessionId}`)).json.session
        return (await machinesOn(admin)).find((m) => m.machineId === session.machineId)
      })
      .catch(async (e: unknown) => {
        throw new Error(
          `${String(e)}\n${(await statusOf(home)).text}\ndaemon output:\n${daemon?.output().slice(-4000)}`,
        )
      })
  const sandboxStatus = async (): Promise<SandboxStatus | undefined> =>
    ((await statusOf(home)).json?.sandboxes as SandboxStatus[] | undefined)?.[0]

  beforeAll(async () => {
    first = await startStandaloneServer("overlord-sandbox-login-first-")
    firstAdmin = await setUpAdmin(first)
    const root = await realpath(first.dir)
    home = join(root, "laptop-home")
    claudeDir = join(root, "claude")
    project = join(root, "shop")
    for (const d of [home, claudeDir, project]) await mkdir(d, { recursive: true })
    await writeFile(join(project, "README.md"), "# shop\n")
    await seedProjectSession(claudeDir, project, "00000000-0000-4000-8000-0000000005c1")
    fake = await startFakeDaytona({ tools: { claude: await claudeBinary() } })
    anthropic = startFakeAnthropic({
      main: [
        answer("First run, on the first server."),
        answer("Second run, back on the first server."),
        answer("Third."),
      ],
    })
    await writeDaytonaSettings(home, fake, {
      anthropicApiKey: "sk-ant-sandbox-login-5c1",
      anthropicUrl: anthropic.url,
      snapshot: "overlord-claude-code-login",
      autoStopMinutes: 20,
    })
    await pairWithKey(first, firstAdmin, home)
    machineId = await pairedMachineId(home)
    daemon = runCli(home, ["start", "--foreground", "--claude-dir", claudeDir, "--allow-remote"])
    await waitFor(
      "the laptop to accept commands",
      async () => (await machinesOn(firstAdmin)).some((m) => m.machineId === machineId && m.acceptsCommands),
      60_000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\ndaemon output:\n${daemon?.output()}`)
    })
    await daemonKnowsProjects(home, [project])
  }, 180_000)

  afterAll(async () => {
    if (daemon) {
      daemon.stop()
      await daemon.exited
    }
    await anthropic?.stop()
    await fake?.stop()
    await second?.stop()
    await first?.stop()
  })

  it("follows the laptop to another server, says the laptop's refusal after a logout, and takes a new token", async () => {
    // A sandbox run: its session is stored on the first server under the child machine.
    const firstSession = await runInSandbox(firstAdmin, "Say something in the sandbox.")
    const child = await storedUnderChild(first, firstAdmin, firstSession)
    const laptop = (await machinesOn(firstAdmin)).find((m) => m.machineId === machineId)
    // Its own name, not the laptop's, which the credentials it reads also carry.
    expect(child).toMatchObject({ name: `${laptop?.name}/sandbox-shop`, parent: { machineId, kind: "sandbox" } })

    // Paired with another server: the sandbox's machine moves there with its laptop, and the second
    // server gets the sandbox's whole session from its first byte, once (its welcome has no cursors).
    second = await startStandaloneServer("overlord-sandbox-login-second-")
    const secondAdmin = await setUpAdmin(second)
    await pairWithKey(second, secondAdmin, home)
    const moved = await storedUnderChild(second, secondAdmin, firstSession)
    expect(moved).toMatchObject({
      machineId: child?.machineId,
      name: child?.name,
      parent: { machineId, kind: "sandbox" },
    })
    // The log tells the sandbox's move from the laptop's.
    expect(daemon?.output()).toContain(
      `sandbox ${child?.name}: this machine is now paired with ${second.url} (overlord login): syncing there, no longer to ${first.url}`,
    )
    await waitFor("the sandbox's status on the second server", async () => {
      const s = await sandboxStatus()
      return s?.connected && s.serverUrl === second?.url ? true : null
    })

    // Logged out (the laptop revoked on the second server, its sandbox with it): the sandbox's line in
    // `overlord status` gives the laptop's refusal, naming the server, not a placeholder.
    expect((await cli(home, ["logout"])).code).toBe(0)
    const refused = await waitFor(
      "the same refusal for the laptop and its sandbox",
      async () => {
        const s = await statusOf(home)
        const main = s.json?.lastError as string | null | undefined
        const sandbox = (s.json?.sandboxes as SandboxStatus[] | undefined)?.[0]?.lastError
        return main?.includes("unknown or revoked") && sandbox === main ? s : null
      },
      30_000,
    )
    const text = (await cli(home, ["status"])).output
    const sandboxLine = text.split("\n").find((l) => l.startsWith("sandbox "))
    expect(sandboxLine, text).toContain(
      `last error: ${refused.json?.lastError}`.replaceAll("<this server's URL>", second.url),
    )
    expect(sandboxLine).toContain(`overlord login ${second.url}`)
    expect(text).not.toContain("<this server's URL>")
    // Nor in the daemon's log, where the laptop's refusal and its sandbox's each name the server.
    expect(daemon?.output()).toContain(`sandbox ${child?.name}: the server refused this daemon: `)
    expect(daemon?.output()).not.toContain("<this server's URL>")

    // Paired with the first server again (a new token there): the sandbox's machine syncs there with it.
    await pairWithKey(first, firstAdmin, home)
    const secondSession = await runInSandbox(firstAdmin, "Say something else in the same sandbox.")
    expect(await storedUnderChild(first, firstAdmin, secondSession)).toMatchObject({ machineId: child?.machineId })
    // The first session is still there once: nothing was sent twice by the moves.
    expect(await storedUnderChild(first, firstAdmin, firstSession)).toMatchObject({ machineId: child?.machineId })
    await waitFor("the sandbox's status back on the first server", async () => {
      const s = await sandboxStatus()
      return s?.connected && s.serverUrl === first.url && s.lastError === null ? true : null
    })

    // Logged out of the first server (the laptop and its sandbox revoked there) and paired with it again:
    // the sandbox's machine comes back with its laptop and syncs a new run under the same machine.
    expect((await cli(home, ["logout"])).code).toBe(0)
    await waitFor("the refusal", async () => ((await sandboxStatus())?.lastError ? true : null))
    await pairWithKey(first, firstAdmin, home)
    const thirdSession = await runInSandbox(firstAdmin, "A third thing.")
    expect(await storedUnderChild(first, firstAdmin, thirdSession)).toMatchObject({ machineId: child?.machineId })
  }, 400_000)
})
