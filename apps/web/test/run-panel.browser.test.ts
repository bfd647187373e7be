/**
 * The Run panel end to end in real Chromium: `overlord start --foreground --allow-remote` (the real
 * daemon with its embedded server) runs the real Claude Code CLI against scripted fake APIs when the
 * page asks. Output streams into the panel through the transcript renderers (an answer's text as the
 * model writes it, then its complete message in its place), the new session syncs and
 * links back to its command, a session is continued in the same transcript, a follow-up lands mid-run,
 * permission prompts are answered Allow (the tool runs) and Deny (it does not), a cancel ends the CLI's
 * and its tool's process groups, refusals are shown with their message, and the same Run + permission
 * flow works on a 375×667 touch screen. Screenshots: `.artifacts/screenshots/run-panel-*.png`; the
 * click-to-first-output latency goes to `.artifacts/run-panel-latency.json` (reported, never asserted).
 */
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import type { Api } from "@overlord/protocol"
import {
  type Browser,
  type BrowserContext,
  chromiumMissing,
  launchChromium,
  type Page,
  screenshot,
  screenshotDir,
} from "@overlord/testkit/browser"
import { type ClaudeHome, claudeBinary, claudeEnv, makeClaudeHome } from "@overlord/testkit/claude-cli"
import { type FakeAnthropic, type Script, startFakeAnthropic } from "@overlord/testkit/fake-anthropic"
import { OVERLORD_BIN, type OverlordProcess, startOverlord } from "@overlord/testkit/overlord-process"
import { getJson, groupGone } from "@overlord/testkit/remote-commands"
import { runScenario, type ScenarioRun, toolTour } from "@overlord/testkit/scenarios"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ClaudeProcess } from "../../overlord/src/remote/claude-process.ts"
import { type CommandServer, startCommandServer } from "./run-panel-server.ts"
import { ensureWebBuilt } from "./web-build.ts"

const skip = chromiumMissing()

/**
 * Whether this tree has the server's command routes and the daemon's `--allow-remote` (built in
 * parallel with this panel). Without them the page talks to `run-panel-server.ts`, which serves the
 * same contract over the real store and the daemon's real runner, in front of the real daemon.
 */
const wired = (): boolean =>
  existsSync(join(import.meta.dirname, "..", "..", "server", "src", "http-commands.ts")) &&
  spawnSync("bun", [OVERLORD_BIN, "start", "--help"], { encoding: "utf8" }).stdout.includes("--allow-remote")

const usage = (n: number) => ({ input: 100 * n + 3, output: 10 * n + 7, cacheWrite: 1000 * n + 11, cacheRead: 13 })
const text = (n: number, t: string, delayMs?: number) => ({
  blocks: [{ type: "text" as const, text: t }],
  usage: usage(n),
  ...(delayMs !== undefined ? { delayMs } : {}),
})

const HELLO = "Hello from the Run panel."
const CONTINUED = "Continued in the same session."
const FOLLOW_UP = "FOLLOW-UP-ANSWERED-7c1"
const SLEEP_SECONDS = 733
/** `[run-stream]`'s answer: this sentence STREAM_DELTAS times, one SSE delta every 100 ms (as `slowStream`). */
const STREAM_SENTENCE = "Once upon a time, again."
const STREAM_DELTAS = 80
const sentences = (s: string) => s.split(STREAM_SENTENCE).length - 1
const NOTES = "alpha\nbeta\ngamma\n"

/**
 * One fake API per scenario, behind one URL (the daemon has one environment for all its runs): a
 * request goes to the fake whose marker its body carries (the prompt, which every request of the
 * session repeats), anything else to the first.
 */
