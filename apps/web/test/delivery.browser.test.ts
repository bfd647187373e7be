/**
 * A command queued for a stopped daemon, as the dashboard shows it, in real Chromium: `overlord serve`
 * (the suite's MariaDB when the CLI takes `--database-url`, else SQLite), a laptop paired with a
 * pairing key, `overlord start --allow-remote`, the real Claude CLI against the fake API. The command
 * page says `queued` while the daemon is away and turns `completed`, with the CLI's output, once it
 * returns, without a reload. The API side of delivery is `apps/overlord/test/remote/e2e-delivery.test.ts`.
 * Screenshots: `.artifacts/screenshots/delivery-*.png`.
 */
import { rm } from "node:fs/promises"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import { type Browser, chromiumMissing, launchChromium, type Page, screenshot } from "@overlord/testkit/browser"
import { type ClaudeHome, makeClaudeHome } from "@overlord/testkit/claude-cli"
import { type FakeAnthropic, startFakeAnthropic } from "@overlord/testkit/fake-anthropic"
import {
  daemonKnowsProjects,
  pairedMachineId,
  remoteClaudeEnv,
  startPairedDaemon,
} from "@overlord/testkit/remote-commands"
import {
  type CliProcess,
  pairWithKey,
  type ServerAdmin,
  type StandaloneServer,
  setUpAdmin,
  startStandaloneServer,
} from "@overlord/testkit/standalone-server"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ensureWebBuilt } from "./web-build.ts"

const skip = chromiumMissing()
const ANSWER = "Delivered after the daemon came back."
const SEED_SESSION = "00000000-0000-4000-8000-0000000000e1"

describe.skipIf(skip)("a queued command in the dashboard", () => {
  let server: StandaloneServer
  let admin: ServerAdmin
  let claude: ClaudeHome
  let fake: FakeAnthropic
  let home: string
  let env: Record<string, string>
  let machineId: string
  let daemon: CliProcess | null = null
  let browser: Browser
  let page: Page
  const pageErrors: string[] = []

  const machine = async () =>
    (await admin.api<{ machines: Api.Machine[] }>("/machines")).json.machines.find((m) => m.machineId === machineId)
  const startDaemon = async () => {
    daemon = await startPairedDaemon(home, claude.configDir, env, async () => (await machine())?.online === true)
  }
  const stopDaemon = async () => {
    const d = daemon
    daemon = null
    d?.stop()
    await d?.exited
  }

  beforeAll(async () => {
    ensureWebBuilt()
    server = await startStandaloneServer("overlord-delivery-web-")
    console.log(`delivery browser test: standalone server on ${server.database}`)
    admin = await setUpAdmin(server)
    claude = await makeClaudeHome("overlord-delivery-web-claude-")
    fake = startFakeAnthropic({
      main: [
        { blocks: [{ type: "text", text: ANSWER }], usage: { input: 10, output: 5, cacheWrite: 0, cacheRead: 0 } },
      ],
    })
    // The daemon runs commands only in projects it learned from session files.
    env = await remoteClaudeEnv(claude, fake.url, SEED_SESSION)
    home = join(server.dir, "laptop-home")
    await pairWithKey(server, admin, home)
    machineId = await pairedMachineId(home)
    await startDaemon()
    await waitFor("the machine to accept commands", async () => (await machine())?.acceptsCommands === true || null)
    await daemonKnowsProjects(home, [claude.projectDir])
    browser = await launchChromium()
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
    const [name, ...value] = admin.cookie.split("=")
    await context.addCookies([{ name: name!, value: value.join("="), url: server.url }])
    page = await context.newPage()
    page.on("pageerror", (e) => pageErrors.push(e.message))
  }, 300_000)

  afterAll(async () => {
    await stopDaemon()
    await browser?.close().catch(() => {})
    await fake?.stop()
    if (claude) await rm(join(claude.configDir, ".."), { recursive: true, force: true })
    await server?.stop()
  })

  it("shows it queued while the daemon is stopped, then completed with its output once it returns", async () => {
    await stopDaemon()
    await waitFor("the machine to show offline", async () => (await machine())?.online === false || null)
    const created = await admin.api<Api.CommandCreated>("/commands", {
      machineId,
      projectDir: claude.projectDir,
      prompt: "Run when you are back.",
    })
    expect(created.status).toBe(201)
    const { commandId } = created.json.command
    await page.goto(`${server.url}/#/commands/${encodeURIComponent(commandId)}`)
    const status = page.locator("[data-testid=command-view] [data-testid=command-status]").first()
    await status.waitFor({ timeout: 20_000 })
    expect(await status.getAttribute("data-status")).toBe("queued")
    // Nothing to send a follow-up to yet (the server would refuse it); cancelling is offered.
    expect(await page.locator("[data-testid=follow-up-input]").count()).toBe(0)
    expect(await page.locator("[data-testid=follow-up-send]").count()).toBe(0)
    expect(await page.locator("[data-testid=command-cancel]").count()).toBe(1)
    await screenshot(page, "delivery-queued")

    await startDaemon()
    await page
      .locator('[data-testid=command-view] [data-testid=command-status][data-status="completed"]')
      .first()
      .waitFor({ timeout: 60_000 })
    await expect.poll(() => page.locator("[data-testid=run-output]").first().textContent()).toContain(ANSWER)
    await screenshot(page, "delivery-completed")
    expect(fake.requests.filter((r) => r.kind === "main")).toHaveLength(1)
    expect(pageErrors).toEqual([])
  }, 180_000)
})
