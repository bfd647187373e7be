/**
 * Cancel over the API ends the command's process group: the real daemon and server, the real Claude
 * CLI running a Bash tool that sleeps (a duration no other test uses, to find its own process).
 */
import type { Api } from "@overlord/protocol"
import {
  commandEnded,
  type RemoteCommandRig,
  remoteDaemonReady,
  startRemoteCommandRig,
} from "@overlord/testkit/remote-commands"
import { longBash, longBashSleeping } from "@overlord/testkit/scenarios"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, describe, expect, it } from "vitest"

const SLEEP_SECONDS = 87
const sleeping = () => longBashSleeping(SLEEP_SECONDS)

describe("cancel over the API", () => {
  let rig: RemoteCommandRig | undefined
  afterAll(() => rig?.cleanup())

  it("ends the CLI and its tool's process group; the command shows cancelled", async () => {
    rig = await startRemoteCommandRig(
      "overlord-remote-cancel-",
      longBash(SLEEP_SECONDS),
      "00000000-0000-4000-8000-000000000004",
    )
    const { api, machine } = await remoteDaemonReady<Api.Machine>(rig.startDaemon(), rig.home, [rig.claude.projectDir])
    const commandId = await rig.startCommand(api, machine.machineId)
    await waitFor("the tool's sleep", () => sleeping() || null, 60_000)
    const cancelled = await api(`/commands/${commandId}/input`, { type: "cancel" })
    expect(cancelled.status).toBe(202)
    const done = await commandEnded<Api.CommandSummary>(api, commandId)
    expect(done.status).toBe("cancelled")
    await waitFor("the sleep to be gone", () => !sleeping() || null, 10_000)
  }, 120_000)
})
