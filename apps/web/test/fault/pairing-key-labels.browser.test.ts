/**
 * Found in the walkthrough (a new team's admin makes a first pairing key in the dashboard, in real
 * Chromium against the bundled CLI's standalone server): an unlabelled key was titled by its token id,
 * which counts every token on the server (the admin's own browser session is one), so the first key
 * read "pairing key #2". Keys and API tokens are now numbered among the user's own of their kind.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Browser, chromiumMissing, launchChromium, screenshot } from "@overlord/testkit/browser"
import {
  type ServerAdmin,
  type StandaloneServer,
  setUpAdmin,
  startStandaloneServer,
} from "@overlord/testkit/standalone-server"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ensureWebBuilt } from "../web-build.ts"

describe.skipIf(chromiumMissing())("a new admin's first pairing keys", () => {
  let server: StandaloneServer
  let admin: ServerAdmin
  let browser: Browser
  let root: string

  beforeAll(async () => {
    ensureWebBuilt()
    server = await startStandaloneServer("overlord-key-labels-")
    admin = await setUpAdmin(server)
    root = await mkdtemp(join(tmpdir(), "overlord-key-labels-"))
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser?.close()
    await server?.stop()
    if (root) await rm(root, { recursive: true, force: true })
  })

  it("are numbered from 1 (the admin's browser session is a token too)", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const [name, value] = admin.cookie.split("=") as [string, string]
    await ctx.addCookies([{ name, value, url: server.url }])
    const page = await ctx.newPage()
    await page.goto(`${server.url}/#/account/pairing-keys`)
    const titles = () => page.locator("[data-testid=account-pairing-keys] .account-item-title").allTextContents()
    for (const expected of [["pairing key #1"], ["pairing key #1", "pairing key #2"]]) {
      await page.locator("[data-testid=create-pairing-key]").click()
      await page.locator("[data-testid=created-pairing-key]").waitFor()
      await page.locator("[data-testid=created-pairing-key-done]").click()
      await expect.poll(async () => [...(await titles())].sort()).toEqual(expected)
    }
    await screenshot(page, "pairing-key-labels")
    await ctx.close()
  })
})
