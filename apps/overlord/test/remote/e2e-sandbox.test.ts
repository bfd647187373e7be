/**
 * Daytona sandbox commands end to end (issue #12 §4): the real daemon (bundle, `overlord start
 * --allow-remote`) with its embedded server, the REAL `@daytonaio/sdk` against the fake Daytona
 * (whose toolbox runs commands as local processes), and the real Claude Code CLI "in the sandbox"
 * against the scripted fake Anthropic API. A command POSTed with `where: "sandbox"` streams its
 * output over the live socket, ends with Claude Code's exit code, sends the sandbox's changes back as
 * a patch (over the API and `overlord sandboxes patch`), and the session file it wrote in the sandbox
 * is synced byte for byte under a machine of the sandbox's own — a child of the laptop, listed with
 * it — and linked to the command. The sandbox has auto-stop set and is reused by the next command;
 * Daytona refusing a new sandbox (quota) or the key (401) reaches the API as a clear message, and after a
 * restart the daemon resumes syncing the sandbox's machine.
 */
import { spawnSync } from "node:child_process"
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Api, Live } from "@overlord/protocol"
import { claudeBinary } from "@overlord/testkit/claude-cli"
import { type FakeAnthropic, startFakeAnthropic } from "@overlord/testkit/fake-anthropic"
import { type FakeDaytona, startFakeDaytona } from "@overlord/testkit/fake-daytona"
import {
  OVERLORD_BIN,
  type OverlordCredentials,
  type OverlordProcess,
  startOverlord,
} from "@overlord/testkit/overlord-process"
import {
  type BearerApi,
  bearerApi,
  commandEnded,
  daemonKnowsProjects,
  machineAccepting,
  openLiveSocket,
  seedProjectSession,
  writeDaytonaSettings,
} from "@overlord/testkit/remote-commands"
import { bashWriteTurns } from "@overlord/testkit/scenarios"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { findSessionFile } from "./support.ts"

const ANTHROPIC_KEY = "sk-ant-e2e-sandbox-7c41"
const SANDBOX_FILE = "made-in-sandbox.txt"
const SANDBOX_FILE_CONTENT = "written inside the Daytona sandbox\n"
const usage = { input: 40, output: 6, cacheWrite: 0, cacheRead: 0 }

