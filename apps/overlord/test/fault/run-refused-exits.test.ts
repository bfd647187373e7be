/**
 * `overlord run` for a command the daemon refuses at once (a project it does not know, a permission
 * mode it does not allow) ends with the daemon's reason and exit code 1. Before the fix it waited for
 * ever: the daemon refused within milliseconds, before the CLI's live socket was watching, and the
 * feed tells only of changes from then on. A mistyped `--permission-mode` is one sentence, not the
 * server's schema error; `--sandbox` without Daytona settings says where they go (it said only "this
 * machine's daemon has no Daytona settings"). The real daemon (bundle, `--allow-remote`) with its
 * embedded server.
 */
import { spawn } from "node:child_process"
import type { Api } from "@overlord/protocol"
import type { ClaudeHome } from "@overlord/testkit/claude-cli"
import { OVERLORD_BIN } from "@overlord/testkit/overlord-process"
import {
  type BearerApi,
  type RemoteCommandRig,
  remoteDaemonReady,
  startRemoteCommandRig,
} from "@overlord/testkit/remote-commands"
import { noTurns } from "@overlord/testkit/scenarios"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

/** `overlord run …args` on the laptop: its exit code and output, or null for the code if it still ran after `timeoutMs`. */
function overlordRun(home: string, args: readonly string[], timeoutMs: number) {
  const child = spawn("bun", [OVERLORD_BIN, "--home", home, "run", ...args], { stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  child.stdout.on("data", (d) => {
    out += String(d)
  })
  child.stderr.on("data", (d) => {
    out += String(d)
  })
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      resolve({ code: null, out: `${out}\n(still waiting after ${timeoutMs} ms)` })
    }, timeoutMs)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, out })
    })
  })
}

describe("overlord run, refused by the daemon", () => {
  let rig: RemoteCommandRig | undefined
  let claude: ClaudeHome
  let api: BearerApi
  let home: string

  beforeAll(async () => {
    rig = await startRemoteCommandRig("overlord-run-refused-", noTurns, "00000000-0000-4000-8000-00000000a001")
    ;({ claude, home } = rig)
    api = (await remoteDaemonReady<Api.Machine>(rig.startDaemon(), home, [claude.projectDir])).api
  }, 120_000)

  afterAll(() => rig?.cleanup())

  it("a project the daemon does not know: the reason, exit 1", async () => {
    const { code, out } = await overlordRun(home, ["--project", "/usr", "hi"], 30_000)
    expect(out).toContain("refused: /usr is not a folder Claude Code has been run in on this machine")
    expect(code, out).toBe(1)
    const latest = (await api<Api.CommandList>("/commands?limit=1")).body.commands[0]
    expect(latest).toMatchObject({ status: "refused", projectDir: "/usr" })
  }, 60_000)

  it("bypassPermissions, which this machine does not allow: the reason, exit 1", async () => {
    const { code, out } = await overlordRun(
      home,
      ["--project", claude.projectDir, "--permission-mode", "bypassPermissions", "hi"],
      30_000,
    )
    // Refused by the server at once, since the daemon said it does not allow it (the daemon refuses too).
    expect(out).toContain("refused (permission-mode-not-allowed): bypassPermissions is not allowed for remote commands")
    expect(out).toContain('"allowBypassPermissions": true')
    expect(code, out).toBe(1)
  }, 60_000)

  it("--sandbox on a machine without Daytona settings: says where they go, exit 1", async () => {
    const { code, out } = await overlordRun(home, ["--project", claude.projectDir, "--sandbox", "hi"], 30_000)
    expect(code, out).toBe(1)
    expect(out).toContain("no Daytona settings")
    expect(out).toContain('put "apiKey" and "anthropicApiKey" in its ~/.overlord/daytona.json')
  }, 60_000)

  it("a mistyped --permission-mode: one sentence naming the modes, nothing sent", async () => {
    const before = (await api<Api.CommandList>("/commands?limit=50")).body.commands.length
    const { code, out } = await overlordRun(
      home,
      ["--project", claude.projectDir, "--permission-mode", "bogus", "hi"],
      30_000,
    )
    expect(code, out).toBe(1)
    expect(out).toContain(
      "--permission-mode bogus is not a permission mode: use default, acceptEdits, plan, bypassPermissions",
    )
    expect(out).not.toContain("SchemaError")
    expect((await api<Api.CommandList>("/commands?limit=50")).body.commands).toHaveLength(before)
  }, 60_000)
})
