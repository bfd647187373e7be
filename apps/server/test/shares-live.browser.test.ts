/**
 * A shared session in real Chromium (issue #11 §5), against the real server and dashboard on SQLite:
 * Bob opens a session Alice shared with him from "Shared with me", sees a line Alice's machine
 * appends arrive live without reloading, finds the session in search marked "shared by Alice", and
 * when Alice withdraws the share the open view says so and shows no line appended after it.
 * Screenshots: `.artifacts/screenshots/shares-*.png`.
 */
import { type Browser, chromiumMissing, launchChromium, type Page, screenshot } from "@overlord/testkit/browser"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ensureWebBuilt } from "../../web/test/web-build.ts"
import { type Member, userLine, World } from "./accounts-world.ts"

const skip = chromiumMissing()
const SID = "aaaaaaaa-bbbb-4bbb-8bbb-000000000001"

describe.skipIf(skip)("a shared session in the dashboard", () => {
  let world: World
  let alice: Member
  let bob: Member
  let sync: Awaited<ReturnType<World["syncSocket"]>>
  let browser: Browser
  let page: Page
  const pageErrors: string[] = []

  beforeAll(async () => {
    ensureWebBuilt()
    world = await World.start("sqlite", undefined, { dashboard: true })
    alice = await world.setupAdmin("alice@example.com", "Alice")
    bob = await world.invite(alice, "bob@example.com", "Bob")
    const token = await world.pair(alice, "alice-laptop")
    sync = await world.syncSocket(token, "alice-laptop")
    await sync.waitFor((m) => m.type === "welcome", "welcome")
    await sync.append(SID, userLine(SID, "u1", "Plan the heron migration"))
    const shared = await world.call(`/api/v1/sessions/${SID}/shares`, {
      cookie: alice.cookie,
      body: { email: bob.email },
    })
    expect(shared.status).toBe(201)
    browser = await launchChromium()
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
    const [name, value] = bob.cookie.split("=") as [string, string]
    await context.addCookies([{ name, value, url: world.url, httpOnly: true, sameSite: "Strict" }])
    page = await context.newPage()
    page.on("pageerror", (e) => pageErrors.push(e.stack ?? e.message))
  }, 300_000)

  afterAll(async () => {
    sync?.ws.close()
    await browser?.close().catch(() => {})
    await world?.close()
  })

  it("Bob opens it from Shared with me and sees Alice's append arrive live", async () => {
    await page.goto(`${world.url}/#/account/shared`)
    const item = page.locator(`[data-testid=shared-session][data-session="${SID}"]`)
    await item.waitFor()
    expect(await item.textContent()).toContain("from Alice")
    await item.locator("a").click()
    await page.getByText("Plan the heron migration").first().waitFor()
    await page.locator("[data-testid=shared-readonly]").waitFor()
    expect(await page.locator("[data-testid=shared-readonly]").textContent()).toContain("Alice")

    // Appended on Alice's laptop while Bob's view is open: it arrives through the live socket.
    // Read-only: no way to continue it on a machine (Bob has none of Alice's).
    expect(await page.locator("[data-testid=session-continue]").count()).toBe(0)
    await sync.append(SID, userLine(SID, "u2", "Now count the herons at dawn"))
    await page.getByText("Now count the herons at dawn").first().waitFor({ timeout: 10_000 })
    await screenshot(page, "shares-live-append")
  })

  it("search finds it for Bob, marked as shared by Alice", async () => {
    while ((await Effect.runPromise(world.store.indexForSearch(1000))) > 0) {}
    await page.goto(`${world.url}/#/search?q=herons`)
    const hit = page.locator(`[data-testid=search-hit][data-session-id="${SID}"]`)
    await hit.waitFor()
    expect(await hit.locator("[data-testid=shared-by]").textContent()).toBe("shared by Alice")
    expect(await page.locator("[data-testid=search-hit]").count()).toBe(1)
    await screenshot(page, "shares-search-hit")
  })

  it("when Alice withdraws the share, the open view says so and shows nothing appended after", async () => {
    await page.goto(`${world.url}/#/sessions/${SID}`)
    await page.getByText("Now count the herons at dawn").first().waitFor()
    const withdrawn = await world.call(`/api/v1/sessions/${SID}/shares/${bob.userId}`, {
      method: "DELETE",
      cookie: alice.cookie,
    })
    expect(withdrawn.status).toBe(204)
    await page.locator("[data-testid=share-withdrawn]").waitFor({ timeout: 10_000 })
    await sync.append(SID, userLine(SID, "u3", "A private note after the withdrawal"))
    // Alice's own view has it: the line was stored and announced.
    const alicePage = await (await browser.newContext()).newPage()
    const [name, value] = alice.cookie.split("=") as [string, string]
    await alicePage.context().addCookies([{ name, value, url: world.url, httpOnly: true, sameSite: "Strict" }])
    await alicePage.goto(`${world.url}/#/sessions/${SID}`)
    await alicePage.getByText("A private note after the withdrawal").first().waitFor()
    await alicePage.locator("[data-testid=session-continue]").waitFor()
    // Longer than the change feed's poll and the share check (2 s) on Bob's side.
    await page.waitForTimeout(2_500)
    expect(await page.getByText("A private note after the withdrawal").count()).toBe(0)
    await screenshot(page, "shares-withdrawn")
    await page.goto(`${world.url}/#/search?q=herons`)
    await page.locator(".search-page .muted.small").first().waitFor()
    await expect.poll(() => page.locator("[data-testid=search-hit]").count()).toBe(0)
    expect(pageErrors).toEqual([])
  })
})
