/**
 * Daytona sandbox commands through a standalone server (issue #12: "errors reach the dashboard as
 * clear messages", and Daytona's "what must be shown"), everything real but Daytona and Anthropic:
 * `overlord serve` on the suite's MariaDB (SQLite when the CLI has no `--database-url`), a laptop
 * paired with a pairing key (`overlord login <url> --key`) running `overlord start --allow-remote`,
 * Daytona configured on the laptop only (its `daytona.json`), the real `@daytonaio/sdk` against the
 * fake Daytona, and the real Claude Code CLI in the "sandbox" against the fake Anthropic API.
 *
 * - a command POSTed to `/api/v1/commands` with `where: "sandbox"` streams Claude Code's stdout and
 *   stderr as separate events (the snapshot's `claude` here writes a line to stderr first), ends with
 *   its exit code, its patch downloads, and its session syncs byte for byte under the child machine
 *   `<laptop>/sandbox-<project>` (listed with its parent, linked to the command); a project without
 *   a git remote is uploaded, one with a remote cloned at the laptop's commit, auto-stop set on both;
 * - each Daytona failure ends its command `failed` with a sentence the dashboard shows as it is (in
 *   `GET /commands/{id}` and in the live socket's `command` message): a missing snapshot (404), a
 *   sandbox that never starts, a remote the sandbox cannot clone, the organization's quota, a
 *   refused key (401);
 * - neither the Daytona key, the Anthropic key, nor a token in the project's git remote URL is anywhere
 *   in the server's database or its log (nor in the daemon's output).
 */
import { spawnSync } from "node:child_process"
import { mkdir, readFile, realpath, writeFile } from "node:fs/promises"
import { join } from "node:path"
import type { Api, Live } from "@overlord/protocol"
import { claudeBinary } from "@overlord/testkit/claude-cli"
import { type FakeAnthropic, startFakeAnthropic } from "@overlord/testkit/fake-anthropic"
import { type FakeDaytona, startFakeDaytona } from "@overlord/testkit/fake-daytona"
import {
  daemonKnowsProjects,
  openLiveSocket,
  pairedMachineId,
  seedProjectSession,
  writeDaytonaSettings,
} from "@overlord/testkit/remote-commands"
import { bashWriteTurns } from "@overlord/testkit/scenarios"
import {
  type CliProcess,
  pairWithKey,
  runCli,
  type ServerAdmin,
  type StandaloneServer,
  setUpAdmin,
  startStandaloneServer,
  storedText,
} from "@overlord/testkit/standalone-server"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { findSessionFile } from "./support.ts"

const ANTHROPIC_KEY = "sk-ant-serve-sandbox-93e1b7"
const GIT_TOKEN = "ghp_serveSandboxGitT0ken77"
const STDERR_LINE = "snapshot notice: this claude writes to stderr first"
const SANDBOX_FILE = "from-the-sandbox.txt"
const SANDBOX_FILE_CONTENT = "made in the sandbox, through overlord serve\n"
/** Seconds a sandbox may take to start (daytona.json): the never-starting one fails after this. */
const START_TIMEOUT_S = 4
const usage = { input: 30, output: 5, cacheWrite: 0, cacheRead: 0 }