describe("sandbox commands through the real daemon, server, Daytona SDK and Claude CLI", () => {
  let root: string
  let home: string
  let claudeDir: string
  let projectDir: string
  let otherProjectDir: string
  let fake: FakeDaytona
  let anthropic: FakeAnthropic
  let daemon: OverlordProcess
  let creds: OverlordCredentials
  let laptop: Api.Machine
  let first: { commandId: string; sessionId: string; sandboxMachine: string } | undefined

  /** The API as the daemon's token; `creds` changes with each restart. */
  const api: BearerApi = (path, body) => bearerApi(creds.serverUrl, creds.apiToken)(path, body)

  const ended = (commandId: string) =>
    commandEnded<Api.CommandSummary>(api, commandId, 150_000).catch(async (error: unknown) => {
      const detail = (await api<Api.CommandDetail>(`/commands/${commandId}`)).body
      throw new Error(
        `${String(error)}; command: ${JSON.stringify(detail).slice(0, 3000)}; daemon: ${daemon.output().slice(-2000)}`,
      )
    })

  /** A session of `dir` already synced from the laptop: the daemon learns the project from its cwd. */
  const knownProject = (dir: string, sessionId: string) => seedProjectSession(claudeDir, dir, sessionId)

  beforeAll(async () => {
    root = await realpath(await mkdtemp(join(tmpdir(), "overlord-e2e-sandbox-")))
    home = join(root, "overlord-home")
    claudeDir = join(root, "claude")
    projectDir = join(root, "webshop")
    otherProjectDir = join(root, "second-project")
    for (const d of [home, claudeDir, projectDir, otherProjectDir]) await mkdir(d, { recursive: true })
    await writeFile(join(projectDir, "README.md"), "# webshop\n")
    await writeFile(join(otherProjectDir, "README.md"), "# second\n")
    await knownProject(projectDir, "00000000-0000-4000-8000-0000000000a1")
    await knownProject(otherProjectDir, "00000000-0000-4000-8000-0000000000a2")

    fake = await startFakeDaytona({ tools: { claude: await claudeBinary() } })
    anthropic = startFakeAnthropic({
      main: [
        // The first command: a Bash call that writes a file in the sandbox's project, then an answer.
        ...bashWriteTurns(SANDBOX_FILE, SANDBOX_FILE_CONTENT, "Wrote the file in the sandbox.", usage),
        // The second command: an answer only.
        { blocks: [{ type: "text", text: "Second run, same sandbox." }], usage },
      ],
    })
    // The laptop's Daytona settings; the keys stay on this machine (and the Anthropic one in the sandbox).
    await writeDaytonaSettings(home, fake, {
      anthropicApiKey: ANTHROPIC_KEY,
      anthropicUrl: anthropic.url,
      snapshot: "overlord-claude-code-e2e",
      autoStopMinutes: 25,
    })
    daemon = startOverlord(home, claudeDir, ["--allow-remote"])
    creds = await daemon.credentials()
    laptop = await machineAccepting<Api.Machine>(api)
    await daemonKnowsProjects(home, [projectDir, otherProjectDir])
  }, 120_000)

  afterAll(async () => {
    daemon?.stop()
    await anthropic?.stop()
    await fake?.stop()
    await rm(root, { recursive: true, force: true })
  })

  it("runs in a new sandbox: output streams live, exit code, patch back, session synced under the sandbox's machine", async () => {
    const postedAt = performance.now()
    const created = await api<Api.CommandCreated>("/commands", {
      machineId: laptop.machineId,
      projectDir,
      prompt: "Write a file in the sandbox.",
      where: "sandbox",
    })
    expect(created.status, created.text).toBe(201)
    const { commandId } = created.body.command
    expect(created.body.command.where).toBe("sandbox")

    // The dashboard's live socket, watching from the first event.
    const live: Live.LiveMessage[] = []
    const ws = await openLiveSocket(creds.serverUrl, creds.apiToken, live)
    ws.send(JSON.stringify({ type: "watch-command", commandId, afterEventSeq: -1 } satisfies Live.WatchCommand))
    const events = () => live.flatMap((m) => (m.type === "command-events" ? m.events : []))
    let firstEventMs: number | undefined
    const firstEvent = waitFor("the first live event", () => events().length > 0, 150_000).then(() => {
      firstEventMs = performance.now() - postedAt
    })

    const done = await ended(commandId)
    await firstEvent
    // Reported, not asserted: a new sandbox (create, upload, run, patch, download, sync) against the local fake.
    console.log(
      JSON.stringify({
        what: "sandbox command, new sandbox: POST to first live event / to ended (session stored)",
        firstEventMs: Math.round(firstEventMs ?? Number.NaN),
        endedMs: Math.round(performance.now() - postedAt),
        loadavg: (await readFile("/proc/loadavg", "utf8")).split(" ").slice(0, 3).join(" "),
      }),
    )
    expect(done, JSON.stringify(done)).toMatchObject({ status: "completed", exitCode: 0 })
    await waitFor("every event live", async () => {
      const stored = (await api<Api.CommandDetail>(`/commands/${commandId}`)).body.events.length
      return events().length === stored ? true : null
    })
    ws.close()
    // Claude Code's stdout, streamed as its stream-json messages, in order without gaps.
    expect(events().map((e) => e.eventSeq)).toEqual(events().map((_, i) => i))
    const cli = events().flatMap((e) => (e.event.kind === "cli" ? [e.event.message as Record<string, unknown>] : []))
    expect(cli[0]).toMatchObject({ type: "system", subtype: "init" })
    expect(cli.at(-1)).toMatchObject({ type: "result", result: "Wrote the file in the sandbox." })
    expect(anthropic.errors).toEqual([])

    // The changes come back as a patch: an event, the API, and the CLI on the laptop, all the same bytes.
    const patchEvent = events().find((e) => e.event.kind === "patch")?.event
    if (patchEvent?.kind !== "patch") throw new Error(`no patch event in ${JSON.stringify(events()).slice(0, 2000)}`)
    expect(patchEvent.files).toEqual([SANDBOX_FILE])
    const patchRes = await fetch(`${creds.serverUrl}/api/v1/commands/${commandId}/patch`, {
      headers: { authorization: `Bearer ${creds.apiToken}` },
    })
    expect(patchRes.status).toBe(200)
    expect(patchRes.headers.get("content-type")).toContain("text/x-diff")
    const patch = Buffer.from(await patchRes.arrayBuffer())
    expect(patch.length).toBe(patchEvent.bytes)
    const cliPatch = spawnSync("bun", [OVERLORD_BIN, "--home", home, "sandboxes", "patch", commandId])
    expect(cliPatch.status, String(cliPatch.stderr)).toBe(0)
    expect(Buffer.from(cliPatch.stdout).equals(patch)).toBe(true)
    // It applies to the laptop's project and makes the sandbox's file there.
    const applied = spawnSync("git", ["apply", "-"], { cwd: projectDir, input: patch })
    expect(applied.status, String(applied.stderr)).toBe(0)
    expect(await readFile(join(projectDir, SANDBOX_FILE), "utf8")).toBe(SANDBOX_FILE_CONTENT)
    await rm(join(projectDir, SANDBOX_FILE))

    // One sandbox, made by the SDK with auto-stop set.
    expect(fake.sandboxes.size).toBe(1)
    const sandbox = [...fake.sandboxes.values()][0]!
    expect(sandbox.autoStopInterval).toBe(25)
    expect(fake.requests.some((r) => r.plane === "api" && r.method === "POST" && r.path === "/sandbox")).toBe(true)

    // The session file Claude Code wrote in the sandbox is synced, byte for byte, under a machine of
    // the sandbox's own: a child of the laptop, named for it, and the command links to it.
    const sessionId = done.sessionId
    expect(sessionId).toBeTruthy()
    const inSandbox = await findSessionFile(join(sandbox.home, ".claude", "projects"), sessionId!)
    const session = await waitFor(
      "the sandbox's session on the server",
      async () => {
        const res = await api<Api.SessionDetail>(`/sessions/${sessionId}`)
        return res.status === 200 ? res.body : null
      },
      10_000,
    )
    const machines = (await api<{ machines: Api.Machine[] }>("/machines")).body.machines
    const child = machines.find((m) => m.machineId === session.session.machineId)
    expect(child).toMatchObject({
      name: `${laptop.name}/sandbox-webshop`,
      parent: { machineId: laptop.machineId, kind: "sandbox" },
    })
    expect(child!.machineId).not.toBe(laptop.machineId)
    const exported = Buffer.from(
      await (
        await fetch(`${creds.serverUrl}/api/v1/sessions/${sessionId}/export`, {
          headers: { authorization: `Bearer ${creds.apiToken}` },
        })
      ).arrayBuffer(),
    )
    expect(exported.equals(await readFile(inSandbox))).toBe(true)
    const linked = (await api<Api.CommandList>(`/commands?sessionId=${sessionId}`)).body.commands
    expect(linked.map((c) => c.commandId)).toEqual([commandId])
    first = { commandId, sessionId: sessionId!, sandboxMachine: child!.machineId }

    // `overlord status` names the sandbox's machine and its sync. Waited for settled: the daemon writes
    // its state file every so often, and one written while the sandbox's sync was still connecting said
    // `connected: false` with bytes pending (a CI run under load).
    const status = await waitFor("the sandbox in overlord status, connected and synced", async () => {
      const out = spawnSync("bun", [OVERLORD_BIN, "--home", home, "status", "--json"], { encoding: "utf8" })
      const parsed = JSON.parse(out.stdout) as {
        sandboxes: { machineName: string; connected: boolean; bytesPending: number }[]
      }
      const settled = parsed.sandboxes.length > 0 && parsed.sandboxes.every((b) => b.connected && b.bytesPending === 0)
      return settled ? parsed.sandboxes : null
    })
    expect(status).toMatchObject([
      { machineId: child!.machineId, machineName: child!.name, connected: true, filesTracked: 1, bytesPending: 0 },
    ])
    const text = spawnSync("bun", [OVERLORD_BIN, "--home", home, "status"], { encoding: "utf8" }).stdout
    expect(text).toContain(`sandbox ${child!.name}: connected, 1 files; not yet synced: 0 B`)
    // And the dashboard's machine list has the sandbox machine's own health.
    await waitFor("the sandbox machine's files in the machine list", async () => {
      const list = (await api<{ machines: Api.Machine[] }>("/machines")).body.machines
      return list.find((m) => m.machineId === child!.machineId)?.filesTracked === 1 ? true : null
    })
  }, 200_000)

  it("reuses the project's sandbox for the next command (a resume), and the session grows under the same machine", async () => {
    if (!first) throw new Error("the first test did not finish")
    const created = await api<Api.CommandCreated>("/commands", {
      machineId: laptop.machineId,
      projectDir,
      prompt: "Run again.",
      where: "sandbox",
      resumeSessionId: first.sessionId,
    })
    expect(created.status, created.text).toBe(201)
    const done = await ended(created.body.command.commandId)
    expect(done).toMatchObject({ status: "completed", exitCode: 0 })
    expect(fake.sandboxes.size).toBe(1)
    // Found again by its labels, not created again; auto-stop set again on the reused sandbox.
    expect(fake.requests.filter((r) => r.plane === "api" && r.method === "POST" && r.path === "/sandbox")).toHaveLength(
      1,
    )
    expect(
      fake.requests.filter((r) => r.plane === "api" && r.method === "POST" && r.path.endsWith("/autostop/25")).length,
    ).toBeGreaterThanOrEqual(2)
    expect(done.sessionId).toBe(first.sessionId)
    const cli = (await api<Api.CommandDetail>(`/commands/${done.commandId}`)).body.events.flatMap((e) =>
      e.event.kind === "cli" ? [e.event.message as Record<string, unknown>] : [],
    )
    expect(cli.at(-1)).toMatchObject({ type: "result", result: "Second run, same sandbox." })
    // The resumed session file grew in the sandbox; the server holds it byte for byte, under the same machine.
    const sandbox = [...fake.sandboxes.values()][0]!
    const inSandbox = await readFile(await findSessionFile(join(sandbox.home, ".claude", "projects"), first.sessionId))
    const session = (await api<Api.SessionDetail>(`/sessions/${first.sessionId}`)).body
    expect(session.session.machineId).toBe(first.sandboxMachine)
    const exported = Buffer.from(
      await (
        await fetch(`${creds.serverUrl}/api/v1/sessions/${first.sessionId}/export`, {
          headers: { authorization: `Bearer ${creds.apiToken}` },
        })
      ).arrayBuffer(),
    )
    expect(exported.toString()).toContain("Second run, same sandbox.")
    expect(exported.equals(inSandbox)).toBe(true)
    const linked = (await api<Api.CommandList>(`/commands?sessionId=${first.sessionId}`)).body.commands
    expect(linked.map((c) => c.commandId).sort()).toEqual([first.commandId, done.commandId].sort())
    // Nothing changed in the project this time: no patch.
    const none = await api(`/commands/${done.commandId}/patch`)
    expect(none.status, none.text.slice(0, 2000)).toBe(404)
    // Still one child machine.
    const machines = (await api<{ machines: Api.Machine[] }>("/machines")).body.machines
    expect(machines.filter((m) => m.parent?.machineId === laptop.machineId).map((m) => m.machineId)).toEqual([
      first.sandboxMachine,
    ])
  }, 200_000)

  it("Daytona refusing a new sandbox (quota) ends the command failed with Daytona's message", async () => {
    fake.faults.quotaExceeded = true
    try {
      const created = await api<Api.CommandCreated>("/commands", {
        machineId: laptop.machineId,
        projectDir: otherProjectDir,
        prompt: "Never runs.",
        where: "sandbox",
      })
      expect(created.status, created.text).toBe(201)
      const done = await ended(created.body.command.commandId)
      expect(done.status).toBe("failed")
      expect(done.error?.message).toMatch(/Daytona refused to create a sandbox \(403\)/)
      expect(done.error?.message).toContain("overlord sandboxes list")
      expect(done.error?.message).not.toContain(fake.apiKey)
      // Every request the SDK made was one the fake knows, as Daytona's API has it.
      expect(fake.errors).toEqual([])
    } finally {
      fake.faults.quotaExceeded = false
    }
  }, 120_000)

  it("after a restart the sandbox's machine syncs again; a wrong Daytona key (401) fails with a clear message", async () => {
    if (!first) throw new Error("the first test did not finish")
    const exited = new Promise((resolve) => daemon.child.once("exit", resolve))
    daemon.stop()
    await exited
    const settings = JSON.parse(await readFile(join(home, "daytona.json"), "utf8")) as Record<string, unknown>
    await writeFile(join(home, "daytona.json"), JSON.stringify({ ...settings, apiKey: "dtn_wrong_key_5521" }), {
      mode: 0o600,
    })
    const restartedAt = new Date().toISOString()
    daemon = startOverlord(home, claudeDir, ["--allow-remote"])
    creds = await daemon.credentials()
    // The sandbox's machine, resumed from <home>/sandboxes at start-up, said hello again.
    await waitFor(
      "the sandbox's machine online again",
      async () => {
        const machines = (await api<{ machines: Api.Machine[] }>("/machines")).body.machines
        const child = machines.find((m) => m.machineId === first?.sandboxMachine)
        const parent = machines.find((m) => m.machineId === laptop.machineId)
        return child?.online && (child.lastSeenAt ?? "") >= restartedAt && parent?.acceptsCommands ? true : null
      },
      30_000,
    )
    const created = await api<Api.CommandCreated>("/commands", {
      machineId: laptop.machineId,
      projectDir,
      prompt: "Never runs.",
      where: "sandbox",
    })
    expect(created.status, created.text).toBe(201)
    const done = await ended(created.body.command.commandId)
    expect(done.status).toBe("failed")
    expect(done.error?.message).toContain("Daytona refused the API key (401)")
    expect(done.error?.message).not.toContain("dtn_wrong_key_5521")
  }, 120_000)
})
