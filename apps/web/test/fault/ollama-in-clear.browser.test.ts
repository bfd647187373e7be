/**
 * Walkthrough-4's "still open", the dashboard's side: an Ollama on another host over plain http://
 * gets every transcript the indexer digests in clear text; the search page (where the dashboard shows
 * local AI's state) now says so, from `/api/v1/ai/status`'s `warning`. The host is `ollama.invalid`
 * (RFC 6761: never resolves, nothing is sent). Real Chromium against the bundled CLI's daemon.
 */
import { chromiumMissing, screenshot } from "@overlord/testkit/browser"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EmbeddedDashboardRig, startEmbeddedDashboardRig } from "../support/embedded-dashboard-rig.ts"

describe.skipIf(chromiumMissing())("search page: an Ollama reached over plain http on another host", () => {
  let rig: EmbeddedDashboardRig

  beforeAll(async () => {
    rig = await startEmbeddedDashboardRig("ollama-in-clear-web")
  }, 120_000)

  afterAll(async () => {
    await rig?.stop()
  })

  it("says transcripts cross the network unencrypted, and what to do", async () => {
    const daemon = await rig.startDaemon(["--ollama-url", "http://ollama.invalid:11434"])
    const page = await daemon.open("/search")
    const warning = page.locator("[data-testid=ai-in-clear]")
    await warning.waitFor({ timeout: 30_000 })
    const text = (await warning.textContent()) ?? ""
    expect(text).toContain("Ollama at http://ollama.invalid:11434 is plain http:// on another host")
    expect(text).toContain("unencrypted")
    expect(text).toContain("https://")
    await screenshot(page, "ollama-in-clear")
  }, 120_000)
})
