/**
 * `where: "sandbox"` claude commands through the command runner: the REAL Daytona SDK against the
 * fake Daytona, the real Claude Code CLI "in the sandbox" against the fake Anthropic API.
 */
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Commands } from "@overlord/protocol"
import { claudeBinary } from "@overlord/testkit/claude-cli"
import { type FakeAnthropic, startFakeAnthropic } from "@overlord/testkit/fake-anthropic"
import { type FakeDaytona, startFakeDaytona } from "@overlord/testkit/fake-daytona"
import { unansweredScript } from "@overlord/testkit/scenarios"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { CommandRunner } from "../../src/remote/command-runner.ts"
import { DaytonaSandboxes, type DaytonaSettings } from "../../src/remote/daytona-sandbox.ts"
import { type KeptSessionFiles, sandboxProjectsDir } from "../../src/remote/sandbox-command.ts"
import { fakeDaytonaSettings } from "../support/daytona.ts"

const ANTHROPIC_KEY = "sk-ant-sandbox-command-test-51d2"

describe("sandbox commands through the runner", () => {
  let fake: FakeDaytona
  let anthropic: FakeAnthropic
  let root: string
  let settings: DaytonaSettings
  let projectDir: string

  const rig = async (
    sandboxes: DaytonaSandboxes | undefined,
    apiUrl = anthropic.url,
    onSandboxSessionFiles?: (kept: KeptSessionFiles) => Promise<void>,
  ) => {
    const home = await realpath(await mkdtemp(join(root, "home-")))
    const sent: Commands.CommandDaemonMessage[] = []
    const runner = CommandRunner.open({
      home,
      config: { enabled: true },
      ...(onSandboxSessionFiles ? { onSandboxSessionFiles } : {}),
      knownProjects: () => new Set([projectDir]),
      send: (m) => sent.push(m),
      ...(sandboxes !== undefined ? { sandboxes } : {}),
      sandboxEnv: {
        ANTHROPIC_BASE_URL: apiUrl,
        DISABLE_TELEMETRY: "1",
        DISABLE_ERROR_REPORTING: "1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      },
    })
    const exitOf = async (commandId: string) => {
      await waitFor(
        `the exit of ${commandId}`,
        () => sent.some((m) => m.type === "command-exit" && m.commandId === commandId),
        120_000,
      )
      return sent.find((m) => m.type === "command-exit" && m.commandId === commandId) as Commands.CommandExit
    }
    const eventsOf = (commandId: string) =>
      sent.filter((m): m is Commands.CommandEvent => m.type === "command-event" && m.commandId === commandId)
    return { home, sent, runner, exitOf, eventsOf }
  }

  const command = (commandId: string, prompt: string): Commands.ClaudeCommand => ({
    type: "command",
    commandId,
    kind: "claude",
    projectDir,
    prompt,
    where: "sandbox",
  })

  beforeAll(async () => {
    fake = await startFakeDaytona({ tools: { claude: await claudeBinary() } })
    root = await realpath(await mkdtemp(join(tmpdir(), "overlord-sandbox-command-")))
    projectDir = join(root, "project")
    await mkdir(projectDir, { recursive: true })
    projectDir = await realpath(projectDir)
    await writeFile(join(projectDir, "README.md"), "# sandbox project\n")
    settings = fakeDaytonaSettings(fake, {
      anthropicApiKey: ANTHROPIC_KEY,
      snapshot: "overlord-claude-code-test",
      autoStopMinutes: 20,
      startTimeoutSeconds: 2,
    })
    anthropic = startFakeAnthropic({
      main: [
        {
          blocks: [{ type: "text", text: "Answered from the sandbox." }],
          usage: { input: 50, output: 5, cacheWrite: 0, cacheRead: 0 },
        },
      ],
    })
  })

  afterAll(async () => {
    await anthropic?.stop()
    await fake?.stop()
    await rm(root, { recursive: true, force: true })
  })

  it("runs Claude Code in the sandbox: cli events in order, completed, session files kept", async () => {
    const sandboxes = new DaytonaSandboxes(settings)
    const r = await rig(sandboxes)
    await r.runner.accept(command("sb-1", "Say hello from the sandbox."))
    const exit = await r.exitOf("sb-1")
    expect(exit, JSON.stringify(exit)).toMatchObject({ status: "completed", exitCode: 0 })
    expect(r.sent[0]).toEqual({ type: "command-ack", commandId: "sb-1" })
    const events = r.eventsOf("sb-1")
    expect(events.map((e) => e.eventSeq)).toEqual(events.map((_, i) => i))
    const cli = events.flatMap((e) => (e.event.kind === "cli" ? [e.event.message as Record<string, unknown>] : []))
    expect(cli[0]).toMatchObject({ type: "system", subtype: "init" })
    expect(cli.at(-1)).toMatchObject({ type: "result", result: "Answered from the sandbox." })
    expect(exit.sessionId).toBe(cli[0]!.session_id)
    expect(anthropic.errors).toEqual([])
    // The exit is the last message for the command.
    expect(r.sent.filter((m) => m.commandId === "sb-1").at(-1)).toBe(exit)

    // The session file is kept under <home>/sandboxes/<machineName>/projects/, byte for byte.
    const sb = await sandboxes.ensureSandbox(projectDir)
    const sandboxProjects = join(sb.home, ".claude", "projects")
    const downloaded = await sandboxes.downloadSessionFiles(sb)
    const mine = downloaded.files.filter((f) => f.relativePath.endsWith(`${exit.sessionId}.jsonl`))
    expect(mine).toHaveLength(1)
    const kept = await readFile(join(sandboxProjectsDir(r.home, sb.machineName), mine[0]!.relativePath))
    expect(kept.equals(await readFile(join(sandboxProjects, mine[0]!.relativePath)))).toBe(true)
    expect(sandboxProjectsDir(r.home, sb.machineName)).toBe(join(r.home, "sandboxes", `daytona-${sb.name}`, "projects"))
    await r.runner.close()
  }, 180_000)

  it("cancels a sandbox run: the run's Daytona session is deleted and the command ends cancelled", async () => {
    const slow = startFakeAnthropic(unansweredScript())
    try {
      const r = await rig(new DaytonaSandboxes(settings), slow.url)
      await r.runner.accept(command("sb-cancel", "Take your time."))
      await waitFor("Claude Code to ask the API", () => slow.requests.some((q) => q.kind === "main"), 60_000)
      await r.runner.accept({ type: "command-input", commandId: "sb-cancel", input: { kind: "cancel" } })
      const exit = await r.exitOf("sb-cancel")
      expect(exit).toMatchObject({ status: "cancelled", message: "cancelled by the user" })
      expect(fake.requests.some((q) => q.method === "DELETE" && q.path.startsWith("/process/session/overlord-"))).toBe(
        true,
      )
      expect(r.eventsOf("sb-cancel").some((e) => e.event.kind === "cli")).toBe(true)
      await r.runner.close()
    } finally {
      await slow.stop()
    }
  }, 120_000)

  it("a run the daemon's stop interrupts keeps the session files without waiting for their sync, and pulls no patch", async () => {
    const slow = startFakeAnthropic(unansweredScript())
    try {
      const kept: KeptSessionFiles[] = []
      const r = await rig(new DaytonaSandboxes(settings), slow.url, async (k) => {
        kept.push(k)
      })
      await r.runner.accept(command("sb-stop", "Take your time."))
      await waitFor("Claude Code to ask the API", () => slow.requests.some((q) => q.kind === "main"), 60_000)
      const executed = () => fake.requests.filter((q) => q.path === "/process/execute" && q.body.includes("pull.patch"))
      const patchesBefore = executed().length
      // The first test's completed run pulled one: the count below can tell.
      expect(patchesBefore).toBeGreaterThan(0)
      await r.runner.close()
      expect((await r.exitOf("sb-stop")).status).toBe("interrupted")
      // The session file Claude Code had begun is kept and handed on, marked interrupted (no wait).
      expect(kept).toHaveLength(1)
      expect(kept[0]).toMatchObject({ interrupted: true })
      expect(kept[0]!.written.length).toBeGreaterThan(0)
      expect(executed().length).toBe(patchesBefore)
    } finally {
      await slow.stop()
    }
  }, 120_000)

  it("ends failed with Daytona's clear message when the API key is wrong (401)", async () => {
    const r = await rig(new DaytonaSandboxes({ ...settings, apiKey: "dtn_wrong_key_8812" }))
    await r.runner.accept(command("sb-401", "Never runs."))
    const exit = await r.exitOf("sb-401")
    expect(exit).toMatchObject({ status: "failed" })
    expect(exit.message).toContain("Daytona refused the API key (401)")
    expect(exit.message).not.toContain("dtn_wrong_key_8812")
    await r.runner.close()
  }, 60_000)

  it("refuses sandbox commands when this machine has no Daytona settings", async () => {
    const r = await rig(undefined)
    await r.runner.accept(command("sb-none", "Nowhere to run."))
    const mine = r.sent.filter((m) => m.commandId === "sb-none")
    expect(mine).toEqual([
      { type: "command-ack", commandId: "sb-none" },
      {
        type: "command-exit",
        commandId: "sb-none",
        status: "refused",
        reason: "sandbox-unavailable",
        message: expect.stringContaining("daytona.json"),
      },
    ])
    await r.runner.close()
  })
})
