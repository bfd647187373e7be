/**
 * Pairing a laptop by device code, end to end: `overlord login <server-url>` (the bundled CLI, a child
 * process) prints a code and a URL; the user opens it in Chromium, signed in, sees the same code and
 * the machine's name, and approves; the CLI stores its credential and `overlord start` backfills real
 * Claude Code sessions (the real CLI against the fake Anthropic API) to the standalone server, where
 * the dashboard shows them. A denied request leaves the CLI without a credential, and a browser that
 * is not signed in is told to sign in rather than shown the request.
 *
 * Screenshots: `.artifacts/screenshots/pairing-*.png` (desktop and 375×667).
 */
import { existsSync } from "node:fs"
import { mkdir, readdir, rm } from "node:fs/promises"
import { hostname } from "node:os"
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
import { runScenario, type ScenarioRun, subagent, toolTour } from "@overlord/testkit/scenarios"
import {
  type CliProcess,
  runCli,
  type StandaloneServer,
  startStandaloneServer,
} from "@overlord/testkit/standalone-server"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ensureWebBuilt } from "./web-build.ts"

const skip = chromiumMissing()
const PHONE = { width: 375, height: 667 }

/** The code and the URL `overlord login` printed, once both are there. */
const printedRequest = (login: CliProcess) =>
  waitFor(
    "`overlord login` to print a code and a URL",
    () => {
      const out = login.output()
      const url = /(https?:\/\/\S+\/device\?code=[A-Z0-9-]+)/.exec(out)?.[1]
      const code = url ? new URL(url).searchParams.get("code") : null
      return url && code && out.includes(code) ? { url, code } : null
    },
    30_000,
  ).catch((e) => {
    throw new Error(`${String(e)}\nlogin output:\n${login.output()}`)
  })

