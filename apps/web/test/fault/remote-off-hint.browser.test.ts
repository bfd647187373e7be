/**
 * Found in walkthrough-4: with remote commands off, the Run panel told the user to "Start its daemon
 * with overlord start --allow-remote" about a machine whose daemon was running, and doing so printed
 * only "already running (pid N); `overlord stop` first"; the API's refusal (what `overlord run` prints)
 * said "enable them in its remote config" without saying which file (the overview's link title said
 * the same "overlord start --allow-remote"). Now an online machine's hint, the link title and
 * the refusal say `overlord stop && overlord start --allow-remote` and name `~/.overlord/remote/config.json`,
 * and `overlord start --allow-remote` next to a running daemon says to start it again with the flag.
 * Real Chromium against the bundled CLI's daemon and embedded server.
 */
import { spawnSync } from "node:child_process"
import { dirname, join } from "node:path"
import type { Api } from "@overlord/protocol"
import { type Browser, chromiumMissing, launchChromium, screenshot } from "@overlord/testkit/browser"
import { type ClaudeHome, makeClaudeHome } from "@overlord/testkit/claude-cli"
import { OVERLORD_BIN, type OverlordProcess, startOverlord } from "@overlord/testkit/overlord-process"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ensureWebBuilt } from "../web-build.ts"

describe.skipIf(chromiumMissing())("remote commands off: what the user is told to do", () => {
  let claude: ClaudeHome
  let home: string
  let daemon: OverlordProcess
  let browser: Browser
  let link: string
  let serverUrl: string
  let apiToken: string

  beforeAll(async () => {
    ensureWebBuilt()
    claude = await makeClaudeHome("overlord-remote-off-")
    home = join(dirname(claude.configDir), "overlord-home")
    daemon = startOverlord(home, claude.configDir)
    link = await waitFor("the dashboard link", async () => /Dashboard: (\S+)/.exec(daemon.output())?.[1], 60_000)
    ;({ serverUrl, apiToken } = await daemon.credentials())
    browser = await launchChromium()
  }, 120_000)

  afterAll(async () => {
    await browser?.close().catch(() => {})
    daemon?.stop()
    await claude?.cleanup()
  })

  it("the Run panel says to restart the running daemon with the flag, and where the config is", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const errors: string[] = []
    const page = await ctx.newPage()
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text())
    })
    await page.goto(link)
    await page.goto(`${serverUrl}/#/run`)
    const reason = page.locator("[data-testid=run-disabled-reason]")
    await reason.waitFor({ timeout: 30_000 })
    const text = (await reason.textContent()) ?? ""
    expect(text).toContain("Restart its daemon with overlord stop && overlord start --allow-remote")
    expect(text).toContain("~/.overlord/remote/config.json")
    expect(await page.locator("[data-testid=run-submit]").isDisabled()).toBe(true)
    await screenshot(page, "remote-off-hint")
    // The overview's link to the machine's commands says the same in its title.
    await page.goto(`${serverUrl}/#/`)
    const runLink = page.locator("[data-testid=machine-run]").first()
    await runLink.waitFor({ timeout: 30_000 })
    expect(await runLink.getAttribute("title")).toBe(
      "Not accepting commands: overlord stop && overlord start --allow-remote",
    )
    expect(errors).toEqual([])
    await ctx.close()
  })

  it("the API's refusal (what `overlord run` prints) says the same", async () => {
    const api = (path: string, body?: unknown) =>
      fetch(`${serverUrl}/api/v1${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { authorization: `Bearer ${apiToken}`, "content-type": "application/json", origin: serverUrl },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    const { machines } = (await (await api("/machines")).json()) as { machines: Api.Machine[] }
    const res = await api("/commands", {
      machineId: machines[0]?.machineId ?? "",
      projectDir: claude.projectDir,
      prompt: "Hello?",
    })
    const body = (await res.json()) as Api.CommandErrorResponse
    expect(body.error.reason).toBe("remote-disabled")
    expect(body.error.message).toContain("overlord stop && overlord start --allow-remote")
    expect(body.error.message).toContain("~/.overlord/remote/config.json")
  })

  it("`overlord start --allow-remote` next to the running daemon says to stop it first, then start with the flag", () => {
    const started = spawnSync("bun", [OVERLORD_BIN, "--home", home, "start", "--allow-remote"], { encoding: "utf8" })
    expect(started.status).toBe(1)
    expect(started.stderr).toContain("`overlord stop` first, then `overlord start --allow-remote`")
  })
})
