/**
 * Found in walkthrough-4: Ctrl-C on `overlord run` ended only the CLI; Claude Code went on running on
 * the machine (or waited for ever on a permission prompt that only the gone CLI would answer). Now the
 * first Ctrl-C cancels the command (the run then ends as "cancelled", exit 1, its tool's process gone);
 * a second one leaves at once. The real daemon and server, the real Claude CLI running a Bash tool that
 * sleeps (a duration no other test uses, to find its own process).
 */
import { spawn } from "node:child_process"
import type { Api } from "@overlord/protocol"
import { OVERLORD_BIN } from "@overlord/testkit/overlord-process"
import {
  commandEnded,
  type RemoteCommandRig,
  remoteDaemonReady,
  startRemoteCommandRig,
} from "@overlord/testkit/remote-commands"
import { longBash, longBashSleeping } from "@overlord/testkit/scenarios"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, describe, expect, it } from "vitest"

const SLEEP_SECONDS = 731
const sleeping = () => longBashSleeping(SLEEP_SECONDS)

describe("Ctrl-C on overlord run", () => {
  let rig: RemoteCommandRig | undefined
  afterAll(() => rig?.cleanup())

  it("cancels the command on the machine, then exits with its end", async () => {
    rig = await startRemoteCommandRig(
      "overlord-run-ctrl-c-",
      longBash(SLEEP_SECONDS),
      "00000000-0000-4000-8000-00000000c0c0",
    )
    const { api } = await remoteDaemonReady<Api.Machine>(rig.startDaemon(), rig.home, [rig.claude.projectDir])
    const child = spawn(
      "bun",
      [OVERLORD_BIN, "--home", rig.home, "run", "--project", rig.claude.projectDir, rig.scenario.prompts[0] ?? ""],
      { stdio: ["ignore", "pipe", "pipe"] },
    )
    let out = ""
    child.stdout.on("data", (d) => {
      out += String(d)
    })
    child.stderr.on("data", (d) => {
      out += String(d)
    })
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    try {
      await waitFor("the tool's sleep", () => sleeping() || null, 60_000)
      child.kill("SIGINT")
      const code = await Promise.race([
        exited,
        new Promise<"still running">((resolve) => setTimeout(() => resolve("still running"), 30_000)),
      ])
      expect(code, out).toBe(1)
      expect(out).toContain("cancelling")
      expect(out).toMatch(/^cancelled$/m)
      const latest = (await api<Api.CommandList>("/commands?limit=1")).body.commands[0]
      expect(latest?.status).toBe("cancelled")
      await commandEnded<Api.CommandSummary>(api, latest?.commandId ?? "")
      await waitFor("the sleep to be gone", () => !sleeping() || null, 10_000)
    } finally {
      child.kill("SIGKILL")
      // Before the fix the command still ran: cancel it so no sleep outlives the test.
      const running = (await api<Api.CommandList>("/commands?limit=1")).body.commands[0]
      if (running && running.endedAt === null)
        await api(`/commands/${running.commandId}/input`, { type: "cancel" }).catch(() => {})
    }
  }, 120_000)
})
