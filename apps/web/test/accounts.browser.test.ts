/**
 * Accounts in real Chromium against a standalone `overlord serve` (the bundled CLI; MariaDB when the
 * CLI takes `--database-url`, else SQLite): the printed setup link makes the first admin, an invite
 * link made in the dashboard makes a second user, a pairing key made in the dashboard pairs a machine
 * headlessly (`overlord login <url> --key`), whose daemon backfills real Claude Code sessions; the
 * second user does not see them until one is shared, read-only, and no longer once it is withdrawn;
 * API tokens are created and revoked; revoking the machine in the dashboard gets its daemon refused.
 *
 * Screenshots: `.artifacts/screenshots/accounts-*.png` (desktop and 375×667).
 */
import { mkdir, rm } from "node:fs/promises"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import {
  type Browser,
  type BrowserContext,
  chromiumMissing,
  launchChromium,
  type Page,
  screenshot,
} from "@overlord/testkit/browser"
import { type ClaudeHome, encodeProjectDir, makeClaudeHome } from "@overlord/testkit/claude-cli"
import { runScenario, type ScenarioRun, toolTour } from "@overlord/testkit/scenarios"
import {
  type CliProcess,
  cli,
  runCli,
  type StandaloneServer,
  startStandaloneServer,
  statusOf,
} from "@overlord/testkit/standalone-server"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ensureWebBuilt } from "./web-build.ts"

const skip = chromiumMissing()

const ADMIN = { email: "ada@example.com", name: "Ada Admin" }
const MEMBER = { email: "bob@example.com", name: "Bob Member" }
const PHONE = { width: 375, height: 667 }

