/**
 * Renaming a machine in real Chromium (issue #11 follow-up, "paired laptops"), against the real server
 * and dashboard on SQLite: two of Alice's laptops said hello as "laptop" (the server told the second
 * apart as "laptop-2"); on Account → Machines she renames the second to the first's name and is told
 * it is taken, then to "studio"; a second tab of hers shows "studio" without a reload (live health),
 * and the laptop's daemon reconnecting with its old name leaves "studio" in place. On a phone-sized
 * screen the form and its refusal fit. Screenshots: `.artifacts/screenshots/machine-rename-*.png`.
 */
import type { Api } from "@overlord/protocol"
import { type Browser, chromiumMissing, launchChromium, type Page, screenshot } from "@overlord/testkit/browser"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ensureWebBuilt } from "../../web/test/web-build.ts"
import { type Member, World } from "./accounts-world.ts"

const skip = chromiumMissing()

describe.skipIf(skip)("renaming a machine in the dashboard", () => {
  let world: World
  let alice: Member
  let browser: Browser
  const tokens: Record<string, string> = {}
  const pageErrors: string[] = []

  /** A hello from `machineId`'s daemon, which says the name its machine.json holds: "laptop". */
  const hello = async (machineId: string) => {
    const sync = await world.syncSocket(tokens[machineId]!, machineId)
    await sync.waitFor((m) => m.type === "welcome", "welcome")
    sync.ws.close()
    await sync.closed
  }

  const machinesPage = async (): Promise<Page> => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
    const [name, value] = alice.cookie.split("=") as [string, string]
    await context.addCookies([{ name, value, url: world.url, httpOnly: true, sameSite: "Strict" }])
    const page = await context.newPage()
    page.on("pageerror", (e) => pageErrors.push(e.stack ?? e.message))
    await page.goto(`${world.url}/#/account/machines`)
    await page.locator("[data-testid=account-machines]").waitFor()
    return page
  }

  /** The names the page shows, in its order. */
  const shownNames = (page: Page) => page.locator("[data-testid=machine-name]").allTextContents()

  beforeAll(async () => {
    ensureWebBuilt()
    world = await World.start("sqlite", undefined, { dashboard: true })
    alice = await world.setupAdmin("alice@example.com", "Alice")
    for (const id of ["laptop-a", "laptop-b"]) {
      tokens[id] = await world.pair(alice, id)
      await hello(id)
    }
    browser = await launchChromium()
  }, 300_000)

  afterAll(async () => {
    await browser?.close().catch(() => {})
    await world?.close()
  })

  it("refuses a name another of her machines has, takes a free one, shows it live in another tab, and keeps it when the daemon reconnects", async () => {
    const page = await machinesPage()
    const other = await machinesPage()
    expect((await shownNames(page)).sort()).toEqual(["laptop", "laptop-2"])

    const row = page.locator("[data-testid=account-machine]").filter({ hasText: "laptop-b" })
    expect(await row.locator("[data-testid=machine-name]").textContent()).toBe("laptop-2")
    await row.locator("[data-testid=rename-machine]").click()
    const input = row.locator("[data-testid=rename-machine-input]")
    expect(await input.inputValue()).toBe("laptop-2")

    // The other laptop's name: refused, said under the input, which stays open with what was typed.
    await input.fill("laptop")
    await row.locator("[data-testid=rename-machine-save]").click()
    const error = row.locator("[data-testid=rename-machine-error]")
    await error.waitFor()
    expect(await error.textContent()).toBe("another of your machines is named laptop")
    expect(await input.inputValue()).toBe("laptop")
    await screenshot(page, "machine-rename-taken")
    expect((await shownNames(page)).sort()).toEqual(["laptop", "laptop-2"])

    await input.fill("  studio ")
    await input.press("Enter")
    await expect.poll(() => row.locator("[data-testid=machine-name]").textContent()).toBe("studio")
    expect(await row.locator("[data-testid=rename-machine-input]").count()).toBe(0)
    await screenshot(page, "machine-rename-done")
    // The second tab was not reloaded: the live feed's health carried the name.
    await expect.poll(async () => (await shownNames(other)).sort()).toEqual(["laptop", "studio"])

    // Its daemon reconnects still saying "laptop" (its machine.json): the dashboard's name stays.
    await hello("laptop-b")
    const listed = (await world.call("/api/v1/machines", { cookie: alice.cookie })).body as { machines: Api.Machine[] }
    expect(Object.fromEntries(listed.machines.map((m) => [m.machineId, m.name]))).toEqual({
      "laptop-a": "laptop",
      "laptop-b": "studio",
    })
    await page.reload()
    await page.locator("[data-testid=account-machines]").waitFor()
    await expect.poll(async () => (await shownNames(page)).sort()).toEqual(["laptop", "studio"])
    expect(pageErrors).toEqual([])
  })

  it("the rename form and its refusal fit a phone-sized screen", async () => {
    const page = await machinesPage()
    await page.setViewportSize({ width: 375, height: 667 })
    const row = page.locator("[data-testid=account-machine]").filter({ hasText: "laptop-b" })
    await row.locator("[data-testid=rename-machine]").click()
    await row.locator("[data-testid=rename-machine-input]").fill("laptop")
    await row.locator("[data-testid=rename-machine-save]").click()
    await row.locator("[data-testid=rename-machine-error]").waitFor()
    // Nothing wider than the screen: no sideways scrolling.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    expect(overflow).toBeLessThanOrEqual(0)
    await screenshot(page, "machine-rename-phone")
    expect(pageErrors).toEqual([])
  })
})
