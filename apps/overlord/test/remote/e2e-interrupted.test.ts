/**
 * A daemon SIGKILLed while a remote command runs: after it restarts, the command shows `interrupted`
 * (the runner's journal saw it start and never end) and is not run again. The real daemon bundle with
 * its embedded server (whose database outlives the kill), the real Claude CLI, the fake API.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import {
  type ClaudeHome,
  claudeBinary,
  claudeEnv,
  encodeProjectDir,
  makeClaudeHome,
} from "@overlord/testkit/claude-cli"
import { type FakeAnthropic, startFakeAnthropic } from "@overlord/testkit/fake-anthropic"
import { type OverlordCredentials, type OverlordProcess, startOverlord } from "@overlord/testkit/overlord-process"
import { slowStream } from "@overlord/testkit/scenarios"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, describe, expect, it } from "vitest"

describe("a daemon killed mid-command", () => {
  let claude: ClaudeHome
  let fake: FakeAnthropic
  const daemons: OverlordProcess[] = []
  const savedEnv = { ...process.env }

  afterAll(async () => {
    for (const d of daemons) d.stop()
    await fake?.stop()
    process.env = savedEnv
    await claude?.cleanup()
  })

  it("shows the command interrupted after the restart, and never runs it again", async () => {
    claude = await makeClaudeHome("overlord-remote-kill-")
    fake = startFakeAnthropic(slowStream(30)(claude.projectDir).script)
    const sessions = join(claude.configDir, "projects", encodeProjectDir(claude.projectDir))
    await mkdir(sessions, { recursive: true })
    await writeFile(
      join(sessions, "00000000-0000-4000-8000-000000000002.jsonl"),
      `${JSON.stringify({ type: "user", uuid: "u-1", sessionId: "00000000-0000-4000-8000-000000000002", cwd: claude.projectDir, timestamp: new Date().toISOString(), message: { role: "user", content: "earlier" } })}\n`,
    )
    await mkdir(join(claude.configDir, "..", "tmp"), { recursive: true })
    Object.assign(process.env, claudeEnv(claude.configDir, fake.url), { OVERLORD_CLAUDE_PATH: await claudeBinary() })
    const home = join(claude.configDir, "..", "overlord-home")
    const start = () => {
      const d = startOverlord(home, claude.configDir, ["--allow-remote"])
      daemons.push(d)
      return d
    }
    const api = async <T>(creds: OverlordCredentials, path: string, body?: unknown) => {
      const res = await fetch(`${creds.serverUrl}/api/v1${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: {
          authorization: `Bearer ${creds.apiToken}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
      return (await res.json()) as T
    }

    const first = start()
    let creds = await first.credentials()
    const machine = await waitFor(
      "the machine to accept commands",
      async () =>
        (await api<{ machines: Api.Machine[] }>(creds, "/machines")).machines.find((m) => m.acceptsCommands) ?? null,
    )
    await waitFor("the daemon to know the project", async () =>
      (await readFile(join(home, "remote", "projects.json"), "utf8").catch(() => "")).includes(claude.projectDir)
        ? true
        : null,
    )
    const { command } = await api<Api.CommandCreated>(creds, "/commands", {
      machineId: machine.machineId,
      projectDir: claude.projectDir,
      prompt: "Tell a long story.",
    })
    await waitFor("the command to run", async () => {
      const detail = await api<Api.CommandDetail>(creds, `/commands/${command.commandId}`)
      return detail.command.status === "running" && detail.events.length > 2 ? true : null
    })
    first.child.kill("SIGKILL")
    await new Promise((resolve) => first.child.once("exit", resolve))

    start()
    creds = await daemons[1]!.credentials()
    const after = await waitFor(
      "the command to end",
      async () => {
        const c = (await api<Api.CommandDetail>(creds, `/commands/${command.commandId}`)).command
        return c.endedAt !== null ? c : null
      },
      30_000,
    )
    expect(after.status).toBe("interrupted")
    expect(after.error?.reason).toBe("interrupted")
    // Started once, in the first daemon's life: the audit log shows no second start.
    await new Promise((r) => setTimeout(r, 1000))
    const audit = (await readFile(join(home, "remote", "audit.jsonl"), "utf8"))
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as { event: string; commandId?: string })
      .filter((e) => e.commandId === command.commandId)
    expect(audit.filter((e) => e.event === "started")).toHaveLength(1)
    expect(audit.some((e) => e.event === "interrupted")).toBe(true)
  }, 120_000)
})