describe.skipIf(skip)("accounts in Chromium", () => {
  let server: StandaloneServer
  let browser: Browser
  let adminCtx: BrowserContext
  let memberCtx: BrowserContext
  let admin: Page
  let member: Page
  let claude: ClaudeHome
  let laptopHome: string
  let daemon: CliProcess | null = null
  const runs: ScenarioRun[] = []
  const pageErrors: string[] = []

  /** GET through a browser context: its cookie, so exactly what that user may read. */
  const getAs = async <T>(ctx: BrowserContext, path: string): Promise<{ status: number; body: T | null }> => {
    const res = await ctx.request.get(`${server.url}/api/v1${path}`)
    return { status: res.status(), body: res.ok() ? ((await res.json()) as T) : null }
  }

  const signUp = async (page: Page, link: string, who: { email: string; name: string }, kind: string) => {
    await page.goto(link)
    await page.locator(`[data-testid=${kind}-page]`).waitFor()
    await page.locator("[data-testid=signup-email]").fill(who.email)
    await page.locator("[data-testid=signup-name]").fill(who.name)
    await screenshot(page, `accounts-${kind}-page`)
    await page.locator("[data-testid=signup-submit]").click()
    await page.locator("[data-testid=account-page]").waitFor({ timeout: 20_000 })
    expect(new URL(page.url()).pathname).toBe("/")
    await expect.poll(() => page.locator("[data-testid=account-user]").textContent()).toContain(who.email)
  }

  const projectHome = async (name: string): Promise<ClaudeHome> => {
    const projectDir = join(claude.configDir, "..", name)
    await mkdir(projectDir, { recursive: true })
    return {
      ...claude,
      projectDir,
      sessionsDir: join(claude.configDir, "projects", encodeProjectDir(projectDir)),
      cleanup: async () => {},
    }
  }

  beforeAll(async () => {
    ensureWebBuilt()
    server = await startStandaloneServer("overlord-accounts-")
    console.log(`accounts test: standalone server on ${server.database}`)
    claude = await makeClaudeHome("overlord-accounts-claude-")
    laptopHome = join(claude.configDir, "..", "laptop-home")
    // Two real Claude Code sessions on the laptop before it is paired: the daemon backfills them.
    for (const name of ["alpha", "beta"]) {
      const r = await runScenario(toolTour, { home: await projectHome(name), timeoutMs: 120_000 })
      runs.push(r)
      expect(
        r.runs.every((x) => x.exitCode === 0),
        r.runs.map((x) => x.stderr).join("\n"),
      ).toBe(true)
    }
    browser = await launchChromium()
    adminCtx = await browser.newContext({ viewport: { width: 1280, height: 860 } })
    memberCtx = await browser.newContext({ viewport: { width: 1280, height: 860 } })
    admin = await adminCtx.newPage()
    member = await memberCtx.newPage()
    for (const p of [admin, member]) p.on("pageerror", (e) => pageErrors.push(`${p.url()}: ${e.stack ?? e.message}`))
  }, 300_000)

  afterAll(async () => {
    daemon?.stop()
    await daemon?.exited
    await browser?.close().catch(() => {})
    await Promise.all(runs.map((r) => r.dispose()))
    await server?.stop()
    if (claude) await rm(join(claude.configDir, ".."), { recursive: true, force: true })
  })

  it("the printed setup link makes the first admin, once", async () => {
    await signUp(admin, server.setupUrl, ADMIN, "setup")
    expect(await admin.locator("[data-testid=account-user]").getAttribute("data-role")).toBe("admin")
    expect((await adminCtx.cookies()).map((c) => [c.name, c.httpOnly])).toEqual([["overlord_session", true]])
    const me = await getAs<Api.Me>(adminCtx, "/me")
    expect(me.body?.user).toMatchObject({ email: ADMIN.email, name: ADMIN.name, role: "admin" })
    // The link is spent: another browser opening it is told so and gets no form.
    const other = await browser.newContext()
    const p = await other.newPage()
    await p.goto(server.setupUrl)
    await p.locator("[data-testid=link-invalid]").waitFor()
    expect(await p.locator("[data-testid=signup-submit]").count()).toBe(0)
    await other.close()
  })

  it("an invite link made in the dashboard, shown once, makes a second user", async () => {
    await admin.goto(`${server.url}/#/account/invites`)
    await admin.locator("[data-testid=create-invite]").click()
    const link = await admin.locator("[data-testid=created-invite]").inputValue()
    expect(link).toMatch(new RegExp(`^${server.url.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/invite/\\S+$`))
    await screenshot(admin, "accounts-invite-created")
    await admin.locator("[data-testid=created-invite-done]").click()
    expect(await admin.locator("[data-testid=created-invite]").count()).toBe(0)

    await signUp(member, link, MEMBER, "invite")
    expect(await member.locator("[data-testid=account-user]").getAttribute("data-role")).toBe("member")
    // A member has no admin sections, and the server refuses its invite requests whatever the page shows.
    expect(await member.locator("[data-testid=account-tab-invites]").count()).toBe(0)
    expect(await member.locator("[data-testid=account-tab-pairing-keys]").count()).toBe(0)
    const refused = await memberCtx.request.post(`${server.url}/api/v1/invites`, {
      data: {},
      headers: { origin: server.url },
    })
    expect(refused.status()).toBe(403)
  })

  it("a pairing key made in the dashboard pairs a machine headlessly; its sessions show for the admin only", async () => {
    await admin.goto(`${server.url}/#/account/pairing-keys`)
    await admin.locator("[data-testid=pairing-key-label]").fill("ci laptop")
    await admin.locator("[data-testid=create-pairing-key]").click()
    const key = await admin.locator("[data-testid=created-pairing-key]").inputValue()
    expect(key.length).toBeGreaterThan(16)
    await screenshot(admin, "accounts-pairing-key-created")
    await admin.locator("[data-testid=created-pairing-key-done]").click()
    await admin.locator("[data-testid=account-token][data-state=active]").waitFor()

    const login = await cli(laptopHome, ["login", server.url, "--key", key])
    expect(login.code, login.output).toBe(0)
    // Single use: a second machine cannot use it.
    const again = await cli(join(laptopHome, "..", "other-home"), ["login", server.url, "--key", key])
    expect(again.code, again.output).not.toBe(0)
    await admin.reload()
    await admin.locator("[data-testid=account-token][data-state=used]").waitFor({ timeout: 10_000 })

    daemon = runCli(laptopHome, ["start", "--foreground", "--claude-dir", claude.configDir])
    const ids = runs.map((r) => r.sessionId!)
    await waitFor(
      "both backfilled sessions in the admin's session list",
      async () => {
        const list = await getAs<Api.SessionList>(adminCtx, "/sessions?limit=50")
        return ids.every((id) => list.body?.sessions.some((s) => s.sessionId === id))
      },
      90_000,
    ).catch((e) => {
      throw new Error(`${String(e)}\ndaemon output:\n${daemon?.output()}`)
    })
    await admin.goto(`${server.url}/#/sessions`)
    for (const id of ids) await admin.locator(`[data-testid=session-row][data-session-id="${id}"]`).waitFor()

    await admin.goto(`${server.url}/#/account/machines`)
    const row = admin.locator("[data-testid=account-machine]")
    await expect.poll(() => row.count()).toBe(1)
    await expect.poll(() => row.getAttribute("data-state"), { timeout: 20_000 }).toBe("online")
    await screenshot(admin, "accounts-machines")

    // The member sees none of it, by list or by address.
    expect((await getAs<Api.SessionList>(memberCtx, "/sessions?limit=50")).body?.sessions).toEqual([])
    expect((await getAs<{ machines: unknown[] }>(memberCtx, "/machines")).body?.machines).toEqual([])
    for (const id of ids) expect((await getAs(memberCtx, `/sessions/${id}`)).status).toBe(404)
    await member.goto(`${server.url}/#/sessions/${ids[0]}`)
    await member.locator(".page.error").waitFor({ timeout: 10_000 })
  })

  it("a share makes one session readable, read-only, by the other user; withdrawing hides it again", async () => {
    const [shared, kept] = runs.map((r) => r.sessionId!) as [string, string]
    await admin.goto(`${server.url}/#/sessions/${shared}`)
    await admin.locator("[data-testid=entry]").first().waitFor({ timeout: 20_000 })
    await admin.locator("[data-testid=share-toggle]").click()
    await admin.locator("[data-testid=no-shares]").waitFor()
    // An address nobody on this server has: refused, nothing shared.
    await admin.locator("[data-testid=share-email]").fill("nobody@example.com")
    await admin.locator("[data-testid=share-submit]").click()
    await admin.locator("[data-testid=share-error]").waitFor()
    await admin.locator("[data-testid=share-email]").fill(MEMBER.email)
    await admin.locator("[data-testid=share-submit]").click()
    await admin.locator(`[data-testid=share-row][data-email="${MEMBER.email}"]`).waitFor()
    await screenshot(admin, "accounts-share-panel")

    await member.goto(`${server.url}/#/account/shared`)
    const item = member.locator(`[data-testid=shared-session][data-session="${shared}"]`)
    await item.waitFor()
    expect(await member.locator("[data-testid=shared-session]").count()).toBe(1)
    expect(await item.textContent()).toContain(ADMIN.name)
    await screenshot(member, "accounts-shared-with-me")
    await item.locator("a").click()
    await member.locator("[data-testid=entry]").first().waitFor({ timeout: 20_000 })
    await member.locator("[data-testid=shared-readonly]").waitFor()
    expect(await member.locator("[data-testid=share-toggle]").count()).toBe(0)
    await screenshot(member, "accounts-shared-session-readonly")
    // Read-only: the member can read the session and its entries, but not share it on, and the
    // other session stays hidden.
    expect((await getAs(memberCtx, `/sessions/${shared}`)).status).toBe(200)
    const entries = await getAs<Api.EntryPage>(memberCtx, `/sessions/${shared}/entries?limit=5000`)
    const adminEntries = await getAs<Api.EntryPage>(adminCtx, `/sessions/${shared}/entries?limit=5000`)
    expect(entries.body?.entries.map((e) => e.seq)).toEqual(adminEntries.body?.entries.map((e) => e.seq))
    expect((await getAs(memberCtx, `/sessions/${kept}`)).status).toBe(404)
    const reshare = await memberCtx.request.post(`${server.url}/api/v1/sessions/${shared}/shares`, {
      data: { email: ADMIN.email },
      headers: { origin: server.url },
    })
    expect(reshare.status()).toBeGreaterThanOrEqual(400)
    expect(
      (await getAs<Api.SessionList>(memberCtx, "/sessions?limit=50")).body?.sessions.map((s) => s.sessionId),
    ).not.toContain(kept)

    // Withdraw, with its confirm step.
    await admin.locator("[data-testid=withdraw-share]").click()
    await admin.locator("[data-testid=withdraw-share-confirm]").click()
    await admin.locator("[data-testid=no-shares]").waitFor()
    expect((await getAs(memberCtx, `/sessions/${shared}`)).status).toBe(404)
    await member.goto(`${server.url}/#/account/shared`)
    await member.locator("[data-testid=no-shared]").waitFor()
  })

  it("creates an API token, shown once, that works until it is revoked", async () => {
    await admin.goto(`${server.url}/#/account/tokens`)
    await admin.locator("[data-testid=token-label]").fill("script")
    await admin.locator("[data-testid=create-token]").click()
    const token = await admin.locator("[data-testid=created-token]").inputValue()
    const asToken = () =>
      fetch(`${server.url}/api/v1/sessions?limit=1`, { headers: { authorization: `Bearer ${token}` } })
    expect((await asToken()).status).toBe(200)
    await screenshot(admin, "accounts-token-created")
    await admin.locator("[data-testid=created-token-done]").click()
    const row = admin.locator("[data-testid=account-token]", { hasText: "script" })
    // Cancel first: nothing happens.
    await row.locator("[data-testid=revoke-token]").click()
    await row.locator("[data-testid=revoke-token-cancel]").click()
    expect((await asToken()).status).toBe(200)
    await row.locator("[data-testid=revoke-token]").click()
    await row.locator("[data-testid=revoke-token-confirm]").click()
    await expect.poll(() => row.getAttribute("data-state")).toBe("revoked")
    expect((await asToken()).status).toBe(401)
  })

  it("revoking the machine in the dashboard gets its daemon refused", async () => {
    await waitFor(
      "the daemon to report itself connected",
      async () => (await statusOf(laptopHome)).json?.connected === true,
      30_000,
    )
    await admin.goto(`${server.url}/#/account/machines`)
    const row = admin.locator("[data-testid=account-machine]")
    await row.locator("[data-testid=revoke-machine]").click()
    await screenshot(admin, "accounts-machine-revoke-confirm")
    await row.locator("[data-testid=revoke-machine-confirm]").click()
    await waitFor(
      "the machine listed as revoked",
      async () => (await row.getAttribute("data-state")) === "revoked",
      10_000,
    ).catch(async (e) => {
      throw new Error(`${String(e)}; the row says: ${await row.textContent()}`)
    })
    const status = await waitFor(
      "`overlord status` to say the daemon is refused",
      async () => {
        const s = await statusOf(laptopHome)
        return s.json && s.json.connected === false && typeof s.json.lastError === "string" ? s : null
      },
      30_000,
    ).catch(async (e) => {
      throw new Error(`${String(e)}\nstatus: ${(await statusOf(laptopHome)).text}\ndaemon:\n${daemon?.output()}`)
    })
    console.log(`overlord status after revoke: ${JSON.stringify(status.json?.lastError)}`)
    expect(String(status.json?.lastError)).toMatch(/refused|revoked|unauthori[sz]ed|login/i)
    // Still refused a while later (reconnects do not get back in).
    await Bun.sleep(3000)
    expect((await statusOf(laptopHome)).json?.connected).toBe(false)
    await screenshot(admin, "accounts-machine-revoked")
  })

  it("account pages fit a phone-sized screen", async () => {
    await admin.setViewportSize(PHONE)
    for (const tab of ["machines", "tokens", "invites", "pairing-keys"]) {
      await admin.goto(`${server.url}/#/account/${tab}`)
      await admin.locator(`[data-testid=account-tab-${tab}][aria-current=page]`).waitFor()
      await admin.waitForTimeout(300)
      // Nothing wider than the screen: no sideways scrolling.
      const overflow = await admin.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
      expect(overflow, `${tab} is wider than the phone screen`).toBeLessThanOrEqual(0)
      await screenshot(admin, `accounts-phone-${tab}`)
    }
    // The share panel on a phone: inside the screen, wherever the Share button wrapped to.
    await admin.goto(`${server.url}/#/sessions/${runs[1]!.sessionId}`)
    await admin.locator("[data-testid=entry]").first().waitFor({ timeout: 20_000 })
    await admin.locator("[data-testid=share-toggle]").click()
    const panel = await admin.locator("[data-testid=share-panel]").boundingBox()
    expect(panel).not.toBeNull()
    expect(panel!.x).toBeGreaterThanOrEqual(0)
    expect(panel!.x + panel!.width).toBeLessThanOrEqual(PHONE.width)
    await screenshot(admin, "accounts-phone-share-panel")
    await member.setViewportSize(PHONE)
    await member.goto(`${server.url}/#/account/shared`)
    await member.locator("[data-testid=account-page]").waitFor()
    await screenshot(member, "accounts-phone-member")
    expect(pageErrors).toEqual([])
  })
})
