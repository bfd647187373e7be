/**
 * A follow-up message sent over the API while the command runs is answered in the same run: the real
 * daemon and server, the real Claude CLI, a fake API whose first answer is slow.
 */
import type { Api } from "@overlord/protocol"
import {
  commandEnded,
  type RemoteCommandRig,
  remoteDaemonReady,
  startRemoteCommandRig,
} from "@overlord/testkit/remote-commands"
import { FOLLOW_UP_ANSWER, followUp } from "@overlord/testkit/scenarios"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, describe, expect, it } from "vitest"

describe("a follow-up over the API", () => {
  let rig: RemoteCommandRig | undefined
  afterAll(() => rig?.cleanup())

  it("reaches the running command, which answers it before it ends", async () => {
    rig = await startRemoteCommandRig("overlord-remote-follow-", followUp(2500), "00000000-0000-4000-8000-000000000005")
    const { fake } = rig
    const { api, machine } = await remoteDaemonReady<Api.Machine>(rig.startDaemon(), rig.home, [rig.claude.projectDir])
    const commandId = await rig.startCommand(api, machine.machineId)
    await waitFor("the run to start", () => fake.requests.some((q) => q.kind === "main") || null, 60_000)
    const sent = await api(`/commands/${commandId}/input`, { type: "message", text: "And a follow-up." })
    expect(sent.status).toBe(202)
    const done = await commandEnded<Api.CommandSummary>(api, commandId)
    expect(done.status).toBe("completed")
    const { events } = (await api<Api.CommandDetail>(`/commands/${commandId}`)).body
    expect(JSON.stringify(events)).toContain(FOLLOW_UP_ANSWER)
  }, 120_000)
})