describe.skipIf(skip)("pairing by device code in Chromium", () => {
  let server: StandaloneServer
  let browser: Browser
  let ctx: BrowserContext
  let page: Page
  let claude: ClaudeHome
  let laptopHome: string
  let daemon: CliProcess | null = null
  const runs: ScenarioRun[] = []
  const pageErrors: string[] = []

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
    server = await startStandaloneServer("overlord-pairing-")
    console.log(`pairing test: standalone server on ${server.database}`)
    claude = await makeClaudeHome("overlord-pairing-claude-")
    laptopHome = join(claude.configDir, "..", "laptop-home")
    const scenarios = [
      ["tour", toolTour],
      ["agents", subagent],
    ] as const
    for (const [name, factory] of scenarios) {
      const r = await runScenario(factory, { home: await projectHome(name), timeoutMs: 120_000 })
      runs.push(r)
      expect(
        r.runs.every((x) => x.exitCode === 0),
        r.runs.map((x) => x.stderr).join("\n"),
      ).toBe(true)
    }
    browser = await launchChromium()
    ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } })
    page = await ctx.newPage()
    page.on("pageerror", (e) => pageErrors.push(`${page.url()}: ${e.stack ?? e.message}`))
    // The user of this server: the first admin, through the printed setup link.
    await page.goto(server.setupUrl)
    await page.locator("[data-testid=signup-email]").fill("lin@example.com")
    await page.locator("[data-testid=signup-name]").fill("Lin")
    await page.locator("[data-testid=signup-submit]").click()
    await page.locator("[data-testid=account-page]").waitFor({ timeout: 20_000 })
  }, 300_000)

  afterAll(async () => {
    daemon?.stop()
    await daemon?.exited
    await browser?.close().catch(() => {})
    await Promise.all(runs.map((r) => r.dispose()))
    await server?.stop()
    if (claude) await rm(join(claude.configDir, ".."), { recursive: true, force: true })
  })

  it("a browser that is not signed in is told to sign in, not shown the request", async () => {
    const otherHome = join(claude.configDir, "..", "stranger-home")
    const login = runCli(otherHome, ["login", server.url])
    try {
      const { url } = await printedRequest(login)
      const stranger = await browser.newContext({ viewport: PHONE })
      const p = await stranger.newPage()
      await p.goto(url)
      const error = p.locator("[data-testid=device-error]")
      await error.waitFor({ timeout: 10_000 })
      expect(await error.textContent()).toContain("Sign in")
      expect(await p.locator("[data-testid=device-approve]").count()).toBe(0)
      await stranger.close()
    } finally {
      login.stop()
      await login.exited
    }
  })

  it("Deny: the CLI ends without a credential", async () => {
    const deniedHome = join(claude.configDir, "..", "denied-home")
    const login = runCli(deniedHome, ["login", server.url])
    const { url, code } = await printedRequest(login)
    await page.goto(url)
    await page.locator("[data-testid=device-request][data-status=pending]").waitFor()
    expect(await page.locator("[data-testid=device-code]").textContent()).toBe(code)
    await page.locator("[data-testid=device-deny]").click()
    await page.locator("[data-testid=device-result][data-status=denied]").waitFor()
    const exit = await Promise.race([login.exited, Bun.sleep(30_000).then(() => "timeout" as const)])
    expect(exit, login.output()).not.toBe("timeout")
    expect(exit, login.output()).not.toBe(0)
    expect(login.output()).toMatch(/denied/i)
    const files = existsSync(deniedHome) ? await readdir(deniedHome) : []
    expect(files, "no credential stored").not.toContain("server.json")
  })

  it("overlord login → approve in the dashboard → overlord start backfills to the server", async () => {
    const login = runCli(laptopHome, ["login", server.url])
    const { url, code } = await printedRequest(login)
    expect(new URL(url).origin).toBe(server.url)
    expect(code).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/)

    await page.goto(url)
    await page.locator("[data-testid=device-request][data-status=pending]").waitFor()
    // The page shows the code the terminal printed and which machine asks.
    expect(await page.locator("[data-testid=device-code]").textContent()).toBe(code)
    expect(await page.locator("[data-testid=device-machine]").textContent()).toBe(hostname())
    await screenshot(page, "pairing-device-desktop")
    await page.setViewportSize(PHONE)
    await page.waitForTimeout(200)
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    expect(overflow, "the device page is wider than a phone").toBeLessThanOrEqual(0)
    await screenshot(page, "pairing-device-phone")
    await page.locator("[data-testid=device-approve]").click()
    await page.locator("[data-testid=device-result][data-status=approved]").waitFor()
    await screenshot(page, "pairing-device-approved-phone")
    await page.setViewportSize({ width: 1280, height: 860 })

    const exit = await Promise.race([login.exited, Bun.sleep(30_000).then(() => "timeout" as const)])
    expect(exit, login.output()).toBe(0)
    expect(await readdir(laptopHome)).toContain("server.json")

    // The same code cannot be approved twice.
    await page.reload()
    await page.locator("[data-testid=device-request]").waitFor()
    expect(await page.locator("[data-testid=device-approve]").count()).toBe(0)

    const started = Date.now()
    daemon = runCli(laptopHome, ["start", "--foreground", "--claude-dir", claude.configDir])
    const ids = runs.map((r) => r.sessionId!)
    await page.goto(`${server.url}/#/sessions`)
    for (const id of ids) {
      await page
        .locator(`[data-testid=session-row][data-session-id="${id}"]`)
        .waitFor({ timeout: 90_000 })
        .catch((e) => {
          throw new Error(`${String(e)}\ndaemon output:\n${daemon?.output()}`)
        })
    }
    console.log(`pairing: both sessions listed in the dashboard ${Date.now() - started} ms after overlord start`)
    // Every line the CLI wrote is there, for the paired user.
    const res = await ctx.request.get(`${server.url}/api/v1/sessions/${ids[0]}/entries?limit=5000`)
    expect(res.ok()).toBe(true)
    expect(((await res.json()) as Api.EntryPage).entries.length).toBeGreaterThan(0)
    await page.goto(`${server.url}/#/sessions/${ids[0]}`)
    await page.locator("[data-testid=entry]").first().waitFor({ timeout: 20_000 })

    await page.goto(`${server.url}/#/account/machines`)
    const row = page.locator("[data-testid=account-machine]")
    await expect.poll(() => row.getAttribute("data-state"), { timeout: 20_000 }).toBe("online")
    expect(await row.locator(".account-item-title").textContent()).toBe(hostname())
    await screenshot(page, "pairing-machines")
    // The page follows the live feed: the daemon stops, the row says offline without a reload.
    await page.evaluate(() => {
      ;(window as unknown as { __sameDocument: boolean }).__sameDocument = true
    })
    daemon.stop()
    await daemon.exited
    await expect.poll(() => row.getAttribute("data-state"), { timeout: 20_000 }).toBe("offline")
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true)
    expect(pageErrors).toEqual([])
  })
})
