/**
 * Walkthrough-4's "still open", the daemon's side: with a `daytona.json` it cannot use (one comma from
 * valid JSON), its own refusal of a sandbox command said "this machine has no Daytona settings: put
 * "apiKey" and "anthropicApiKey" in …daytona.json", keys that were there. (The server refuses first
 * when it knows the reason; the daemon checks every command itself.) Now it gives the reason it read
 * the file with. The daemon's real runner and settings loader.
 */
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Commands } from "@overlord/protocol"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, expect, it } from "vitest"
import { CommandRunner } from "../../src/remote/command-runner.ts"
import { loadDaytonaSettings } from "../../src/remote/daytona-settings.ts"

let root = ""
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true })
})

it("a sandbox command on a daemon whose daytona.json is unusable is refused with why", async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), "overlord-sandbox-refusal-")))
  const home = join(root, "home")
  const project = join(root, "project")
  await mkdir(project)
  await mkdir(home)
  await writeFile(join(home, "daytona.json"), '{"apiKey": "dtn_k", "anthropicApiKey": "sk-ant-k",}', { mode: 0o600 })
  // As the daemon reads it at start (daemon.ts).
  const sandboxesOff = (() => {
    try {
      loadDaytonaSettings(home, {})
    } catch (error) {
      return (error as Error).message
    }
    throw new Error("the settings were accepted")
  })()
  const sent: Commands.CommandDaemonMessage[] = []
  const runner = CommandRunner.open({
    home,
    config: { enabled: true, cancelGraceMs: 3000 },
    knownProjects: () => new Set([project]),
    send: (m) => sent.push(m),
    sandboxesOff,
  })
  try {
    await runner.accept({
      type: "command",
      commandId: "c-sandbox-off-1",
      kind: "claude",
      prompt: "Hi.",
      projectDir: project,
      where: "sandbox",
    })
    const exit = await waitFor("the refusal", () =>
      sent.find((m): m is Commands.CommandExit => m.type === "command-exit" && m.commandId === "c-sandbox-off-1"),
    )
    expect(exit.status).toBe("refused")
    expect(exit.message).toBe(
      `this machine's Daytona settings are unusable: ${join(home, "daytona.json")} is not valid JSON: fix it, then restart the daemon`,
    )
  } finally {
    await runner.close()
  }
})
