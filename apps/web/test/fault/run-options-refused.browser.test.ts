/**
 * Walkthrough-4's "still open": the Run panel offered "Daytona sandbox" and "Bypass permissions" on
 * a machine whose daemon refuses both (no Daytona settings; `allowBypassPermissions` off by default),
 * and only the refusal after the click explained. The daemon says what it accepts (`remote` in its
 * hello and status); the machines API now carries it (`Api.Machine.remote`), and the panel disables
 * those options with a one-line reason. A daemon that allows bypassPermissions keeps it on.
 * Real Chromium against the bundled CLI's daemon (`--allow-remote`) and embedded server.
 */
import { mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import { chromiumMissing, screenshot } from "@overlord/testkit/browser"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EmbeddedDashboardRig, startEmbeddedDashboardRig } from "../support/embedded-dashboard-rig.ts"

describe.skipIf(chromiumMissing())("Run panel: options the machine refuses", () => {
  let rig: EmbeddedDashboardRig

  beforeAll(async () => {
    rig = await startEmbeddedDashboardRig("run-options")
  }, 120_000)

  afterAll(async () => {
    await rig?.stop()
  })

  /**
   * Starts the daemon (a case that failed left its daemon running: it is stopped first), waits until the
   * machines API carries what it accepts, opens the Run panel.
   */
  const openRunPanel = async (name: string, bypassAllowed: boolean) => {
    const daemon = await rig.startDaemon(["--allow-remote"])
    const machine = await waitFor("the machine's remote capabilities", async () => {
      const { machines } = (await daemon.api<{ machines: Api.Machine[] }>("/machines")).body
      // This daemon's (the row keeps the previous daemon's until its hello).
      return machines.find((m) => m.online && m.remote?.bypassPermissions === bypassAllowed) ?? null
    })
    const page = await daemon.open("/run")
    await page.locator("[data-testid=run-prompt]").waitFor({ timeout: 30_000 })
    await page.locator("[data-testid=run-machine] option", { hasText: machine.name }).waitFor({ state: "attached" })
    await screenshot(page, name)
    return { machine, page, errors: daemon.errors, stopDaemon: daemon.stop }
  }

  it("no Daytona settings, bypassPermissions not allowed: both disabled, each with its reason", async () => {
    const { machine, page, errors, stopDaemon } = await openRunPanel("run-options-refused", false)
    // The API: what the daemon accepts, validated by `Api.Machine` (the test reads it as the dashboard does).
    expect(machine.remote).toEqual({
      enabled: true,
      maxConcurrent: expect.any(Number),
      maxPromptBytes: expect.any(Number),
      sandbox: false,
      bypassPermissions: false,
    })
    expect(await page.locator("[data-testid=run-where-sandbox]").isDisabled()).toBe(true)
    expect(await page.locator("[data-testid=run-where-local]").isChecked()).toBe(true)
    const sandboxNote = (await page.locator("[data-testid=run-sandbox-off]").textContent()) ?? ""
    expect(sandboxNote).toContain(`No Daytona sandbox on ${machine.name}`)
    expect(sandboxNote).toContain("~/.overlord/daytona.json")
    expect(await page.locator("[data-testid=run-permission-bypassPermissions]").isDisabled()).toBe(true)
    expect(await page.locator("[data-testid=run-permission-acceptEdits]").isDisabled()).toBe(false)
    const bypassNote = (await page.locator("[data-testid=run-bypass-off]").textContent()) ?? ""
    expect(bypassNote).toContain(`Bypass permissions is off on ${machine.name}`)
    expect(bypassNote).toContain('"allowBypassPermissions": true')
    expect(errors).toEqual([])
    await stopDaemon()
  }, 120_000)

  it("a daemon that allows bypassPermissions keeps the option, without a note", async () => {
    await mkdir(join(rig.home, "remote"), { recursive: true })
    await writeFile(
      join(rig.home, "remote", "config.json"),
      JSON.stringify({ enabled: true, allowBypassPermissions: true }),
    )
    const { machine, page, errors, stopDaemon } = await openRunPanel("run-options-bypass-allowed", true)
    expect(machine.remote?.bypassPermissions).toBe(true)
    expect(await page.locator("[data-testid=run-permission-bypassPermissions]").isDisabled()).toBe(false)
    expect(await page.locator("[data-testid=run-bypass-off]").count()).toBe(0)
    // Sandboxes are still off on it.
    expect(await page.locator("[data-testid=run-where-sandbox]").isDisabled()).toBe(true)
    expect(errors).toEqual([])
    await stopDaemon()
  }, 120_000)

  it("a daytona.json the daemon cannot use: the sandbox note gives its reason, not where the keys go", async () => {
    await writeFile(join(rig.home, "daytona.json"), '{"apiKey": "dtn_k", "anthropicApiKey": "sk-ant-k",}', {
      mode: 0o600,
    })
    const { machine, page, errors, stopDaemon } = await openRunPanel("run-options-daytona-unusable", true)
    await waitFor(
      "the machine's last error in the panel",
      async () =>
        ((await page.locator("[data-testid=run-sandbox-off]").textContent()) ?? "").includes("not valid JSON") || null,
    )
    const note = (await page.locator("[data-testid=run-sandbox-off]").textContent()) ?? ""
    expect(note).toBe(
      `No Daytona sandbox on ${machine.name}: ${join(rig.home, "daytona.json")} is not valid JSON: fix it, then restart the daemon.`,
    )
    expect(note).not.toContain('put "apiKey"')
    expect(await page.locator("[data-testid=run-where-sandbox]").isDisabled()).toBe(true)
    expect(errors).toEqual([])
    await stopDaemon()
  }, 120_000)
})
