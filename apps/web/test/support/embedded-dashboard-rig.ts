/**
 * What the dashboard's browser tests against one laptop's own daemon share (the personal setup: `overlord
 * start` with its embedded server): a Claude home, the bundled CLI's daemon on it with the flags a case
 * needs, and its dashboard in Chromium, signed in through the one-time link the daemon prints, with
 * console errors recorded. A team server with paired laptops is `dashboard-rig.ts`.
 */
import { dirname, join } from "node:path"
import { type Browser, type BrowserContext, launchChromium, type Page } from "@overlord/testkit/browser"
import { type ClaudeHome, makeClaudeHome } from "@overlord/testkit/claude-cli"
import { type OverlordProcess, startOverlord } from "@overlord/testkit/overlord-process"
import { type BearerApi, bearerApi } from "@overlord/testkit/remote-commands"
import { waitFor } from "@overlord/testkit/wait"
import { ensureWebBuilt } from "../web-build.ts"

export interface EmbeddedDashboardRig {
  readonly claude: ClaudeHome
  /** The daemon's Overlord home, beside the Claude config dir (kept from one daemon to the next). */
  readonly home: string
  readonly browser: Browser
  /**
   * `overlord start --foreground` on `claude` with `extraArgs`, once it printed its sign-in link and its
   * API answers; the daemon started before is stopped first.
   */
  startDaemon(extraArgs?: readonly string[]): Promise<EmbeddedDaemon>
  stop(): Promise<void>
}

export interface EmbeddedDaemon {
  readonly process: OverlordProcess
  readonly serverUrl: string
  readonly apiToken: string
  /** Its API as its own token. */
  readonly api: BearerApi
  /** Signed in through the daemon's one-time link; 1280 × 800; closed by `stop`. */
  readonly ctx: BrowserContext
  /** Console errors on every page of `ctx`. */
  readonly errors: string[]
  /** A new page of `ctx` at `<serverUrl>/#<route>`. */
  open(route: string): Promise<Page>
  /** Closes `ctx`; SIGTERM, then waits until the daemon exited. */
  stop(): Promise<void>
}

/** SIGTERM, then waits until it exited. */
async function stopDaemon(daemon: OverlordProcess): Promise<void> {
  daemon.stop()
  await waitFor("the daemon to exit", () => daemon.child.exitCode !== null || daemon.child.signalCode !== null)
}

export async function startEmbeddedDashboardRig(name: string): Promise<EmbeddedDashboardRig> {
  ensureWebBuilt()
  const claude = await makeClaudeHome(`overlord-${name}-`)
  const home = join(dirname(claude.configDir), "overlord-home")
  let running: OverlordProcess | undefined
  const stopRunning = async () => {
    if (running) await stopDaemon(running)
    running = undefined
  }
  const browser = await launchChromium().catch(async (error: unknown) => {
    await claude.cleanup()
    throw error
  })
  return {
    claude,
    home,
    browser,
    async startDaemon(extraArgs = []) {
      await stopRunning()
      const process = startOverlord(home, claude.configDir, extraArgs)
      running = process
      const link = await process.dashboardLink()
      const { serverUrl, apiToken } = await process.credentials()
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
      const errors: string[] = []
      ctx.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text())
      })
      const signIn = await ctx.newPage()
      await signIn.goto(link)
      await signIn.close()
      return {
        process,
        serverUrl,
        apiToken,
        api: bearerApi(serverUrl, apiToken),
        ctx,
        errors,
        async open(route) {
          const page = await ctx.newPage()
          await page.goto(`${serverUrl}/#${route}`)
          return page
        },
        async stop() {
          await ctx.close().catch(() => {})
          await (running === process ? stopRunning() : stopDaemon(process))
        },
      }
    },
    async stop() {
      await browser.close().catch(() => {})
      await stopRunning()
      await claude.cleanup()
    },
  }
}
