/**
 * A follow-up message sent over the API while the command runs is answered in the same run: the real
 * daemon and server, the real Claude CLI, a fake API whose first answer is slow.
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
import { type OverlordProcess, startOverlord } from "@overlord/testkit/overlord-process"
import { FOLLOW_UP_ANSWER, followUp } from "@overlord/testkit/scenarios"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, describe, expect, it } from "vitest"

describe("a follow-up over the API", () => {
  let claude: ClaudeHome
  let fake: FakeAnthropic
  let daemon: OverlordProcess
  const savedEnv = { ...process.env }
  afterAll(async () => {
    daemon?.stop()
    await fake?.stop()
    process.env = savedEnv
    await claude?.cleanup()
  })

  it("reaches the running command, which answers it before it ends", async () => {
    claude = await makeClaudeHome("overlord-remote-follow-")
    fake = startFakeAnthropic(followUp(2500)(claude.projectDir).script)
    const sessions = join(claude.configDir, "projects", encodeProjectDir(claude.projectDir))
    await mkdir(sessions, { recursive: true })
    await writeFile(
      join(sessions, "00000000-0000-4000-8000-000000000005.jsonl"),
      `${JSON.stringify({ type: "user", uuid: "u", sessionId: "00000000-0000-4000-8000-000000000005", cwd: claude.projectDir, timestamp: new Date().toISOString(), message: { role: "user", content: "x" } })}\n`,
    )
    await mkdir(join(claude.configDir, "..", "tmp"), { recursive: true })
    Object.assign(process.env, claudeEnv(claude.configDir, fake.url), { OVERLORD_CLAUDE_PATH: await claudeBinary() })
    const home = join(claude.configDir, "..", "overlord-home")
    daemon = startOverlord(home, claude.configDir, ["--allow-remote"])
    const creds = await daemon.credentials()
    const api = async <T>(path: string, body?: unknown) => {
      const res = await fetch(`${creds.serverUrl}/api/v1${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: {
          authorization: `Bearer ${creds.apiToken}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
      return { status: res.status, body: (await res.json()) as T }
    }
    const machine = await waitFor(
      "the machine",
      async () =>
        (await api<{ machines: Api.Machine[] }>("/machines")).body.machines.find((m) => m.acceptsCommands) ?? null,
    )
    await waitFor("the project", async () =>
      (await readFile(join(home, "remote", "projects.json"), "utf8").catch(() => "")).includes(claude.projectDir)
        ? true
        : null,
    )
    const { command } = (
      await api<Api.CommandCreated>("/commands", {
        machineId: machine.machineId,
        projectDir: claude.projectDir,
        prompt: "Think slowly.",
      })
    ).body
    await waitFor("the run to start", () => fake.requests.some((q) => q.kind === "main") || null, 60_000)
    const sent = await api(`/commands/${command.commandId}/input`, { type: "message", text: "And a follow-up." })
    expect(sent.status).toBe(202)
    const done = await waitFor("the end", async () => {
      const c = (await api<Api.CommandDetail>(`/commands/${command.commandId}`)).body.command
      return c.endedAt !== null ? c : null
    })
    expect(done.status).toBe("completed")
    const { events } = (await api<Api.CommandDetail>(`/commands/${command.commandId}`)).body
    expect(JSON.stringify(events)).toContain(FOLLOW_UP_ANSWER)
  }, 120_000)
})
