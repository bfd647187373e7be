/** A command runner over a fresh daemon home, running the real CLI against a scripted fake API. */
import { mkdir, mkdtemp, readdir, readFile, realpath, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { Commands } from "@overlord/protocol"
import { type ClaudeHome, claudeBinary, claudeEnv, makeClaudeHome } from "@overlord/testkit/claude-cli"
import { type FakeAnthropic, startFakeAnthropic } from "@overlord/testkit/fake-anthropic"
import type { ScenarioFactory } from "@overlord/testkit/scenarios"
import { waitFor } from "@overlord/testkit/wait"
import { Schema } from "effect"
import { CommandRunner, type RemoteConfig, remotePaths } from "../../src/remote/command-runner.ts"

export interface RemoteRig {
  readonly claude: ClaudeHome
  readonly fake: FakeAnthropic | undefined
  readonly home: string
  readonly sent: Commands.CommandDaemonMessage[]
  runner: CommandRunner
  /** Opens a new runner on the same home, as a restarted daemon would. */
  readonly restart: (config?: Partial<RemoteConfig>) => Promise<CommandRunner>
  readonly claudeCommand: (
    commandId: string,
    extra?: Partial<Omit<Commands.ClaudeCommand, "type" | "commandId" | "kind">>,
  ) => Commands.ClaudeCommand
  readonly eventsOf: (commandId: string) => Commands.CommandEvent[]
  readonly exitOf: (commandId: string) => Promise<Commands.CommandExit>
  readonly audit: () => Promise<Array<Record<string, unknown>>>
  readonly dispose: () => Promise<void>
}

export const ENABLED: Partial<RemoteConfig> = { enabled: true, cancelGraceMs: 3000 }

export async function makeRig(
  factory: ScenarioFactory | undefined,
  config: Partial<RemoteConfig> = ENABLED,
  extraProjects: readonly string[] = [],
): Promise<RemoteRig> {
  const claude = await makeClaudeHome("overlord-remote-")
  const scenario = factory?.(claude.projectDir)
  await scenario?.setup?.(claude.projectDir)
  const fake = scenario ? startFakeAnthropic(scenario.script) : undefined
  const home = await realpath(await mkdtemp(join(tmpdir(), "overlord-remote-home-")))
  await mkdir(join(dirname(claude.configDir), "tmp"), { recursive: true })
  const sent: Commands.CommandDaemonMessage[] = []
  const claudePath = await claudeBinary()
  const open = (c: Partial<RemoteConfig>) =>
    CommandRunner.open({
      home,
      config: c,
      knownProjects: () => new Set([claude.projectDir, ...extraProjects]),
      send: (m) => sent.push(m),
      claudePath,
      env: claudeEnv(claude.configDir, fake?.url ?? "http://127.0.0.1:9"),
    })
  const rig: RemoteRig = {
    claude,
    fake,
    home,
    sent,
    runner: open(config),
    restart: async (c = config) => {
      await rig.runner.close()
      rig.runner = open(c)
      return rig.runner
    },
    claudeCommand: (commandId, extra = {}) => ({
      type: "command",
      commandId,
      kind: "claude",
      prompt: scenario?.prompts[0] ?? "Hello.",
      projectDir: claude.projectDir,
      ...extra,
    }),
    eventsOf: (commandId) =>
      sent.filter((m): m is Commands.CommandEvent => m.type === "command-event" && m.commandId === commandId),
    exitOf: (commandId) =>
      waitFor(
        `the exit of ${commandId}`,
        () =>
          sent.find((m): m is Commands.CommandExit => m.type === "command-exit" && m.commandId === commandId) ?? null,
        60_000,
      ),
    audit: async () =>
      (await readFile(remotePaths(home).audit, "utf8").catch(() => ""))
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    dispose: async () => {
      await rig.runner.close()
      // Everything the runner said is a valid protocol message.
      for (const message of sent) Schema.decodeUnknownSync(Commands.CommandDaemonMessage)(message)
      await fake?.stop()
      await claude.cleanup()
      await rm(home, { recursive: true, force: true })
    },
  }
  return rig
}

/** The stream-json messages of a command's `cli` events. */
export const cliMessages = (events: readonly Commands.CommandEvent[]): Array<Record<string, unknown>> =>
  events.flatMap((e) => (e.event.kind === "cli" ? [e.event.message as Record<string, unknown>] : []))

/** Every text block the assistant wrote. */
export const assistantTexts = (events: readonly Commands.CommandEvent[]): string[] =>
  cliMessages(events)
    .filter((m) => m.type === "assistant")
    .flatMap((m) => {
      const content = (m.message as { content?: unknown } | undefined)?.content
      return Array.isArray(content)
        ? content.flatMap((b: { type?: unknown; text?: unknown }) =>
            b.type === "text" && typeof b.text === "string" ? [b.text] : [],
          )
        : []
    })

export { groupGone } from "@overlord/testkit/remote-commands"

/** The session file `<sessionId>.jsonl` somewhere under `projects` (a sandbox's `~/.claude/projects`). */
export async function findSessionFile(projects: string, sessionId: string): Promise<string> {
  for (const dir of await readdir(projects)) {
    const path = join(projects, dir, `${sessionId}.jsonl`)
    if (
      await readFile(path).then(
        () => true,
        () => false,
      )
    )
      return path
  }
  throw new Error(`no ${sessionId}.jsonl under ${projects}`)
}
