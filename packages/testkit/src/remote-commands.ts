/**
 * What the remote-command end-to-end tests (apps/overlord/test/remote, apps/web delivery and Run panel)
 * and `scripts/bench/remote-latency.ts` set up alike: a project the daemon knows, the environment the
 * daemon hands the real Claude CLI, the API as a bearer token, the dashboard's live socket, and a daemon
 * (`overlord start --allow-remote`) paired with a standalone server.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { type ClaudeHome, claudeBinary, claudeEnv, encodeProjectDir, makeClaudeHome } from "./claude-cli.ts"
import { type FakeAnthropic, startFakeAnthropic } from "./fake-anthropic.ts"
import { type OverlordProcess, startOverlord } from "./overlord-process.ts"
import type { Scenario, ScenarioFactory } from "./scenarios.ts"
import { type BearerApi, bearerApi, type CliProcess, runCli } from "./standalone-server.ts"
import { waitFor } from "./wait.ts"

export { type BearerApi, bearerApi } from "./standalone-server.ts"

/**
 * A session of `projectDir` in the Claude config dir `claudeDir`, as an earlier run left it: the
 * daemon runs remote commands only in projects it learned from session files' cwd.
 */
export async function seedProjectSession(claudeDir: string, projectDir: string, sessionId: string): Promise<void> {
  const sessions = join(claudeDir, "projects", encodeProjectDir(projectDir))
  await mkdir(sessions, { recursive: true })
  await writeFile(
    join(sessions, `${sessionId}.jsonl`),
    `${JSON.stringify({
      type: "user",
      uuid: `u-${sessionId.slice(-4)}`,
      parentUuid: null,
      sessionId,
      cwd: projectDir,
      timestamp: new Date().toISOString(),
      message: { role: "user", content: "earlier work" },
    })}\n`,
  )
}

/**
 * Readies `claude` for remote commands against the fake API at `fakeUrl`: its project known (one
 * seeded session `sessionId`), the CLI's tmp dir made, and the environment the daemon runs the real CLI
 * with (the fake's URL, `OVERLORD_CLAUDE_PATH`) returned.
 */
export async function remoteClaudeEnv(
  claude: ClaudeHome,
  fakeUrl: string,
  sessionId: string,
): Promise<Record<string, string>> {
  await seedProjectSession(claude.configDir, claude.projectDir, sessionId)
  await mkdir(join(claude.configDir, "..", "tmp"), { recursive: true })
  return { ...claudeEnv(claude.configDir, fakeUrl), OVERLORD_CLAUDE_PATH: await claudeBinary() }
}

/** The dashboard's live socket on `serverUrl`, open; every message it receives (`Live.LiveMessage`) is pushed onto `into`. */
export async function openLiveSocket<Message>(
  serverUrl: string,
  apiToken: string,
  into: Message[],
): Promise<WebSocket> {
  const ws = new WebSocket(`${serverUrl.replace(/^http/, "ws")}/api/v1/live`, {
    headers: { authorization: `Bearer ${apiToken}`, origin: serverUrl },
  } as unknown as string[])
  ws.onmessage = (e) => into.push(JSON.parse(String(e.data)) as Message)
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve()
    ws.onerror = () => reject(new Error("live socket failed"))
  })
  return ws
}

/** The machine id `overlord login` stored in the laptop's `home`. */
export async function pairedMachineId(home: string): Promise<string> {
  return (JSON.parse(await readFile(join(home, "server.json"), "utf8")) as { machineId: string }).machineId
}

/**
 * `overlord start --foreground --allow-remote` on the paired laptop `home`, once `ready` says so (the
 * server lists the machine online, say); a failed wait carries the daemon's output.
 */
export async function startPairedDaemon(
  home: string,
  claudeDir: string,
  env: Record<string, string>,
  ready: () => Promise<boolean>,
): Promise<CliProcess> {
  const daemon = runCli(home, ["start", "--foreground", "--claude-dir", claudeDir, "--allow-remote"], env)
  await waitFor("the daemon to be connected", async () => (await ready()) || null, 60_000).catch((e: unknown) => {
    throw new Error(`${String(e)}\ndaemon output:\n${daemon.output()}`)
  })
  return daemon
}

/** Waits until the daemon at `home` has learned every one of `projectDirs` (its `remote/projects.json`). */
export function daemonKnowsProjects(home: string, projectDirs: readonly string[]): Promise<true> {
  return waitFor(`the daemon to know ${projectDirs.join(", ")}`, async () => {
    const text = await readFile(join(home, "remote", "projects.json"), "utf8").catch(() => "")
    return projectDirs.every((d) => text.includes(d)) ? true : null
  })
}

/** Waits for a machine the server lists as accepting commands (and passing `also`); returns it. */
export function machineAccepting<Machine extends { readonly acceptsCommands: boolean }>(
  api: BearerApi,
  also: (m: Machine) => boolean = () => true,
  timeoutMs = 60_000,
): Promise<Machine> {
  return waitFor(
    "a machine to accept commands",
    async () =>
      (await api<{ machines: Machine[] }>("/machines")).body.machines.find((m) => m.acceptsCommands && also(m)),
    timeoutMs,
  )
}

/** Waits until `GET /commands/{id}` shows the command ended; returns its `command` (`Api.CommandSummary`). */
export function commandEnded<Command extends { readonly endedAt: unknown }>(
  api: BearerApi,
  commandId: string,
  timeoutMs = 60_000,
): Promise<Command> {
  return waitFor(
    `the end of ${commandId}`,
    async () => {
      const c = (await api<{ command: Command }>(`/commands/${commandId}`)).body.command
      return c.endedAt !== null ? c : null
    },
    timeoutMs,
  )
}

