/**
 * Found in walkthrough-4: a `~/.overlord/daytona.json` one comma away from valid JSON (its keys in it)
 * was read as no file: `overlord sandboxes list` and the daemon said "Daytona is not configured on this
 * machine: put "apiKey" and "anthropicApiKey" in …daytona.json", sending the user to do what they had
 * done; `"apiKey": 5` went on to Daytona. Now the file is named with what is wrong, and the daemon's
 * "sandboxes off" warning is in `overlord status` (it was only in the log file).
 */
import { spawnSync } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import type { Api } from "@overlord/protocol"
import { type ClaudeHome, makeClaudeHome } from "@overlord/testkit/claude-cli"
import { OVERLORD_BIN, type OverlordProcess, startOverlord } from "@overlord/testkit/overlord-process"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, describe, expect, it } from "vitest"
import { DaytonaSandboxError } from "../../src/remote/daytona-errors.ts"
import { loadDaytonaSettings } from "../../src/remote/daytona-settings.ts"

const NO_ENV = {}

describe("a daytona.json that cannot be used", () => {
  const dirs: string[] = []
  let claude: ClaudeHome | undefined
  let daemon: OverlordProcess | undefined
  afterAll(async () => {
    daemon?.stop()
    await claude?.cleanup()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })
  const homeWith = async (text: string) => {
    const home = await mkdtemp(join(tmpdir(), "overlord-daytona-invalid-"))
    dirs.push(home)
    await writeFile(join(home, "daytona.json"), text, { mode: 0o600 })
    return home
  }
  const refusal = (home: string) => {
    try {
      loadDaytonaSettings(home, NO_ENV)
    } catch (error) {
      return error as DaytonaSandboxError
    }
    throw new Error("the settings were accepted")
  }

  it("not JSON: names the file and says so, not 'not configured'", async () => {
    const home = await homeWith('{"apiKey": "dtn_k", "anthropicApiKey": "sk-ant-k",}')
    const error = refusal(home)
    expect(error).toBeInstanceOf(DaytonaSandboxError)
    expect(error.reason).not.toBe("not-configured")
    expect(error.message).toBe(`${join(home, "daytona.json")} is not valid JSON: fix it, then restart the daemon`)
    const listed = spawnSync("bun", [OVERLORD_BIN, "--home", home, "sandboxes", "list"], { encoding: "utf8" })
    expect(listed.stderr).toContain("is not valid JSON")
    expect(listed.stderr).not.toContain("not configured")
  })

  it("a key that is not a string: names it", async () => {
    const home = await homeWith('{"apiKey": 5, "anthropicApiKey": "sk-ant-k"}')
    expect(refusal(home).message).toContain('has "apiKey" not a string')
  })

  it("the daemon's 'sandboxes off' is a warning of overlord status", async () => {
    claude = await makeClaudeHome("overlord-daytona-invalid-daemon-")
    const home = join(dirname(claude.configDir), "overlord-home")
    daemon = startOverlord(home, claude.configDir, ["--allow-remote"])
    await daemon.credentials()
    daemon.stop()
    await waitFor("the daemon to stop", () => daemon?.child.exitCode !== null || null)
    await writeFile(join(home, "daytona.json"), '{"apiKey": "dtn_k",', { mode: 0o600 })
    daemon = startOverlord(home, claude.configDir, ["--allow-remote"])
    await daemon.credentials()
    const status = await waitFor("the warning in overlord status", () => {
      const out = spawnSync("bun", [OVERLORD_BIN, "--home", home, "status"], { encoding: "utf8" }).stdout
      return out.includes("sandboxes off") ? out : null
    })
    expect(status).toContain(
      `Daytona settings unusable, sandboxes off: ${join(home, "daytona.json")} is not valid JSON`,
    )
    // A sandbox command is refused by the server with the daemon's reason (walkthrough-4 "still open":
    // it said "no Daytona settings: put apiKey and anthropicApiKey in daytona.json", keys that were there).
    const { serverUrl, apiToken } = await daemon.credentials()
    const api = (path: string, body?: unknown) =>
      fetch(`${serverUrl}/api/v1${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { authorization: `Bearer ${apiToken}`, "content-type": "application/json", origin: serverUrl },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    const machine = await waitFor("the machine's last error to carry the warning", async () => {
      const { machines } = (await (await api("/machines")).json()) as { machines: Api.Machine[] }
      return machines.find((m) => m.lastError?.includes("sandboxes off")) ?? null
    })
    const res = await api("/commands", {
      machineId: machine.machineId,
      projectDir: claude.projectDir,
      prompt: "hi",
      where: "sandbox",
    })
    expect(res.status).toBe(409)
    const { error } = (await res.json()) as Api.ApiError & { error: { reason?: string } }
    expect(error.reason).toBe("sandbox-unavailable")
    expect(error.message).toBe(
      `this machine's daemon runs no sandboxes, its Daytona settings are unusable: ${join(home, "daytona.json")} is not valid JSON: fix it, then restart the daemon`,
    )
  }, 120_000)
})
