/**
 * Walkthrough-4's "still open": `overlord doctor` said nothing about remote commands (whether the
 * dashboard's Run panel and `overlord run` can start Claude Code here, and how to turn them on); the
 * daemon's state file did not record them. Now the daemon writes what it told the server, and doctor
 * says on (with its limits) or off, and where to turn them on: a running daemon needs a restart.
 * The bundled CLI and its daemon (foreground, embedded server).
 */
import { spawnSync } from "node:child_process"
import { mkdir, writeFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import { type ClaudeHome, makeClaudeHome } from "@overlord/testkit/claude-cli"
import { OVERLORD_BIN, type OverlordProcess, startOverlord } from "@overlord/testkit/overlord-process"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

describe("overlord doctor: remote commands", () => {
  let claude: ClaudeHome
  let home: string
  let daemon: OverlordProcess | undefined
  const doctor = () =>
    spawnSync("bun", [OVERLORD_BIN, "--home", home, "doctor", "--claude-dir", claude.configDir], { encoding: "utf8" })
      .stdout
  const config = () => join(home, "remote", "config.json")
  const stop = async () => {
    daemon?.stop()
    await waitFor("the daemon to stop", () => daemon?.child.exitCode !== null || null)
    daemon = undefined
  }
  /** Doctor's output once it reads the running daemon's state. */
  const doctorOfRunning = async (args: string[]) => {
    // A case that failed left its daemon running (the home is the same).
    if (daemon) await stop()
    daemon = startOverlord(home, claude.configDir, args)
    return waitFor("doctor to see the running daemon's remote commands", () => {
      const out = doctor()
      return /remote commands (on|off)/.test(out) && out.includes("daemon running") ? out : null
    })
  }

  beforeAll(async () => {
    claude = await makeClaudeHome("overlord-doctor-remote-")
    home = join(dirname(claude.configDir), "overlord-home")
  })

  afterAll(async () => {
    daemon?.stop()
    await claude?.cleanup()
  })

  it("no daemon, no config: off, and how to start with them", () => {
    expect(doctor()).toContain(
      `info  remote commands off (the dashboard's Run panel and \`overlord run\` cannot start Claude Code here): turn them on with \`overlord start --allow-remote\` (or "enabled": true in ${config()})`,
    )
  })

  it("a daemon started with --allow-remote: on, with what it accepts", async () => {
    const out = await doctorOfRunning(["--allow-remote"])
    expect(out).toMatch(
      /ok {4}remote commands on: .* \(\d+ at once; Daytona sandboxes off; bypassPermissions not allowed; settings: /,
    )
    await stop()
  }, 120_000)

  it("a daemon started without: off, and to restart it with the flag", async () => {
    const out = await doctorOfRunning([])
    expect(out).toContain(
      `turn them on with \`overlord stop && overlord start --allow-remote\` (or "enabled": true in ${config()}, then restart the daemon)`,
    )
    expect(out).not.toContain("remote commands on")
    await stop()
  }, 120_000)

  it("no daemon, the config turns them on: on at its next start", async () => {
    await mkdir(dirname(config()), { recursive: true })
    await writeFile(config(), JSON.stringify({ enabled: true }))
    expect(doctor()).toContain(`info  remote commands: on when the daemon starts (${config()})`)
  })
})
