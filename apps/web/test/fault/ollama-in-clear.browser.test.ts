/**
 * Walkthrough-4's "still open", the dashboard's side: an Ollama on another host over plain http://
 * gets every transcript the indexer digests in clear text; the search page (where the dashboard shows
 * local AI's state) now says so, from `/api/v1/ai/status`'s `warning`. The host is `ollama.invalid`
 * (RFC 6761: never resolves, nothing is sent). Real Chromium against the bundled CLI's daemon.
 */
import { dirname, join } from "node:path"
import { type Browser, chromiumMissing, launchChromium, screenshot } from "@overlord/testkit/browser"
import { type ClaudeHome, makeClaudeHome } from "@overlord/testkit/claude-cli"
import { type OverlordProcess, startOverlord } from "@overlord/testkit/overlord-process"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ensureWebBuilt } from "../web-build.ts"

describe.skipIf(chromiumMissing())("search page: an Ollama reached over plain http on another host", () => {
  let claude: ClaudeHome
  let daemon: OverlordProcess
  let browser: Browser

  beforeAll(async () => {
    ensureWebBuilt()
    claude = await makeClaudeHome("overlord-ollama-in-clear-web-")
    const home = join(dirname(claude.configDir), "overlord-home")
    daemon = startOverlord(home, claude.configDir, ["--ollama-url", "http://ollama.invalid:11434"])
    browser = await launchChromium()
  }, 120_000)

  afterAll(async () => {
    await browser?.close().catch(() => {})
    daemon?.stop()
    await claude?.cleanup()
  })

  it("says transcripts cross the network unencrypted, and what to do", async () => {
    const link = await waitFor("the dashboard link", async () => /Dashboard: (\S+)/.exec(daemon.output())?.[1], 60_000)
    const { serverUrl } = await daemon.credentials()
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const page = await ctx.newPage()
    await page.goto(link)
    await page.goto(`${serverUrl}/#/search`)
    const warning = page.locator("[data-testid=ai-in-clear]")
    await warning.waitFor({ timeout: 30_000 })
    const text = (await warning.textContent()) ?? ""
    expect(text).toContain("Ollama at http://ollama.invalid:11434 is plain http:// on another host")
    expect(text).toContain("unencrypted")
    expect(text).toContain("https://")
    await screenshot(page, "ollama-in-clear")
    await ctx.close()
  }, 120_000)
})
