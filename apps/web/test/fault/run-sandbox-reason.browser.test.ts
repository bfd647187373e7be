/**
 * Walkthrough-6's "still open", the dashboard's side: the Run panel's "No Daytona sandbox" note took
 * the daemon's reason (a `daytona.json` it cannot use) from the machine's last error, so a later
 * warning of the daemon turned it into "put apiKey and anthropicApiKey in daytona.json", keys that were
 * there. It now reads `Machine.remote.sandboxesOff`.
 * Real Chromium against the bundled CLI's daemon (`--allow-remote`) and embedded server. The later
 * warning is put into what the page reads (the machines list, the live health feed; a daemon as root
 * cannot be made to warn of an unreadable folder: `apps/overlord/test/fault/sandbox-reason-after-warning.test.ts`
 * gets a real one, running the daemon as `nobody`, and checks the same API and the server's refusal).
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

const LATER_WARNING =
  "2026-12-07T00:00:00.000Z cannot read /home/dev/.claude/projects/-home-dev-x: permission denied; its sessions are skipped until it can be read"

describe.skipIf(chromiumMissing())("Run panel: why sandboxes are off, after a later warning", () => {
  let claude: ClaudeHome
  let home: string
  let daemon: OverlordProcess | undefined
  let browser: Browser

  beforeAll(async () => {
    ensureWebBuilt()
    claude = await makeClaudeHome("overlord-run-sandbox-reason-")
    home = join(dirname(claude.configDir), "overlord-home")
    browser = await launchChromium()
  }, 120_000)

  afterAll(async () => {
    await browser?.close().catch(() => {})
    daemon?.stop()
    await claude?.cleanup()
  })

  it("the note gives the daemon's reason, not where the keys go", async () => {
    await mkdir(home, { recursive: true, mode: 0o700 })
    await writeFile(join(home, "daytona.json"), '{"apiKey": "dtn_k", "anthropicApiKey": "sk-ant-k",}', { mode: 0o600 })
    daemon = startOverlord(home, claude.configDir, ["--allow-remote"])
    const link = await waitFor("the dashboard link", async () => /Dashboard: (\S+)/.exec(daemon!.output())?.[1], 60_000)
    const { serverUrl, apiToken } = await daemon.credentials()
    const machine = await waitFor("the machine's remote capabilities", async () => {
      const res = await fetch(`${serverUrl}/api/v1/machines`, { headers: { authorization: `Bearer ${apiToken}` } })
      const { machines } = (await res.json()) as { machines: Api.Machine[] }
      return machines.find((m) => m.online && m.remote?.sandbox === false) ?? null
    })
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const errors: string[] = []
    const page = await ctx.newPage()
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text())
    })
    // The server's answers (the machines list and the live health feed, which wins), with the machine's
    // last error now a later warning of its daemon.
    let rewritten = 0
    const withLaterWarning = (machines: { machineId: string; lastError: string | null }[]) => {
      for (const m of machines) if (m.machineId === machine.machineId) m.lastError = LATER_WARNING
      rewritten += 1
    }
    await page.route("**/api/v1/machines", async (route) => {
      const res = await route.fetch()
      const body = (await res.json()) as { machines: { machineId: string; lastError: string | null }[] }
      withLaterWarning(body.machines)
      await route.fulfill({ response: res, json: body })
    })
    await page.routeWebSocket(/\/api\/v1\/live$/, (ws) => {
      const server = ws.connectToServer()
      ws.onMessage((m) => server.send(m))
      server.onMessage((m) => {
        const msg =
          typeof m === "string"
            ? (JSON.parse(m) as { type: string; machines?: { machineId: string; lastError: string | null }[] })
            : null
        if (msg?.type !== "health" || !msg.machines) return ws.send(m)
        withLaterWarning(msg.machines)
        ws.send(JSON.stringify(msg))
      })
      ws.onClose(() => void server.close().catch(() => {}))
      server.onClose(() => void ws.close().catch(() => {}))
    })
    await page.goto(link)
    await page.goto(`${serverUrl}/#/run`)
    await page.locator("[data-testid=run-prompt]").waitFor({ timeout: 30_000 })
    await page.locator("[data-testid=run-machine] option", { hasText: machine.name }).waitFor({ state: "attached" })
    const note = page.locator("[data-testid=run-sandbox-off]")
    await note.waitFor({ timeout: 30_000 })
    await screenshot(page, "run-sandbox-reason")
    // The REST list and at least one health message.
    expect(rewritten).toBeGreaterThan(1)
    expect(await note.textContent()).toBe(
      `No Daytona sandbox on ${machine.name}: ${join(home, "daytona.json")} is not valid JSON: fix it, then restart the daemon.`,
    )
    expect(await page.locator("[data-testid=run-where-sandbox]").isDisabled()).toBe(true)
    expect(errors).toEqual([])
    await ctx.close()
  }, 120_000)
})
