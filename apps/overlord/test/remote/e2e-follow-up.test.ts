/**
 * A follow-up message sent over the API while the command runs is answered in the same run: the real
 * daemon and server, the real Claude CLI, a fake API whose first answer is slow.
 */
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import { type ClaudeHome, makeClaudeHome } from "@overlord/testkit/claude-cli"
import { type FakeAnthropic, startFakeAnthropic } from "@overlord/testkit/fake-anthropic"
import { type OverlordProcess, startOverlord } from "@overlord/testkit/overlord-process"
import { commandEnded, remoteClaudeEnv, remoteDaemonReady } from "@overlord/testkit/remote-commands"
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
    Object.assign(process.env, await remoteClaudeEnv(claude, fake.url, "00000000-0000-4000-8000-000000000005"))
    const home = join(claude.configDir, "..", "overlord-home")
    daemon = startOverlord(home, claude.configDir, ["--allow-remote"])
    const { api, machine } = await remoteDaemonReady<Api.Machine>(daemon, home, [claude.projectDir])
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
    const done = await commandEnded<Api.CommandSummary>(api, command.commandId)
    expect(done.status).toBe("completed")
    const { events } = (await api<Api.CommandDetail>(`/commands/${command.commandId}`)).body
    expect(JSON.stringify(events)).toContain(FOLLOW_UP_ANSWER)
  }, 120_000)
})
