/**
 * Cancel over the API ends the command's process group: the real daemon and server, the real Claude
 * CLI running a Bash tool that sleeps (a duration no other test uses, to find its own process).
 */
import { execFileSync } from "node:child_process"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import { type ClaudeHome, makeClaudeHome } from "@overlord/testkit/claude-cli"
import { type FakeAnthropic, startFakeAnthropic } from "@overlord/testkit/fake-anthropic"
import { type OverlordProcess, startOverlord } from "@overlord/testkit/overlord-process"
import { commandEnded, remoteClaudeEnv, remoteDaemonReady } from "@overlord/testkit/remote-commands"
import { longBash } from "@overlord/testkit/scenarios"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, describe, expect, it } from "vitest"

const SLEEP_SECONDS = 87
const sleeping = () => {
  try {
    return execFileSync("pgrep", ["-f", `sleep ${SLEEP_SECONDS}`], { encoding: "utf8" }).trim() !== ""
  } catch {
    return false
  }
}

describe("cancel over the API", () => {
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

  it("ends the CLI and its tool's process group; the command shows cancelled", async () => {
    claude = await makeClaudeHome("overlord-remote-cancel-")
    fake = startFakeAnthropic(longBash(SLEEP_SECONDS)(claude.projectDir).script)
    Object.assign(process.env, await remoteClaudeEnv(claude, fake.url, "00000000-0000-4000-8000-000000000004"))
    const home = join(claude.configDir, "..", "overlord-home")
    daemon = startOverlord(home, claude.configDir, ["--allow-remote"])
    const { api, machine } = await remoteDaemonReady<Api.Machine>(daemon, home, [claude.projectDir])
    const { command } = (
      await api<Api.CommandCreated>("/commands", {
        machineId: machine.machineId,
        projectDir: claude.projectDir,
        prompt: "Wait a while in the shell.",
      })
    ).body
    await waitFor("the tool's sleep", () => sleeping() || null, 60_000)
    const cancelled = await api(`/commands/${command.commandId}/input`, { type: "cancel" })
    expect(cancelled.status).toBe(202)
    const done = await commandEnded<Api.CommandSummary>(api, command.commandId)
    expect(done.status).toBe("cancelled")
    await waitFor("the sleep to be gone", () => !sleeping() || null, 10_000)
  }, 120_000)
})
