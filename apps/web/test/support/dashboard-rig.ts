/**
 * What the dashboard's browser tests against a team server share: the bundled CLI's standalone server,
 * its first admin signed in in a Chromium context that records every console error and failed response,
 * and a scratch folder whose `claude/projects` a paired laptop's real daemon syncs once the test starts
 * it (after writing the session files it needs there).
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Browser, type BrowserContext, launchChromium, type Page } from "@overlord/testkit/browser"
import {
  type CliProcess,
  pairWithKey,
  runCli,
  type ServerAdmin,
  type StandaloneServer,
  setUpAdmin,
  startStandaloneServer,
} from "@overlord/testkit/standalone-server"
import { ensureWebBuilt } from "../web-build.ts"

export interface DashboardRig {
  readonly server: StandaloneServer
  readonly admin: ServerAdmin
  /** Signed in as the admin; 1280 × 800. */
  readonly ctx: BrowserContext
  /** The scratch folder (removed by `stop`). */
  readonly root: string
  /** `<root>/claude/projects`: the laptop's Claude Code projects folder, made empty. */
  readonly projects: string
  /** Console errors and 4xx/5xx responses on every page the test opens. */
  readonly problems: string[]
  /** A new page of `ctx` at `<server>/#<route>`. */
  open(route: string): Promise<Page>
  /** A new context (1280 × 800 unless `viewport` says) signed in with a browser `cookie` (`name=value`): another user, another screen. */
  signedIn(cookie: string, viewport?: { readonly width: number; readonly height: number }): Promise<BrowserContext>
  /** Pairs a laptop (its home under `root`) with the server by a pairing key and starts its daemon on `projects`. */
  startLaptop(): Promise<CliProcess>
  stop(): Promise<void>
}

export async function startDashboardRig(name: string): Promise<DashboardRig> {
  ensureWebBuilt()
  const server = await startStandaloneServer(`overlord-${name}-`)
  let browser: Browser | undefined
  const daemons: CliProcess[] = []
  const root = await mkdtemp(join(tmpdir(), `overlord-${name}-`))
  const stop = async () => {
    for (const d of daemons) {
      d.stop()
      await d.exited
    }
    await browser?.close()
    await server.stop()
    await rm(root, { recursive: true, force: true })
  }
  try {
    const admin = await setUpAdmin(server)
    const projects = join(root, "claude", "projects")
    await mkdir(projects, { recursive: true })
    browser = await launchChromium()
    const opened = browser
    const signedIn = async (cookie: string, viewport = { width: 1280, height: 800 }) => {
      const made = await opened.newContext({ viewport })
      const [name, value] = cookie.split("=") as [string, string]
      await made.addCookies([{ name, value, url: server.url }])
      return made
    }
    const ctx = await signedIn(admin.cookie)
    const problems: string[] = []
    ctx.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`)
    })
    ctx.on("response", (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`)
    })
    return {
      server,
      admin,
      ctx,
      root,
      projects,
      problems,
      async open(route) {
        const page = await ctx.newPage()
        await page.goto(`${server.url}/#${route}`)
        return page
      },
      signedIn,
      async startLaptop() {
        const home = join(root, `laptop-home-${daemons.length + 1}`)
        await pairWithKey(server, admin, home)
        const daemon = runCli(home, ["start", "--foreground", "--claude-dir", join(root, "claude")])
        daemons.push(daemon)
        return daemon
      },
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}
