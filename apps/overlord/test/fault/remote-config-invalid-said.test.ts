/**
 * Found in walkthrough-4: `~/.overlord/remote/config.json` with `"enabled": true` next to a bad value
 * (`"maxConcurrent": 0`) left remote commands off, said only in the daemon's log file, as
 * `Cause([Fail(SchemaError(Expected a value greater than 0 …`, while the dashboard told the user to set
 * `"enabled": true` — which they had. Now `overlord status` shows it among its warnings and the dashboard
 * as the machine's last error, in the schema's own words. The bundle's daemon with its embedded server.
 */
import { spawnSync } from "node:child_process"
import { mkdir, writeFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import type { Api } from "@overlord/protocol"
import { type ClaudeHome, makeClaudeHome } from "@overlord/testkit/claude-cli"
import { OVERLORD_BIN, type OverlordProcess, startOverlord } from "@overlord/testkit/overlord-process"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const SAID = 'remote commands stay off: Expected a value greater than 0 at ["maxConcurrent"]'

describe("a remote/config.json that does not validate", () => {
  let claude: ClaudeHome
  let home: string
  let daemon: OverlordProcess

  beforeAll(async () => {
    claude = await makeClaudeHome("overlord-remote-config-invalid-")
    home = join(dirname(claude.configDir), "overlord-home")
    await mkdir(join(home, "remote"), { recursive: true })
    await writeFile(join(home, "remote", "config.json"), '{"enabled": true, "maxConcurrent": 0}')
    daemon = startOverlord(home, claude.configDir)
  }, 120_000)

  afterAll(async () => {
    daemon?.stop()
    await claude?.cleanup()
  })

  it("is said by overlord status and in the dashboard's machine list", async () => {
    const { serverUrl, apiToken } = await daemon.credentials()
    const machine = await waitFor("the machine's last error", async () => {
      const res = await fetch(`${serverUrl}/api/v1/machines`, { headers: { authorization: `Bearer ${apiToken}` } })
      const { machines } = (await res.json()) as { machines: Api.Machine[] }
      return machines.find((m) => m.lastError !== null) ?? null
    })
    expect(machine.lastError).toContain(SAID)
    expect(machine.acceptsCommands).toBe(false)
    const status = spawnSync("bun", [OVERLORD_BIN, "--home", home, "status"], { encoding: "utf8" })
    expect(status.stdout).toContain(SAID)
    expect(status.stdout).not.toContain("Cause(")
  })
})
