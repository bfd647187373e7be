/**
 * Found in walkthrough-4: with remote commands off, the Run panel told the user to "Start its daemon
 * with overlord start --allow-remote" about a machine whose daemon was running, and doing so printed
 * only "already running (pid N); `overlord stop` first"; the API's refusal (what `overlord run` prints)
 * said "enable them in its remote config" without saying which file (the overview's link title said
 * the same "overlord start --allow-remote"). Now an online machine's hint, the link title and
 * the refusal say `overlord stop && overlord start --allow-remote` and name `~/.overlord/remote/config.json`,
 * and `overlord start --allow-remote` next to a running daemon says to start it again with the flag.
 * Real Chromium against the bundled CLI's daemon and embedded server.
 */
import { spawnSync } from "node:child_process"
import type { Api } from "@overlord/protocol"
import { chromiumMissing, screenshot } from "@overlord/testkit/browser"
import { OVERLORD_BIN } from "@overlord/testkit/overlord-process"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  type EmbeddedDaemon,
  type EmbeddedDashboardRig,
  startEmbeddedDashboardRig,
} from "../support/embedded-dashboard-rig.ts"

describe.skipIf(chromiumMissing())("remote commands off: what the user is told to do", () => {
  let rig: EmbeddedDashboardRig
  let daemon: EmbeddedDaemon

  beforeAll(async () => {
    rig = await startEmbeddedDashboardRig("remote-off")
    daemon = await rig.startDaemon()
  }, 120_000)

  afterAll(async () => {
    await rig?.stop()
  })

  it("the Run panel says to restart the running daemon with the flag, and where the config is", async () => {
    const page = await daemon.open("/run")
    const reason = page.locator("[data-testid=run-disabled-reason]")
    await reason.waitFor({ timeout: 30_000 })
    const text = (await reason.textContent()) ?? ""
    expect(text).toContain("Restart its daemon with overlord stop && overlord start --allow-remote")
    expect(text).toContain("~/.overlord/remote/config.json")
    expect(await page.locator("[data-testid=run-submit]").isDisabled()).toBe(true)
    await screenshot(page, "remote-off-hint")
    // The overview's link to the machine's commands says the same in its title.
    await page.goto(`${daemon.serverUrl}/#/`)
    const runLink = page.locator("[data-testid=machine-run]").first()
    await runLink.waitFor({ timeout: 30_000 })
    expect(await runLink.getAttribute("title")).toBe(
      "Not accepting commands: overlord stop && overlord start --allow-remote",
    )
    expect(daemon.errors).toEqual([])
    await page.close()
  })

  it("the API's refusal (what `overlord run` prints) says the same", async () => {
    const { machines } = (await daemon.api<{ machines: Api.Machine[] }>("/machines")).body
    const { body } = await daemon.api<Api.CommandErrorResponse>("/commands", {
      machineId: machines[0]?.machineId ?? "",
      projectDir: rig.claude.projectDir,
      prompt: "Hello?",
    })
    expect(body.error.reason).toBe("remote-disabled")
    expect(body.error.message).toContain("overlord stop && overlord start --allow-remote")
    expect(body.error.message).toContain("~/.overlord/remote/config.json")
  })

  it("`overlord start --allow-remote` next to the running daemon says to stop it first, then start with the flag", () => {
    const started = spawnSync("bun", [OVERLORD_BIN, "--home", rig.home, "start", "--allow-remote"], {
      encoding: "utf8",
    })
    expect(started.status).toBe(1)
    expect(started.stderr).toContain("`overlord stop` first, then `overlord start --allow-remote`")
  })
})