type Routed = { readonly marker: string; readonly script: (dir: string) => Script }
const SCENARIOS: readonly Routed[] = [
  {
    marker: "[run-hello]",
    script: () => ({ main: [text(1, HELLO), text(2, CONTINUED)] }),
  },
  {
    marker: "[run-allow]",
    script: (dir) => ({
      main: [
        {
          blocks: [
            { type: "text", text: "Writing allowed.txt." },
            { type: "tool_use", name: "Write", input: { file_path: join(dir, "allowed.txt"), content: "allowed\n" } },
          ],
          usage: usage(1),
        },
        text(2, "Wrote allowed.txt."),
      ],
    }),
  },
  {
    marker: "[run-deny]",
    script: (dir) => ({
      main: [
        {
          blocks: [
            {
              type: "tool_use",
              name: "Edit",
              input: { file_path: join(dir, "notes.txt"), old_string: "beta", new_string: "BETA (denied)" },
            },
          ],
          usage: usage(1),
        },
        text(2, "The edit was denied."),
      ],
    }),
  },
  {
    marker: "[run-follow]",
    script: () => ({ main: [text(1, "A slow first answer.", 6000), text(2, FOLLOW_UP)] }),
  },
  {
    // `touch` makes Claude Code ask (it runs read-only commands such as `echo` or `sleep` unasked).
    marker: "[run-cancel]",
    script: () => ({
      main: [
        {
          blocks: [
            {
              type: "tool_use",
              name: "Bash",
              input: { command: `touch cancel-started.txt; sleep ${SLEEP_SECONDS}; echo waited`, description: "Wait" },
            },
          ],
          usage: usage(1),
        },
        text(2, "Done waiting."),
      ],
    }),
  },
  {
    marker: "[run-mobile]",
    script: (dir) => ({
      main: [
        {
          blocks: [
            {
              type: "tool_use",
              name: "Write",
              input: { file_path: join(dir, "mobile.txt"), content: "from a phone\n" },
            },
          ],
          usage: usage(1),
        },
        text(2, "Wrote mobile.txt."),
      ],
    }),
  },
  { marker: "[run-latency]", script: () => ({ main: [text(1, "Quick answer.")] }) },
  {
    marker: "[run-stream]",
    script: () => ({ main: [{ ...text(1, STREAM_SENTENCE.repeat(STREAM_DELTAS)), eventDelayMs: 100 }] }),
  },
]

const startRouter = (dir: string) => {
  const fakes = SCENARIOS.map((s) => ({ marker: s.marker, fake: startFakeAnthropic(s.script(dir)) }))
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.text()
      const target = (body && fakes.find((f) => body.includes(f.marker))) || fakes[0]
      const url = new URL(req.url)
      const headers = new Headers(req.headers)
      headers.delete("host")
      headers.delete("content-length")
      return fetch(`${target?.fake.url}${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        ...(body !== undefined ? { body } : {}),
      })
    },
  })
  return {
    url: `http://127.0.0.1:${server.port}`,
    fake: (marker: string): FakeAnthropic => {
      const f = fakes.find((x) => x.marker === marker)
      if (!f) throw new Error(marker)
      return f.fake
    },
    errors: () => fakes.flatMap((f) => f.fake.errors.map((e) => `${f.marker}: ${e}`)),
    stop: async () => {
      server.stop(true)
      await Promise.all(fakes.map((f) => f.fake.stop()))
    },
  }
}

type Proc = { pid: number; ppid: number; pgid: number; args: string }
const processes = (): Proc[] =>
  execFileSync("ps", ["-A", "-o", "pid=,ppid=,pgid=,args="], { encoding: "utf8" })
    .split("\n")
    .flatMap((l) => {
      const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(.*)$/.exec(l)
      return m ? [{ pid: Number(m[1]), ppid: Number(m[2]), pgid: Number(m[3]), args: m[4] ?? "" }] : []
    })

/** The nearest ancestor of `pid` (itself excluded) whose command line matches. */
const ancestorMatching = (all: readonly Proc[], pid: number, re: RegExp): Proc | undefined => {
  const byPid = new Map(all.map((p) => [p.pid, p]))
  for (let p = byPid.get(byPid.get(pid)?.ppid ?? 0); p; p = byPid.get(p.ppid)) if (re.test(p.args)) return p
  return undefined
}

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN

