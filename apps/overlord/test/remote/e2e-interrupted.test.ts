/**
 * A daemon SIGKILLed while a remote command runs: after it restarts, the command shows `interrupted`
 * (the runner's journal saw it start and never end) and is not run again. The real daemon bundle with
 * its embedded server (whose database outlives the kill), the real Claude CLI, the fake API.
 */
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import {
  bearerApi,
  commandEnded,
  type RemoteCommandRig,
  remoteDaemonReady,
  startRemoteCommandRig,
} from "@overlord/testkit/remote-commands"
import { slowStream } from "@overlord/testkit/scenarios"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, describe, expect, it } from "vitest"

describe("a daemon killed mid-command", () => {
  let rig: RemoteCommandRig | undefined
  afterAll(() => rig?.cleanup())

  it("shows the command interrupted after the restart, and never runs it again", async () => {
    rig = await startRemoteCommandRig("overlord-remote-kill-", slowStream(30), "00000000-0000-4000-8000-000000000002")
    const { home } = rig
    const first = rig.startDaemon()
    const { api, machine } = await remoteDaemonReady<Api.Machine>(first, home, [rig.claude.projectDir])
    const commandId = await rig.startCommand(api, machine.machineId)
    // Killed once the CLI has started (its `init` event is in): the scripted answer streams for 30 s,
    // and the CLI emits no further event until its one text block is complete. Waiting for more
    // events, as this test once did, waited those 30 s and then raced the kill against the command's
    // own end (`completed` instead of `interrupted`, the more likely the busier the machine).
    await waitFor("the command to run", async () => {
      const detail = (await api<Api.CommandDetail>(`/commands/${commandId}`)).body
      const started = detail.events.some((e) => e.event.kind === "cli" && e.event.message.type === "system")
      return detail.command.status === "running" && started ? true : null
    })
    first.child.kill("SIGKILL")
    await new Promise((resolve) => first.child.once("exit", resolve))

    const restarted = await rig.startDaemon().credentials()
    const after = await commandEnded<Api.CommandSummary>(
      bearerApi(restarted.serverUrl, restarted.apiToken),
      commandId,
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
      .filter((e) => e.commandId === commandId)
    expect(audit.filter((e) => e.event === "started")).toHaveLength(1)
    expect(audit.some((e) => e.event === "interrupted")).toBe(true)
  }, 120_000)
})