const gitIn = (cwd: string, ...args: string[]) => {
  const r = spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd })
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${String(r.stderr)}`)
  return String(r.stdout).trim()
}

describe("sandbox commands through overlord serve and a daemon paired by key", () => {
  let server: StandaloneServer
  let admin: ServerAdmin
  let fake: FakeDaytona
  let anthropic: FakeAnthropic
  let daemon: CliProcess | undefined
  let root: string
  let home: string
  let claudeDir: string
  /** Uploaded (no git remote): the run that succeeds. */
  let storefront: string
  /** A git project with a remote the sandbox clones, and an uncommitted change. */
  let clonedshop: string
  /** A git project whose remote the sandbox cannot clone. */
  let unclonable: string
  /** A project with no sandbox yet: Daytona's refusals on create. */
  let fresh: string
  /** The project whose sandbox never starts. */
  let slowStart: string
  let laptop: Api.Machine
  const live: Live.LiveMessage[] = []
  let ws: WebSocket | undefined
  const commandIds: string[] = []

  const detail = async (commandId: string) => (await admin.api<Api.CommandDetail>(`/commands/${commandId}`)).json
  const ended = (commandId: string) =>
    waitFor(
      `the end of ${commandId}`,
      async () => {
        const c = (await detail(commandId)).command
        return c.endedAt !== null ? c : null
      },
      120_000,
    ).catch(async (error: unknown) => {
      throw new Error(
        `${String(error)}; command: ${JSON.stringify(await detail(commandId)).slice(0, 3000)}; daemon: ${daemon?.output().slice(-3000)}`,
      )
    })
  const post = async (projectDir: string, prompt: string) => {
    const created = await admin.api<Api.CommandCreated>("/commands", {
      machineId: laptop.machineId,
      projectDir,
      prompt,
      where: "sandbox",
    })
    expect(created.status, JSON.stringify(created.json)).toBe(201)
    expect(created.json.command.where).toBe("sandbox")
    commandIds.push(created.json.command.commandId)
    return created.json.command.commandId
  }
  /**
   * Runs a sandbox command that Daytona makes fail: ended `failed`, its message matching `message` in
   * `GET /commands/{id}` and in the live socket's update, never showing a key. Returns the message.
   */
  const failsWith = async (projectDir: string, message: RegExp): Promise<string> => {
    const commandId = await post(projectDir, "Never runs.")
    const done = await ended(commandId)
    expect(done.status, JSON.stringify(done)).toBe("failed")
    const text = done.error?.message ?? ""
    expect(text).toMatch(message)
    // What the dashboard receives live, without asking.
    const pushed = await waitFor(`the live update of ${commandId}`, () =>
      live.find((m) => m.type === "command" && m.command.commandId === commandId && m.command.status === "failed"),
    )
    if (pushed.type !== "command") throw new Error("not a command update")
    expect(pushed.command.error?.message).toBe(text)
    expect(text).not.toContain(fake.apiKey)
    expect(text).not.toContain(ANTHROPIC_KEY)
    return text
  }

  beforeAll(async () => {
    server = await startStandaloneServer("overlord-sandbox-serve-")
    console.log(`sandbox serve test: standalone server on ${server.database}`)
    admin = await setUpAdmin(server)
    root = await realpath(server.dir)
    home = join(root, "laptop-home")
    claudeDir = join(root, "claude")
    storefront = join(root, "storefront")
    unclonable = join(root, "unclonable")
    fresh = join(root, "fresh")
    slowStart = join(root, "slowstart")
    clonedshop = join(root, "clonedshop")
    for (const d of [home, claudeDir, storefront, unclonable, fresh, slowStart, clonedshop])
      await mkdir(d, { recursive: true })
    await writeFile(join(storefront, "README.md"), "# storefront\n")
    await writeFile(join(fresh, "README.md"), "# fresh\n")
    await writeFile(join(slowStart, "README.md"), "# slow\n")
    // A repository whose remote does not exist: the sandbox is told to clone it.
    gitIn(unclonable, "init", "-q")
    await writeFile(join(unclonable, "README.md"), "# unclonable\n")
    gitIn(unclonable, "add", ".")
    gitIn(unclonable, "commit", "-q", "-m", "first")
    // With a token in its URL, as CI checkouts leave it: the sandbox needs it, the server must never see it.
    gitIn(unclonable, "remote", "add", "origin", `https://x-access-token:${GIT_TOKEN}@127.0.0.1:9/acme/shop.git`)
    // A repository pushed to a remote the sandbox can reach, then changed without a commit.
    gitIn(root, "init", "-q", "--bare", join(root, "origin.git"))
    gitIn(clonedshop, "init", "-q")
    await writeFile(join(clonedshop, "README.md"), "# clonedshop\n")
    gitIn(clonedshop, "add", ".")
    gitIn(clonedshop, "commit", "-q", "-m", "first")
    gitIn(clonedshop, "remote", "add", "origin", `file://${root}/origin.git`)
    gitIn(clonedshop, "push", "-q", "origin", "HEAD:refs/heads/main")
    await writeFile(join(clonedshop, "README.md"), "# clonedshop\n\nnot committed yet\n")
    let n = 0
    for (const d of [storefront, unclonable, fresh, slowStart, clonedshop])
      await seedProjectSession(claudeDir, d, `00000000-0000-4000-8000-00000000050${++n}`)

    // The snapshot's `claude`: the real CLI, after a line on stderr.
    const claude = join(root, "claude-with-notice")
    await writeFile(claude, `#!/bin/sh\necho '${STDERR_LINE}' >&2\nexec '${await claudeBinary()}' "$@"\n`, {
      mode: 0o755,
    })
    fake = await startFakeDaytona({ tools: { claude } })
    anthropic = startFakeAnthropic({
      main: bashWriteTurns(SANDBOX_FILE, SANDBOX_FILE_CONTENT, "Wrote it in the sandbox.", usage),
    })
    // Daytona is configured on the laptop only; the server never has these keys.
    await writeDaytonaSettings(home, fake, {
      anthropicApiKey: ANTHROPIC_KEY,
      anthropicUrl: anthropic.url,
      snapshot: "overlord-claude-code-serve",
      autoStopMinutes: 20,
      startTimeoutSeconds: START_TIMEOUT_S,
    })
    await pairWithKey(server, admin, home)
    const machineId = await pairedMachineId(home)
    daemon = runCli(home, ["start", "--foreground", "--claude-dir", claudeDir, "--allow-remote"])
    laptop = await waitFor(
      "the laptop to accept commands",
      async () =>
        (await admin.api<{ machines: Api.Machine[] }>("/machines")).json.machines.find(
          (m) => m.machineId === machineId && m.acceptsCommands,
        ) ?? null,
      60_000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\ndaemon output:\n${daemon?.output()}`)
    })
    await daemonKnowsProjects(home, [storefront, unclonable, fresh, slowStart, clonedshop])
    // The dashboard's live socket, open for the whole file.
    ws = await openLiveSocket(server.url, admin.apiToken, live)
  }, 180_000)

  afterAll(async () => {
    ws?.close()
    if (daemon) {
      daemon.stop()
      await daemon.exited
    }
    await anthropic?.stop()
    await fake?.stop()
    await server?.stop()
  })

  it("runs in a sandbox: stdout and stderr apart, exit code, patch, session under the child machine", async () => {
    const commandId = await post(storefront, "Write a file in the sandbox.")
    ws?.send(JSON.stringify({ type: "watch-command", commandId, afterEventSeq: -1 } satisfies Live.WatchCommand))
    const done = await ended(commandId)
    expect(done, JSON.stringify(done)).toMatchObject({ status: "completed", exitCode: 0 })
    const stored = (await detail(commandId)).events
    // Every stored event reached the live socket, in order without gaps.
    const streamed = await waitFor("every event live", () => {
      const got = live.flatMap((m) => (m.type === "command-events" && m.commandId === commandId ? m.events : []))
      return got.length === stored.length ? got : null
    })
    expect(streamed.map((e) => e.eventSeq)).toEqual(stored.map((_, i) => i))
    expect(JSON.stringify(streamed)).toBe(JSON.stringify(stored))
    // stderr is its own event; stdout is Claude Code's stream-json, each message a `cli` event.
    const stderr = stored.flatMap((e) => (e.event.kind === "stderr" ? [e.event.text] : []))
    expect(stderr.join("")).toContain(STDERR_LINE)
    const cli = stored.flatMap((e) => (e.event.kind === "cli" ? [e.event.message as Record<string, unknown>] : []))
    expect(cli[0]).toMatchObject({ type: "system", subtype: "init" })
    expect(cli.at(-1)).toMatchObject({ type: "result", result: "Wrote it in the sandbox." })
    expect(JSON.stringify(cli)).not.toContain(STDERR_LINE)
    expect(stored.some((e) => e.event.kind === "stdout")).toBe(false)
    expect(anthropic.errors).toEqual([])

    // The patch: the event and the download are the same bytes, and it applies on the laptop.
    const patchEvent = stored.find((e) => e.event.kind === "patch")?.event
    if (patchEvent?.kind !== "patch") throw new Error(`no patch event in ${JSON.stringify(stored).slice(0, 2000)}`)
    expect(patchEvent.files).toEqual([SANDBOX_FILE])
    const res = await fetch(`${server.url}/api/v1/commands/${commandId}/patch`, {
      headers: { authorization: `Bearer ${admin.apiToken}` },
    })
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toContain("text/x-diff")
    const patch = Buffer.from(await res.arrayBuffer())
    expect(patch.equals(Buffer.from(patchEvent.base64 ?? "", "base64"))).toBe(true)
    const applied = spawnSync("git", ["apply", "--check", "-"], { cwd: storefront, input: patch })
    expect(applied.status, String(applied.stderr)).toBe(0)

    // The session, byte for byte, under the child machine `<laptop>/sandbox-storefront`.
    const sessionId = done.sessionId
    if (!sessionId) throw new Error("the command has no session")
    const sandbox = [...fake.sandboxes.values()].find((s) => s.state === "started")
    if (!sandbox) throw new Error("no started sandbox")
    const inSandbox = await readFile(await findSessionFile(join(sandbox.home, ".claude", "projects"), sessionId))
    const session = (await admin.api<Api.SessionDetail>(`/sessions/${sessionId}`)).json
    const machines = (await admin.api<{ machines: Api.Machine[] }>("/machines")).json.machines
    const child = machines.find((m) => m.machineId === session.session.machineId)
    expect(child).toMatchObject({
      name: `${laptop.name}/sandbox-storefront`,
      parent: { machineId: laptop.machineId, kind: "sandbox" },
    })
    const exported = Buffer.from(
      await (
        await fetch(`${server.url}/api/v1/sessions/${sessionId}/export`, {
          headers: { authorization: `Bearer ${admin.apiToken}` },
        })
      ).arrayBuffer(),
    )
    expect(exported.equals(inSandbox)).toBe(true)
    const linked = (await admin.api<Api.CommandList>(`/commands?sessionId=${sessionId}`)).json.commands
    expect(linked.map((c) => c.commandId)).toEqual([commandId])
    expect(fake.errors).toEqual([])
  }, 180_000)

  it("clones a project with a git remote at the laptop's commit, with its uncommitted change; auto-stop set", async () => {
    const commit = gitIn(clonedshop, "rev-parse", "HEAD")
    const commandId = await post(clonedshop, "Write a file in the cloned project.")
    const done = await ended(commandId)
    expect(done, JSON.stringify(done)).toMatchObject({ status: "completed", exitCode: 0 })
    const clone = fake.requests.find((r) => r.plane === "toolbox" && r.path === "/git/clone")
    expect(clone?.status).toBe(200)
    expect(JSON.parse(clone?.body ?? "{}")).toMatchObject({ url: `file://${root}/origin.git`, commit_id: commit })
    const sandbox = [...fake.sandboxes.values()].find((s) => s.name.startsWith("overlord-clonedshop-"))
    if (!sandbox) throw new Error("no sandbox for clonedshop")
    expect(await readFile(join(sandbox.home, "clonedshop", "README.md"), "utf8")).toContain("not committed yet")
    // The patch is the run's change only: the uncommitted change was the base it is taken against.
    const events = (await detail(commandId)).events
    const patch = events.find((e) => e.event.kind === "patch")?.event
    expect(patch?.kind === "patch" ? patch.files : undefined).toEqual([SANDBOX_FILE])
    // Each project's sandbox has the laptop's auto-stop.
    for (const s of fake.sandboxes.values()) expect(s.autoStopInterval).toBe(20)
    const child = (await admin.api<{ machines: Api.Machine[] }>("/machines")).json.machines.find(
      (m) => m.name === `${laptop.name}/sandbox-clonedshop`,
    )
    expect(child?.parent).toEqual({ machineId: laptop.machineId, kind: "sandbox" })
    const session = (await admin.api<Api.SessionDetail>(`/sessions/${done.sessionId}`)).json
    expect(session.session.machineId).toBe(child?.machineId)
  }, 180_000)

  it("a missing snapshot (404) fails with how to build it", async () => {
    fake.faults.unknownSnapshots = true
    try {
      const text = await failsWith(fresh, /Daytona has no snapshot "overlord-claude-code-serve" \(404\)/)
      expect(text).toContain("overlord daytona snapshot")
    } finally {
      fake.faults.unknownSnapshots = false
    }
    expect(
      fake.requests.some(
        (r) => r.method === "GET" && r.path === "/snapshots/overlord-claude-code-serve" && r.status === 404,
      ),
    ).toBe(true)
  }, 120_000)

  it("the organization's quota fails with Daytona's reason and what to do", async () => {
    fake.faults.quotaExceeded = true
    try {
      const text = await failsWith(fresh, /Daytona refused to create a sandbox \(403\): Total CPU limit exceeded/)
      expect(text).toContain("overlord sandboxes list")
    } finally {
      fake.faults.quotaExceeded = false
    }
  }, 120_000)

  it("a refused key (401) fails naming the key, not showing it", async () => {
    fake.faults.keyRevoked = true
    try {
      const text = await failsWith(fresh, /Daytona refused the API key \(401\)/)
      expect(text).toContain(fake.apiUrl)
    } finally {
      fake.faults.keyRevoked = false
    }
  }, 120_000)

  it("a remote the sandbox cannot clone fails naming the remote and the commit", async () => {
    const commit = gitIn(unclonable, "rev-parse", "HEAD")
    const text = await failsWith(unclonable, /^The sandbox could not clone /)
    expect(text).toContain(`https://***@127.0.0.1:9/acme/shop.git at ${commit.slice(0, 12)}`)
    expect(text).toContain("Is the commit pushed")
    expect(text).not.toContain(GIT_TOKEN)
    // The real git in the sandbox tried, and said why.
    expect(text).toMatch(/unable to access|Failed to connect|Could not connect/i)
    expect(fake.requests.some((r) => r.plane === "toolbox" && r.path === "/git/clone" && r.status === 400)).toBe(true)
  }, 120_000)

  it("a sandbox that never starts fails after the start timeout", async () => {
    fake.faults.neverStart = true
    try {
      const text = await failsWith(slowStart, /^The sandbox for slowstart did not start within 4 s/)
      expect(text).toContain("Daytona dashboard")
    } finally {
      fake.faults.neverStart = false
    }
    const stuck = [...fake.sandboxes.values()].find((s) => s.name.startsWith("overlord-slowstart-"))
    expect(stuck?.state).toBe("creating")
  }, 120_000)

  it("no key or token reaches the server: not in its database, its command events, nor its log", async () => {
    expect(commandIds.length).toBe(7)
    const database = await storedText(server)
    // Non-vacuous: the rows read are the ones this file made.
    for (const id of commandIds) expect(database).toContain(id)
    expect(database).toContain(STDERR_LINE)
    for (const secret of [fake.apiKey, ANTHROPIC_KEY, GIT_TOKEN]) {
      expect(database.includes(secret), `${secret} in the server's database`).toBe(false)
      expect(server.proc.output().includes(secret), `${secret} in the server's log`).toBe(false)
      // Nor in what the laptop's daemon printed (its log).
      expect(daemon?.output().includes(secret), `${secret} in the daemon's output`).toBe(false)
      for (const id of commandIds)
        expect(JSON.stringify(await detail(id)).includes(secret), `${secret} in command ${id}`).toBe(false)
    }
    expect(fake.errors).toEqual([])
  }, 60_000)
})
