/**
 * "Where: Daytona sandbox" in the Run panel, end to end in real Chromium (issue #12 §4): the real
 * daemon (`overlord start --allow-remote`, its embedded server and dashboard), the REAL
 * `@daytonaio/sdk` against the fake Daytona (its toolbox runs commands as local processes), and the
 * real Claude Code CLI in the sandbox against the scripted fake Anthropic API. Clicking Run streams
 * the output into the panel, shows the exit code and a patch to download, and the sandbox's session
 * syncs under a machine of its own, listed as a sandbox on the overview and linked from the command.
 * Daytona refusing a new sandbox (quota) shows Daytona's message in the panel.
 * Screenshots: `.artifacts/screenshots/run-panel-sandbox-*.png`.
 */
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import { type Browser, chromiumMissing, launchChromium, type Page, screenshot } from "@overlord/testkit/browser"
import { claudeBinary } from "@overlord/testkit/claude-cli"
import { type FakeAnthropic, startFakeAnthropic } from "@overlord/testkit/fake-anthropic"
import { type FakeDaytona, startFakeDaytona } from "@overlord/testkit/fake-daytona"
import { type OverlordProcess, startOverlord } from "@overlord/testkit/overlord-process"
import {
  bearerApi,
  daemonKnowsProjects,
  getJson,
  machineAccepting,
  seedProjectSession,
  writeDaytonaSettings,
} from "@overlord/testkit/remote-commands"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ensureWebBuilt } from "./web-build.ts"

const skip = chromiumMissing()
const SANDBOX_FILE = "from-the-panel.txt"
const ANSWER = "Wrote the file in the sandbox, from the panel."
const CONTINUED = "Continued in the same sandbox session."
const usage = { input: 30, output: 5, cacheWrite: 0, cacheRead: 0 }