/**
 * The laptop's Daytona settings, `<home>/daytona.json` (mode 0600), as a user writes them: the (fake)
 * Daytona's URL and key, the Anthropic key the sandbox gets, and the sandbox's CLI pointed at the fake
 * Anthropic API at `anthropicUrl` with its telemetry off. The keys stay on the laptop.
 */
export async function writeDaytonaSettings(
  home: string,
  daytona: { readonly apiUrl: string; readonly apiKey: string },
  settings: {
    readonly anthropicApiKey: string
    readonly anthropicUrl: string
    readonly snapshot: string
    readonly autoStopMinutes: number
    readonly startTimeoutSeconds?: number
  },
): Promise<void> {
  await writeFile(
    join(home, "daytona.json"),
    JSON.stringify({
      apiUrl: daytona.apiUrl,
      apiKey: daytona.apiKey,
      anthropicApiKey: settings.anthropicApiKey,
      snapshot: settings.snapshot,
      autoStopMinutes: settings.autoStopMinutes,
      statePolling: true,
      ...(settings.startTimeoutSeconds === undefined ? {} : { startTimeoutSeconds: settings.startTimeoutSeconds }),
      sandboxEnv: {
        ANTHROPIC_BASE_URL: settings.anthropicUrl,
        DISABLE_TELEMETRY: "1",
        DISABLE_ERROR_REPORTING: "1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      },
    }),
    { mode: 0o600 },
  )
}

/** `GET /api/v1<path>` on `serverUrl` with the bearer token: its JSON; throws unless the answer is 2xx. */
export async function getJson<T>(serverUrl: string, apiToken: string, path: string): Promise<T> {
  const res = await fetch(`${serverUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${apiToken}` } })
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

/**
 * A daemon just started with `--allow-remote` (its embedded server) once it accepts commands in every
 * one of `projectDirs`: its credentials, its API as its token, and its machine (`Api.Machine`).
 */
export async function remoteDaemonReady<Machine extends { readonly acceptsCommands: boolean }>(
  daemon: { credentials(): Promise<{ readonly serverUrl: string; readonly apiToken: string }> },
  home: string,
  projectDirs: readonly string[],
): Promise<{
  readonly serverUrl: string
  readonly apiToken: string
  readonly api: BearerApi
  readonly machine: Machine
}> {
  const { serverUrl, apiToken } = await daemon.credentials()
  const api = bearerApi(serverUrl, apiToken)
  const machine = await machineAccepting<Machine>(api)
  await daemonKnowsProjects(home, projectDirs)
  return { serverUrl, apiToken, api, machine }
}

/**
 * Waits until `process.kill(-pgid, 0)` throws: no process of the group is left. A waited-for deadline
 * rather than at once, because a killed grandchild is reparented to init and stays a zombie (a group
 * member) until init reaps it; this machine's init does that about every 2 s.
 */
export const groupGone = (pgid: number, timeoutMs = 10_000) =>
  waitFor(
    `process group ${pgid} to be gone`,
    () => {
      try {
        process.kill(-pgid, 0)
        return false
      } catch (error) {
        return (error as NodeJS.ErrnoException).code === "ESRCH"
      }
    },
    timeoutMs,
    50,
  )

/**
 * What the one-command end-to-end tests (cancel, follow-up, a daemon killed mid-command) set up alike:
 * a Claude home, the fake API playing `scenario`, the environment the daemon hands the real CLI (set on
 * `process.env`, which the daemon inherits, and restored by `cleanup`) and the laptop's Overlord home.
 */
export interface RemoteCommandRig {
  readonly claude: ClaudeHome
  readonly fake: FakeAnthropic
  readonly scenario: Scenario
  /** The laptop's Overlord home, beside the Claude config dir. */
  readonly home: string
  /** `overlord start --allow-remote` with its embedded server; `cleanup` stops every one started. */
  startDaemon(): OverlordProcess
  /** Asks `machineId` to run the scenario's first prompt in the project; the new command's id. */
  startCommand(api: BearerApi, machineId: string): Promise<string>
  cleanup(): Promise<void>
}

export async function startRemoteCommandRig(
  prefix: string,
  factory: ScenarioFactory,
  seedSessionId: string,
): Promise<RemoteCommandRig> {
  const savedEnv = { ...process.env }
  const daemons: OverlordProcess[] = []
  const claude = await makeClaudeHome(prefix)
  const scenario = factory(claude.projectDir)
  const fake = startFakeAnthropic(scenario.script)
  Object.assign(process.env, await remoteClaudeEnv(claude, fake.url, seedSessionId))
  const home = join(claude.configDir, "..", "overlord-home")
  return {
    claude,
    fake,
    scenario,
    home,
    startDaemon: () => {
      const daemon = startOverlord(home, claude.configDir, ["--allow-remote"])
      daemons.push(daemon)
      return daemon
    },
    startCommand: async (api, machineId) => {
      const created = await api<{ command: { commandId: string } }>("/commands", {
        machineId,
        projectDir: claude.projectDir,
        prompt: scenario.prompts[0],
      })
      if (created.status !== 201) throw new Error(`POST /commands answered ${created.status}: ${created.text}`)
      return created.body.command.commandId
    },
    cleanup: async () => {
      for (const daemon of daemons) daemon.stop()
      await fake.stop()
      process.env = savedEnv
      await claude.cleanup()
    },
  }
}
