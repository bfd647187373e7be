/**
 * Walkthrough-4's "still open": the Run panel offered "Daytona sandbox" and "Bypass permissions" on
 * a machine whose daemon refuses both (no Daytona settings; `allowBypassPermissions` off by default),
 * and only the refusal after the click explained. The daemon says what it accepts (`remote` in its
 * hello and status); the machines API now carries it (`Api.Machine.remote`), and the panel disables
 * those options with a one-line reason. A daemon that allows bypassPermissions keeps it on.
 * Real Chromium against the bundled CLI's daemon (`--allow-remote`) and embedded server.
 */
import { mkdir, writeFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import type { Api } from "@overlord/protocol"
import { type Browser, chromiumMissing, launchChromium, screenshot } from "@overlord/testkit/browser"
import { type ClaudeHome, makeClaudeHome } from "@overlord/testkit/claude-cli"
import { type OverlordProcess, startOverlord } from "@overlord/testkit/overlord-process"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ensureWebBuilt } from "../web-build.ts"

describe.skipIf(chromiumMissing())("Run panel: options the machine refuses", () => {
  let claude: ClaudeHome
  let home: string
  let daemon: OverlordProcess | undefined
  let browser: Browser

  beforeAll(async () => {
    ensureWebBuilt()
    claude = await makeClaudeHome("overlord-run-options-")
    home = join(dirname(claude.configDir), "overlord-home")
    browser = await launchChromium()
  }, 120_000)

  afterAll(async () => {
    await browser?.close().catch(() => {})
    daemon?.stop()
    await claude?.cleanup()
  })

  const stopDaemon = async () => {
    daemon?.stop()
    await waitFor("the daemon to stop", () => daemon?.child.exitCode !== null || null)
    daemon = undefined
  }

  /** Starts the daemon, waits until the machines API carries what it accepts, opens the Run panel. */
  const openRunPanel = async (name: string, bypassAllowed: boolean) => {
    // A case that failed left its daemon running (its home is the same).
    if (daemon) await stopDaemon()
    daemon = startOverlord(home, claude.configDir, ["--allow-remote"])
    const link = await waitFor("the dashboard link", async () => /Dashboard: (\S+)/.exec(daemon!.output())?.[1], 60_000)
    const { serverUrl, apiToken } = await daemon.credentials()
    const machine = await waitFor("the machine's remote capabilities", async () => {
      const res = await fetch(`${serverUrl}/api/v1/machines`, { headers: { authorization: `Bearer ${apiToken}` } })
      const { machines } = (await res.json()) as { machines: Api.Machine[] }
      // This daemon's (the row keeps the previous daemon's until its hello).
      return machines.find((m) => m.online && m.remote?.bypassPermissions === bypassAllowed) ?? null
    })
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const errors: string[] = []
    const page = await ctx.newPage()
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text())
    })
    await page.goto(link)
    await page.goto(`${serverUrl}/#/run`)
    await page.locator("[data-testid=run-prompt]").waitFor({ timeout: 30_000 })
    await page.locator("[data-testid=run-machine] option", { hasText: machine.name }).waitFor({ state: "attached" })
    await screenshot(page, name)
    return { machine, page, ctx, errors }
  }

  it("no Daytona settings, bypassPermissions not allowed: both disabled, each with its reason", async () => {
    const { machine, page, ctx, errors } = await openRunPanel("run-options-refused", false)
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
    await ctx.close()
    await stopDaemon()
  }, 120_000)

  it("a daemon that allows bypassPermissions keeps the option, without a note", async () => {
    await mkdir(join(home, "remote"), { recursive: true })
    await writeFile(
      join(home, "remote", "config.json"),
      JSON.stringify({ enabled: true, allowBypassPermissions: true }),
    )
    const { machine, page, ctx, errors } = await openRunPanel("run-options-bypass-allowed", true)
    expect(machine.remote?.bypassPermissions).toBe(true)
    expect(await page.locator("[data-testid=run-permission-bypassPermissions]").isDisabled()).toBe(false)
    expect(await page.locator("[data-testid=run-bypass-off]").count()).toBe(0)
    // Sandboxes are still off on it.
    expect(await page.locator("[data-testid=run-where-sandbox]").isDisabled()).toBe(true)
    expect(errors).toEqual([])
    await ctx.close()
    await stopDaemon()
  }, 120_000)

  it("a daytona.json the daemon cannot use: the sandbox note gives its reason, not where the keys go", async () => {
    await writeFile(join(home, "daytona.json"), '{"apiKey": "dtn_k", "anthropicApiKey": "sk-ant-k",}', { mode: 0o600 })
    const { machine, page, ctx, errors } = await openRunPanel("run-options-daytona-unusable", true)
    await waitFor(
      "the machine's last error in the panel",
      async () =>
        ((await page.locator("[data-testid=run-sandbox-off]").textContent()) ?? "").includes("not valid JSON") || null,
    )
    const note = (await page.locator("[data-testid=run-sandbox-off]").textContent()) ?? ""
    expect(note).toBe(
      `No Daytona sandbox on ${machine.name}: ${join(home, "daytona.json")} is not valid JSON: fix it, then restart the daemon.`,
    )
    expect(note).not.toContain('put "apiKey"')
    expect(await page.locator("[data-testid=run-where-sandbox]").isDisabled()).toBe(true)
    expect(errors).toEqual([])
    await ctx.close()
    await stopDaemon()
  }, 120_000)
})