describe.skipIf(skip)("Run panel: Daytona sandbox, in Chromium", () => {
  let root: string
  let home: string
  let projectDir: string
  let otherProjectDir: string
  let fake: FakeDaytona
  let anthropic: FakeAnthropic
  let daemon: OverlordProcess
  let serverUrl: string
  let apiToken: string
  let laptop: Api.Machine
  let browser: Browser
  let page: Page
  const pageErrors: string[] = []

  const api = <T>(path: string): Promise<T> => getJson<T>(serverUrl, apiToken, path)

  /** Opens the Run panel for `project`, picks the sandbox, types the prompt, clicks Run; the command's id. */
  const runInSandbox = async (project: string, prompt: string): Promise<string> => {
    const q = new URLSearchParams({ machine: laptop.machineId, project })
    await page.goto(`${serverUrl}/#/usage`)
    await page.goto(`${serverUrl}/#/run?${q}`)
    await page.locator("[data-testid=run-panel]").waitFor()
    await page.locator(`[data-testid=run-machine] option[value="${laptop.machineId}"]`).waitFor({ state: "attached" })
    await page.locator("[data-testid=run-where-sandbox]").check()
    // Nobody can answer a prompt in the sandbox: the panel leaves the mode to it.
    expect(await page.locator("[data-testid=run-permission-mode]").isDisabled()).toBe(true)
    await page.locator("[data-testid=run-prompt]").fill(prompt)
    await page.locator("[data-testid=run-submit]").click()
    const view = page.locator("[data-testid=command-view]").last()
    await view.waitFor({ timeout: 20_000 })
    return (await view.getAttribute("data-command-id")) ?? ""
  }

  beforeAll(async () => {
    ensureWebBuilt()
    root = await realpath(await mkdtemp(join(tmpdir(), "overlord-run-sandbox-")))
    home = join(root, "overlord-home")
    const claudeDir = join(root, "claude")
    projectDir = join(root, "storefront")
    otherProjectDir = join(root, "over-quota")
    for (const d of [home, claudeDir, projectDir, otherProjectDir]) await mkdir(d, { recursive: true })
    await writeFile(join(projectDir, "README.md"), "# storefront\n")
    await seedProjectSession(claudeDir, projectDir, "00000000-0000-4000-8000-0000000000b1")
    await seedProjectSession(claudeDir, otherProjectDir, "00000000-0000-4000-8000-0000000000b2")
    fake = await startFakeDaytona({ tools: { claude: await claudeBinary() } })
    anthropic = startFakeAnthropic({
      main: [
        {
          blocks: [
            { type: "text", text: "Writing a file in the sandbox." },
            {
              type: "tool_use",
              name: "Bash",
              input: { command: `printf 'from the panel\\n' > ${SANDBOX_FILE}`, description: "Write" },
            },
          ],
          usage,
        },
        { blocks: [{ type: "text", text: ANSWER }], usage },
        // A resume of the session, from its page.
        { blocks: [{ type: "text", text: CONTINUED }], usage },
      ],
    })
    await writeDaytonaSettings(home, fake, {
      anthropicApiKey: "sk-ant-browser-sandbox-19d0",
      anthropicUrl: anthropic.url,
      snapshot: "overlord-claude-code-browser",
      autoStopMinutes: 15,
    })
    daemon = startOverlord(home, claudeDir, ["--allow-remote"])
    const creds = await daemon.credentials()
    serverUrl = creds.serverUrl
    apiToken = creds.apiToken
    const loginUrl = await waitFor(
      "the printed dashboard link",
      async () => /Dashboard: (\S+)/.exec(daemon.output())?.[1],
    )
    laptop = await machineAccepting<Api.Machine>(bearerApi(serverUrl, apiToken))
    await daemonKnowsProjects(home, [projectDir, otherProjectDir])
    browser = await launchChromium()
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    page = await context.newPage()
    page.on("pageerror", (e) => pageErrors.push(e.message))
    expect((await page.goto(loginUrl))?.ok()).toBe(true)
  }, 300_000)

  afterAll(async () => {
    await browser?.close().catch(() => {})
    daemon?.stop()
    await anthropic?.stop()
    await fake?.stop()
    if (root) await rm(root, { recursive: true, force: true })
  })

  it("clicks Run in a sandbox: output streams, exit code, a patch to download, the session under the sandbox's machine", async () => {
    const commandId = await runInSandbox(projectDir, "Write a file in the sandbox.")
    await page
      .locator("[data-testid=run-output] [data-testid=run-event][data-kind=assistant]", { hasText: ANSWER })
      .waitFor({ timeout: 90_000 })
    await page
      .locator('[data-testid=command-view] [data-testid=command-status][data-status="completed"]')
      .first()
      .waitFor({ timeout: 60_000 })
    expect(await page.locator("[data-testid=command-view] [data-testid=command-exit-code]").textContent()).toBe(
      "exit 0",
    )
    // The changes, pulled back: the note names the file, and the link downloads the patch.
    const note = page.locator("[data-testid=run-event][data-kind=patch]")
    await note.waitFor()
    expect(await note.textContent()).toContain(SANDBOX_FILE)
    const link = page.locator("[data-testid=command-patch-link]")
    const href = (await link.getAttribute("href")) ?? ""
    expect(href).toContain(`/api/v1/commands/${commandId}/patch`)
    const patch = await page.evaluate(async (url) => (await fetch(url)).text(), href)
    expect(patch).toContain(`+++ b/${SANDBOX_FILE}`)
    expect(patch).toContain("+from the panel")
    await screenshot(page, "run-panel-sandbox-desktop")

    // The session synced under the sandbox's own machine, and the command's link opens it.
    const detail = await api<Api.CommandDetail>(`/commands/${commandId}`)
    const sessionId = detail.command.sessionId ?? ""
    expect(sessionId).not.toBe("")
    const session = await api<Api.SessionDetail>(`/sessions/${sessionId}`)
    const machines = (await api<{ machines: Api.Machine[] }>("/machines")).machines
    const child = machines.find((m) => m.machineId === session.session.machineId)
    expect(child?.parent).toEqual({ machineId: laptop.machineId, kind: "sandbox" })
    expect(child?.name).toBe(`${laptop.name}/sandbox-storefront`)
    await page.locator("[data-testid=command-session-link]").click()
    await page.locator("[data-testid=entry]", { hasText: ANSWER }).first().waitFor({ timeout: 20_000 })
    await page.locator(`[data-testid=session-commands] [data-command-id="${commandId}"]`).waitFor({ state: "attached" })
    expect(await page.locator(`[title="${child?.machineId}"]`).first().textContent()).toBe(child?.name)

    // Continuing it goes through the laptop, into the sandbox again, in the laptop's project folder.
    const cont = page.locator("[data-testid=session-continue]")
    await expect.poll(() => cont.getAttribute("href")).toContain(`project=${encodeURIComponent(projectDir)}`)
    expect(await cont.getAttribute("data-where")).toBe("sandbox")
    await cont.click()
    await page.locator("[data-testid=run-panel]").waitFor()
    expect(await page.locator("[data-testid=run-where-sandbox]").isChecked()).toBe(true)
    expect(await page.locator("[data-testid=run-resume]").isChecked()).toBe(true)
    await page.locator("[data-testid=run-prompt]").fill("Carry on in the sandbox.")
    await page.locator("[data-testid=run-submit]").click()
    await page
      .locator("[data-testid=run-output] [data-testid=run-event][data-kind=assistant]", { hasText: CONTINUED })
      .waitFor({ timeout: 90_000 })
    const resumed = await waitFor("the resumed command to end", async () => {
      const { commands } = await api<Api.CommandList>(`/commands?sessionId=${sessionId}`)
      return commands.length === 2 && commands.every((c) => c.endedAt !== null) ? commands : null
    })
    expect(resumed.map((c) => [c.where, c.status, c.machineId])).toEqual([
      ["sandbox", "completed", laptop.machineId],
      ["sandbox", "completed", laptop.machineId],
    ])
    const entries = await api<Api.EntryPage>(`/sessions/${sessionId}/entries?limit=1000`)
    expect(entries.entries.some((e) => e.line.includes(CONTINUED))).toBe(true)

    // The overview lists it as a sandbox, run through the laptop.
    await page.goto(`${serverUrl}/#/`)
    const row = page.locator("[data-testid=machine-row]", { hasText: child?.name ?? "?" })
    await row.locator("[data-testid=machine-sandbox]").waitFor()
    expect(await row.locator("[data-testid=machine-run-parent]").textContent()).toBe(`via ${laptop.name}`)
    await screenshot(page, "run-panel-sandbox-overview")
  })

  it("shows Daytona's message when it refuses a new sandbox (quota)", async () => {
    fake.faults.quotaExceeded = true
    try {
      await runInSandbox(otherProjectDir, "Never runs.")
      const refusal = page.locator("[data-testid=command-view] [data-testid=run-refusal]")
      await refusal.waitFor({ timeout: 60_000 })
      const text = (await refusal.textContent()) ?? ""
      expect(text).toContain("Daytona refused to create a sandbox (403)")
      expect(text).toContain("overlord sandboxes list")
      expect(text).not.toContain(fake.apiKey)
      await screenshot(page, "run-panel-sandbox-quota")
    } finally {
      fake.faults.quotaExceeded = false
    }
    expect(pageErrors).toEqual([])
  })
})