describe.skipIf(skip)("Run panel in Chromium", () => {
  let claude: ClaudeHome
  let overlordHome: string
  let router: ReturnType<typeof startRouter>
  let daemon: { child: ReturnType<typeof spawn>; output: () => string; stop: () => void }
  /** What the browser opens: the daemon's server, or the command server in front of it. */
  let serverUrl: string
  let commandServer: CommandServer | undefined
  let auditPath: string
  let isWired = false
  let apiToken: string
  /** How the daemon runs `claude`: its environment, and the name it finds on that PATH. */
  let daemonEnv: Record<string, string | undefined>
  let daemonClaude: string
  let loginUrl: string
  let machineId: string
  let seed: ScenarioRun
  let browser: Browser
  let context: BrowserContext
  let page: Page
  const pageErrors: string[] = []

  const api = <T>(path: string): Promise<T> => getJson<T>(serverUrl, apiToken, path)

  const openRun = async (p: Page, preset: Record<string, string> = {}) => {
    const q = new URLSearchParams({ machine: machineId, project: claude.projectDir, ...preset })
    // Through another page, so the panel mounts afresh even when the URL is the same.
    await p.goto(`${serverUrl}/#/usage`)
    await p.goto(`${serverUrl}/#/run?${q}`)
    await p.locator("[data-testid=run-panel]").waitFor()
    await p.locator(`[data-testid=run-machine] option[value="${machineId}"]`).waitFor({ state: "attached" })
  }

  /** Types the prompt and clicks Run. */
  const submit = async (p: Page, prompt: string) => {
    await p.locator("[data-testid=run-permission-mode]").selectOption("default")
    await p.locator("[data-testid=run-prompt]").fill(prompt)
    await p.locator("[data-testid=run-submit]").click()
  }

  /** Types the prompt, clicks Run and returns the new command's id. */
  const run = async (p: Page, prompt: string) => {
    await submit(p, prompt)
    const view = p.locator("[data-testid=command-view]").last()
    await view.waitFor({ timeout: 20_000 })
    return (await view.getAttribute("data-command-id")) ?? ""
  }

  const waitStatus = (p: Page, status: string, timeout = 90_000) =>
    p
      .locator(`[data-testid=command-view] [data-testid=command-status][data-status="${status}"]`)
      .first()
      .waitFor({ timeout })

  const commandOf = (commandId: string) => api<Api.CommandDetail>(`/commands/${encodeURIComponent(commandId)}`)

  beforeAll(async () => {
    ensureWebBuilt()
    claude = await makeClaudeHome("overlord-run-panel-")
    // A session in the project first: a daemon runs commands only in projects its sessions came from.
    seed = await runScenario(toolTour, { home: { ...claude, cleanup: async () => {} }, timeoutMs: 120_000 })
    expect(seed.runs[0]?.exitCode).toBe(0)
    await writeFile(join(claude.projectDir, "notes.txt"), NOTES)
    router = startRouter(claude.projectDir)
    // `claude` on the daemon's PATH, pointing at the CLI the test kit runs.
    const bin = join(dirname(claude.configDir), "bin")
    await mkdir(bin, { recursive: true })
    await symlink(await claudeBinary(), join(bin, "claude"))
    await mkdir(join(dirname(claude.configDir), "tmp"), { recursive: true })
    overlordHome = join(dirname(claude.configDir), "overlord-home")
    isWired = wired()
    const env = {
      ...process.env,
      ...claudeEnv(claude.configDir, router.url),
      PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    }
    daemonEnv = env
    daemonClaude = join(bin, "claude")
    const chunks: string[] = []
    const child = spawn(
      "bun",
      [
        OVERLORD_BIN,
        "--home",
        overlordHome,
        "start",
        "--foreground",
        ...(isWired ? ["--allow-remote"] : []),
        "--claude-dir",
        claude.configDir,
        "--port",
        "0",
      ],
      { stdio: ["ignore", "pipe", "pipe"], env },
    )
    child.stdout?.on("data", (d) => chunks.push(String(d)))
    child.stderr?.on("data", (d) => chunks.push(String(d)))
    daemon = { child, output: () => chunks.join(""), stop: () => child.kill("SIGTERM") }
    loginUrl = await waitFor(
      "the printed dashboard link",
      async () => /Dashboard: (\S+)/.exec(daemon.output())?.[1],
      60_000,
    )
    const creds = await waitFor("the daemon's credentials", async () => {
      const c = JSON.parse(await readFile(join(overlordHome, "credentials.json"), "utf8")) as {
        serverUrl: string
        apiToken: string
      }
      const res = await fetch(`${c.serverUrl}/api/v1/machines`, { headers: { authorization: `Bearer ${c.apiToken}` } })
      return res.ok ? c : null
    })
    serverUrl = creds.serverUrl
    apiToken = creds.apiToken
    auditPath = join(overlordHome, "remote", "audit.jsonl")
    if (!isWired) {
      const { machines } = await waitFor("the daemon's machine", async () => {
        const list = await api<{ machines: Api.Machine[] }>("/machines")
        return list.machines.length > 0 ? list : null
      })
      commandServer = await startCommandServer({
        upstream: creds.serverUrl,
        apiToken,
        machineId: machines[0]?.machineId ?? "",
        dir: dirname(claude.configDir),
        claudePath: await claudeBinary(),
        env: claudeEnv(claude.configDir, router.url),
      })
      serverUrl = commandServer.url
      loginUrl = loginUrl.replace(creds.serverUrl, commandServer.url)
      auditPath = join(commandServer.runnerHome, "remote", "audit.jsonl")
      console.log(`run-panel: the server's command routes are not in this tree; testing against ${serverUrl}`)
    }
    const machine = await waitFor("the machine online, accepting commands, with the seed session synced", async () => {
      const { machines } = await api<{ machines: Api.Machine[] }>("/machines")
      const m = machines.find((x) => x.online && x.acceptsCommands)
      if (!m) return null
      const { sessions } = await api<Api.SessionList>("/sessions?limit=10")
      return sessions.some((s) => s.sessionId === seed.sessionId) ? m : null
    }).catch((e) => {
      throw new Error(`${String(e)}\ndaemon output:\n${daemon.output()}`)
    })
    machineId = machine.machineId
    browser = await launchChromium()
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    page = await context.newPage()
    page.on("pageerror", (e) => pageErrors.push(e.message))
    const res = await page.goto(loginUrl)
    expect(res?.ok()).toBe(true)
  }, 300_000)

  afterAll(async () => {
    await browser?.close().catch(() => {})
    await commandServer?.stop()
    daemon?.stop()
    await router?.stop()
    await seed?.dispose()
    if (claude) await rm(dirname(claude.configDir), { recursive: true, force: true })
  })

  it("runs a prompt: the output streams in, the new session syncs and links back to its command", async () => {
    await openRun(page)
    const commandId = await run(page, `${"[run-hello]"} Say hello.`)
    const answer = page.locator("[data-testid=run-output] [data-testid=run-event][data-kind=assistant]", {
      hasText: HELLO,
    })
    await answer.waitFor({ timeout: 60_000 })
    // Rendered by the transcript's renderers (markdown), not as raw JSON.
    expect(await page.locator("[data-testid=run-output]").textContent()).not.toContain('"type":"assistant"')
    await waitStatus(page, "completed")
    await page.locator("[data-testid=command-view] [data-testid=command-exit-code]").waitFor()
    const detail = await commandOf(commandId)
    expect(detail.command).toMatchObject({ status: "completed", exitCode: 0, machineId })
    const sessionId = detail.command.sessionId
    expect(sessionId).toBeTruthy()
    await screenshot(page, "run-panel-desktop")

    // The history row: status, exit code, cost and the session it produced.
    const row = page.locator(`[data-testid=command-row][data-command-id="${commandId}"]`)
    await row.waitFor()
    await expect.poll(() => row.getAttribute("data-status")).toBe("completed")
    expect(await row.locator("[data-testid=command-row-exit]").textContent()).toBe("exit 0")

    // The session syncs; the panel's link opens it, and the session lists the command.
    await waitFor("the new session stored", async () =>
      (await api<Api.EntryPage>(`/sessions/${sessionId}/entries?limit=500`)).entries.some((e) =>
        e.line.includes(HELLO),
      ),
    )
    await page.locator("[data-testid=command-session-link]").click()
    await page.locator("[data-testid=entry]", { hasText: HELLO }).first().waitFor({ timeout: 20_000 })
    const linked = page.locator(`[data-testid=session-commands] [data-command-id="${commandId}"]`)
    await linked.waitFor({ state: "attached" })
  })

  it("shows the answer as the model writes it, also to a page opened mid-answer, then the complete message in its place", async () => {
    await openRun(page)
    const commandId = await run(page, "[run-stream] Tell a long story.")
    const partial = (p: Page) =>
      p.locator("[data-testid=run-output] [data-testid=run-event][data-kind=assistant][data-partial]", {
        hasText: STREAM_SENTENCE,
      })
    const status = (p: Page) =>
      p.locator("[data-testid=command-view] [data-testid=command-status]").getAttribute("data-status")
    await partial(page).waitFor({ timeout: 60_000 })
    // Part of the answer while the command runs (before: only "Claude Code started" until the block was whole).
    const early = sentences((await partial(page).textContent()) ?? "")
    expect(await status(page)).toBe("running")
    expect(early).toBeGreaterThan(0)
    expect(early).toBeLessThan(STREAM_DELTAS)
    await expect.poll(async () => sentences((await partial(page).textContent()) ?? "")).toBeGreaterThan(early)
    await screenshot(page, "run-panel-partial")

    // A page opened now, mid-answer, shows the text so far too.
    const late = await context.newPage()
    try {
      await late.goto(`${serverUrl}/#/commands/${encodeURIComponent(commandId)}`)
      await partial(late).waitFor({ timeout: 30_000 })
      const lateShown = sentences((await partial(late).textContent()) ?? "")
      expect(lateShown).toBeGreaterThan(early)
      await late.locator('[data-testid=command-status][data-status="completed"]').waitFor({ timeout: 60_000 })
      expect(await partial(late).count()).toBe(0)
    } finally {
      await late.close()
    }

    // Ended: the complete message alone, the text once.
    await waitStatus(page, "completed")
    expect(await partial(page).count()).toBe(0)
    const answers = page.locator("[data-testid=run-output] [data-testid=run-event][data-kind=assistant]")
    expect(await answers.count()).toBe(1)
    expect(sentences((await answers.textContent()) ?? "")).toBe(STREAM_DELTAS)
    const detail = await commandOf(commandId)
    expect(detail.events.some((e) => e.event.kind === "cli" && e.event.message.type === "stream_event")).toBe(false)
  })

  it("continues a session from its page, in the same transcript", async () => {
    const { commands } = await api<Api.CommandList>(`/commands?machineId=${machineId}&limit=50`)
    const first = commands.find((c) => c.prompt.includes("[run-hello]"))
    const sessionId = first?.sessionId ?? ""
    expect(sessionId).not.toBe("")
    await page.goto(`${serverUrl}/#/sessions/${sessionId}`)
    await page.locator("[data-testid=session-continue]").click()
    await page.locator("[data-testid=run-resume]").waitFor()
    expect(await page.locator("[data-testid=run-resume]").isChecked()).toBe(true)
    const commandId = await run(page, "[run-hello] And now continue.")
    await page
      .locator("[data-testid=run-output] [data-testid=run-event][data-kind=assistant]", { hasText: CONTINUED })
      .waitFor({ timeout: 60_000 })
    await waitStatus(page, "completed")
    expect((await commandOf(commandId)).command).toMatchObject({ sessionId, resumeSessionId: sessionId })
    await page.goto(`${serverUrl}/#/sessions/${sessionId}`)
    // Both answers in the one transcript.
    await page.locator("[data-testid=entry]", { hasText: CONTINUED }).first().waitFor({ timeout: 30_000 })
    expect(await page.locator("[data-testid=entry]", { hasText: HELLO }).count()).toBeGreaterThan(0)
  })

  it("sends a follow-up while it runs", async () => {
    await openRun(page)
    const commandId = await run(page, "[run-follow] Think slowly.")
    await waitStatus(page, "running", 30_000)
    await page.locator("[data-testid=follow-up-input]").fill("And a follow-up.")
    await page.locator("[data-testid=follow-up-send]").click()
    await expect.poll(() => page.locator("[data-testid=follow-up-input]").inputValue()).toBe("")
    await page
      .locator("[data-testid=run-output] [data-testid=run-event][data-kind=assistant]", { hasText: FOLLOW_UP })
      .waitFor({ timeout: 60_000 })
    await waitStatus(page, "completed")
    const detail = await commandOf(commandId)
    const echoed = detail.events.some(
      (e) =>
        e.event.kind === "cli" &&
        e.event.message.type === "user" &&
        JSON.stringify(e.event.message).includes("And a follow-up."),
    )
    expect(echoed, "the follow-up reached the CLI").toBe(true)
  })

  it("runs a tool allowed in the browser and not one denied; an Edit asks with its diff", async () => {
    await openRun(page)
    await run(page, "[run-allow] Write allowed.txt.")
    const prompt = page.locator("[data-testid=permission-dock] [data-testid=permission-prompt][data-tool=Write]")
    await prompt.waitFor({ timeout: 60_000 })
    expect(await prompt.textContent()).toContain("allowed.txt")
    expect(existsSync(join(claude.projectDir, "allowed.txt"))).toBe(false)
    await screenshot(page, "run-panel-permission-desktop")
    await prompt.locator("[data-testid=permission-allow]").click()
    await waitStatus(page, "completed")
    expect(await readFile(join(claude.projectDir, "allowed.txt"), "utf8")).toBe("allowed\n")
    await expect
      .poll(() => page.locator("[data-testid=permission-prompt][data-tool=Write]").getAttribute("data-state"))
      .toBe("allowed")

    await openRun(page)
    await run(page, "[run-deny] Edit notes.txt.")
    const edit = page.locator("[data-testid=permission-dock] [data-testid=permission-prompt][data-tool=Edit]")
    await edit.waitFor({ timeout: 60_000 })
    // The Edit is shown as a diff: the line it would remove and the one it would add.
    await edit.locator("[data-testid=diff] tr.diff-del", { hasText: "beta" }).waitFor()
    await edit.locator("[data-testid=diff] tr.diff-add", { hasText: "BETA (denied)" }).waitFor()
    await edit.locator("[data-testid=permission-deny]").click()
    await waitStatus(page, "completed")
    expect(await readFile(join(claude.projectDir, "notes.txt"), "utf8")).toBe(NOTES)
  })

  it("cancels a long command: its process group and its tool's are gone", async () => {
    await openRun(page)
    const commandId = await run(page, "[run-cancel] Wait a while in the shell.")
    const bash = page.locator("[data-testid=permission-dock] [data-testid=permission-prompt][data-tool=Bash]")
    await bash.waitFor({ timeout: 60_000 }).catch(async (e) => {
      throw new Error(`${String(e)}\n${JSON.stringify(await commandOf(commandId), null, 1).slice(0, 6000)}`)
    })
    // A Bash call is asked as the command it would run.
    expect(await bash.locator("[data-testid=permission-command]").textContent()).toContain(`sleep ${SLEEP_SECONDS}`)
    await bash.locator("[data-testid=permission-allow]").click()
    const all = await waitFor(`the tool's sleep ${SLEEP_SECONDS}`, () => {
      const list = processes()
      return list.some((p) => new RegExp(`\\bsleep ${SLEEP_SECONDS}$`).test(p.args)) ? list : null
    })
    const sleeper = all.find((p) => new RegExp(`\\bsleep ${SLEEP_SECONDS}$`).test(p.args))
    // The command's CLI: the sleep's nearest `claude` ancestor, which leads a process group of its own.
    const cli = ancestorMatching(all, sleeper?.pid ?? 0, /(^|\/)claude(\.exe)?\s/)
    expect(cli, "the command's CLI process").toBeDefined()
    expect(cli?.pgid).toBe(cli?.pid)
    expect(sleeper?.pgid).not.toBe(cli?.pgid)
    await page.locator("[data-testid=command-cancel]").click()
    await waitStatus(page, "cancelled", 30_000)
    await groupGone(sleeper?.pgid ?? 0, 15_000)
    if (cli) await groupGone(cli.pgid, 15_000)
    expect((await commandOf(commandId)).command.status).toBe("cancelled")
    const audit = (await readFile(auditPath, "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { event: string; commandId: string })
      .filter((a) => a.commandId.length > 0)
    expect(audit.some((a) => a.event === "cancel")).toBe(true)
  })

  it("shows each refusal in the panel with its message", async () => {
    // Prompt too long: over the daemon's 100 KiB.
    await openRun(page)
    await page.locator("[data-testid=run-prompt]").fill(`[run-hello] ${"x".repeat(101 * 1024)}`)
    await page.locator("[data-testid=run-submit]").click()
    const tooLong = page.locator("[data-testid=run-refusal][data-reason=prompt-too-long]")
    await tooLong.waitFor({ timeout: 30_000 })
    expect((await tooLong.textContent())?.length ?? 0).toBeGreaterThan(20)
    await screenshot(page, "run-panel-refused-prompt-too-long")

    // A directory no session of this machine has used.
    await openRun(page, { project: "/nonexistent/overlord-project" })
    await submit(page, "[run-hello] Hello?")
    await page.locator("[data-testid=run-refusal][data-reason=unknown-project]").waitFor({ timeout: 30_000 })

    // A path that climbs out of a known project.
    await openRun(page, { project: `${claude.projectDir}/../..` })
    await submit(page, "[run-hello] Hello?")
    await page.locator("[data-testid=run-refusal][data-reason=path-escape]").waitFor({ timeout: 30_000 })
  })

  it("says why Run is off on a machine that does not accept commands", async () => {
    const other = await makeClaudeHome("overlord-run-panel-off-")
    const home = join(dirname(other.configDir), "overlord-home")
    const off: OverlordProcess = startOverlord(home, other.configDir)
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    try {
      const link = await waitFor(
        "the second dashboard's link",
        async () => /Dashboard: (\S+)/.exec(off.output())?.[1],
        60_000,
      )
      const creds = await off.credentials()
      const p = await ctx.newPage()
      await p.goto(link)
      await p.goto(`${creds.serverUrl}/#/run?project=${encodeURIComponent(other.projectDir)}`)
      const reason = p.locator("[data-testid=run-disabled-reason]")
      await reason.waitFor({ timeout: 30_000 })
      expect(await reason.textContent()).toContain("overlord start --allow-remote")
      await p.locator("[data-testid=run-prompt]").fill("Hello?")
      expect(await p.locator("[data-testid=run-submit]").isDisabled()).toBe(true)
      // The server refuses it too, with the reason the panel names (its routes, when this tree has them).
      if (!isWired) return
      const machines = (await (
        await fetch(`${creds.serverUrl}/api/v1/machines`, {
          headers: { authorization: `Bearer ${creds.apiToken}` },
        })
      ).json()) as { machines: Api.Machine[] }
      const refused = await p.evaluate(
        async (body) => {
          const res = await fetch("/api/v1/commands", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(body),
          })
          return { status: res.status, body: (await res.json()) as Api.CommandErrorResponse }
        },
        { machineId: machines.machines[0]?.machineId ?? "", projectDir: other.projectDir, prompt: "Hello?" },
      )
      expect(refused.body.error.reason).toBe("remote-disabled")
      await screenshot(p, "run-panel-remote-disabled")
    } finally {
      await ctx.close()
      off.stop()
      await other.cleanup()
    }
  })

  it("runs and answers a permission prompt on a 375×667 touch screen", async () => {
    const mobile = await browser.newContext({
      viewport: { width: 375, height: 667 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 2,
    })
    try {
      await mobile.addCookies(await context.cookies())
      const p = await mobile.newPage()
      await openRun(p)
      const noHorizontalScroll = () =>
        p.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)
      expect(await noHorizontalScroll()).toBe(true)
      const height = async (selector: string) => (await p.locator(selector).first().boundingBox())?.height ?? 0
      for (const s of [
        "[data-testid=run-submit]",
        "[data-testid=run-machine]",
        "[data-testid=run-project]",
        "[data-testid=run-permission-mode]",
      ])
        expect(await height(s), s).toBeGreaterThanOrEqual(44)
      await p.locator("[data-testid=run-permission-mode]").selectOption("default")
      await p.locator("[data-testid=run-prompt]").fill("[run-mobile] Write mobile.txt.")
      await p.locator("[data-testid=run-submit]").tap()
      const prompt = p.locator("[data-testid=permission-dock] [data-testid=permission-prompt][data-tool=Write]")
      await prompt.waitFor({ timeout: 60_000 })
      const allow = prompt.locator("[data-testid=permission-allow]")
      const deny = prompt.locator("[data-testid=permission-deny]")
      for (const b of [allow, deny]) {
        const box = await b.boundingBox()
        expect(box?.height ?? 0).toBeGreaterThanOrEqual(44)
        expect(box?.width ?? 0).toBeGreaterThanOrEqual(44)
      }
      // Reachable: the docked prompt's buttons are on screen with the panel in view.
      await p.locator("[data-testid=command-view]").scrollIntoViewIfNeeded()
      await p.locator("[data-testid=permission-dock]").scrollIntoViewIfNeeded()
      const box = await allow.boundingBox()
      expect(box && box.y >= 0 && box.y + box.height <= 667 && box.x >= 0 && box.x + box.width <= 375).toBe(true)
      expect(await noHorizontalScroll()).toBe(true)
      for (const s of ["[data-testid=follow-up-send]", "[data-testid=command-cancel]"])
        expect(await height(s), s).toBeGreaterThanOrEqual(44)
      await screenshot(p, "run-panel-mobile-permission")
      await allow.tap()
      await waitStatus(p, "completed")
      expect(await readFile(join(claude.projectDir, "mobile.txt"), "utf8")).toBe("from a phone\n")
      expect(await noHorizontalScroll()).toBe(true)
      await screenshot(p, "run-panel-mobile")
    } finally {
      await mobile.close()
    }
  })

  it("measures the time from clicking Run to the first output in the DOM, and the CLI's own start-up (reported, not asserted)", async () => {
    const samples: number[] = []
    const cliAlone: number[] = []
    /**
     * The CLI alone, as the daemon starts it (its `ClaudeProcess`: same binary, arguments, first
     * message, environment and project, the same fake API), from spawn to its first event, the
     * `system`/`init` line the panel draws first.
     */
    const startUp = async (i: number) => {
      const t0 = performance.now()
      const proc = ClaudeProcess.start({
        claudePath: daemonClaude,
        cwd: claude.projectDir,
        prompt: `[run-latency] Alone ${i}.`,
        permissionMode: "default",
        env: daemonEnv,
      })
      let first: number | undefined
      for await (const _ of proc.events) first ??= performance.now() - t0
      await proc.exited
      cliAlone.push(first ?? Number.NaN)
    }
    const click = async (i: number) => {
      await openRun(page)
      await page.locator("[data-testid=run-permission-mode]").selectOption("default")
      await page.locator("[data-testid=run-prompt]").fill(`[run-latency] Quick ${i}.`)
      const ms = await page.evaluate(
        () =>
          new Promise<number>((resolve) => {
            const button = document.querySelector<HTMLButtonElement>("[data-testid=run-submit]")
            const t0 = performance.now()
            const observer = new MutationObserver(() => {
              if (document.querySelector("[data-testid=run-output] [data-testid=run-event]")) {
                observer.disconnect()
                resolve(performance.now() - t0)
              }
            })
            observer.observe(document.body, { childList: true, subtree: true })
            button?.click()
          }),
      )
      samples.push(ms)
      await waitStatus(page, "completed")
    }
    // Interleaved, alternating which goes first, so the shared machine's load falls on both alike.
    for (let i = 0; i < 10; i++) {
      if (i % 2 === 0) {
        await click(i)
        await startUp(i)
      } else {
        await startUp(i)
        await click(i)
      }
    }
    const sorted = [...samples].sort((a, b) => a - b)
    const aloneSorted = [...cliAlone].sort((a, b) => a - b)
    const added = samples.map((s, i) => s - (cliAlone[i] ?? Number.NaN)).sort((a, b) => a - b)
    const report = {
      what: "Run panel: click Run to the first output event in the DOM (real daemon, CLI, fake API)",
      runs: samples.length,
      p50Ms: Math.round(percentile(sorted, 50)),
      p99Ms: Math.round(percentile(sorted, 99)),
      samplesMs: samples.map((s) => Math.round(s)),
      cliAlone: "the CLI started as the daemon starts it, spawn to its first event, interleaved with the clicks",
      cliAloneP50Ms: Math.round(percentile(aloneSorted, 50)),
      cliAloneP99Ms: Math.round(percentile(aloneSorted, 99)),
      cliAloneSamplesMs: cliAlone.map((s) => Math.round(s)),
      addedPerPairP50Ms: Math.round(percentile(added, 50)),
      addedPerPairP99Ms: Math.round(percentile(added, 99)),
      loadavg: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
    }
    console.log(JSON.stringify(report))
    await mkdir(dirname(screenshotDir()), { recursive: true })
    await writeFile(join(dirname(screenshotDir()), "run-panel-latency.json"), `${JSON.stringify(report, null, 2)}\n`)
    expect(samples).toHaveLength(10)
    expect(cliAlone.every(Number.isFinite)).toBe(true)
    expect(router.errors()).toEqual([])
    expect(pageErrors).toEqual([])
  })
})
