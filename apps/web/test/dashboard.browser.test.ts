/**
 * The dashboard end to end in real Chromium: `overlord start --foreground` watches sessions that the
 * real Claude Code CLI writes (against the scripted fake API), and the page is opened through the
 * printed one-time link. Sessions appear and grow live, every renderer shows what the CLI did,
 * search jumps to the entry, usage matches the billed totals, a dropped live socket misses nothing,
 * and a browser without the cookie is told how to sign in.
 *
 * Screenshots of each view land in `.artifacts/screenshots/dashboard-*.png`.
 */
import { mkdir, readdir, readFile, rm } from "node:fs/promises"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import {
  type Browser,
  type BrowserContext,
  chromiumMissing,
  launchChromium,
  type Page,
  screenshot,
  type WebSocketRoute,
} from "@overlord/testkit/browser"
import { type ClaudeHome, encodeProjectDir, makeClaudeHome } from "@overlord/testkit/claude-cli"
import type { TokenUsage } from "@overlord/testkit/fake-anthropic"
import { type OverlordCredentials, type OverlordProcess, startOverlord } from "@overlord/testkit/overlord-process"
import {
  EXPECTED_TOTALS,
  image,
  runScenario,
  type ScenarioFactory,
  type ScenarioRun,
  slow,
  subagent,
  toolTour,
} from "@overlord/testkit/scenarios"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { formatCost } from "../src/format.ts"
import { ensureWebBuilt } from "./web-build.ts"

const skip = chromiumMissing()

const sumUsage = (list: readonly TokenUsage[]): TokenUsage =>
  list.reduce(
    (a, u) => ({
      input: a.input + u.input,
      output: a.output + u.output,
      cacheWrite: a.cacheWrite + u.cacheWrite,
      cacheRead: a.cacheRead + u.cacheRead,
    }),
    { input: 0, output: 0, cacheWrite: 0, cacheRead: 0 },
  )
/** Claude Code 2.1.330's default model is Opus 5.5: $4 in, $20 out, $5 5m-write, $0.20 read per MTok. */
const costOf = (u: TokenUsage): number => (u.input * 4 + u.output * 20 + u.cacheWrite * 5 + u.cacheRead * 0.2) / 1e6
/** "1,234,567" → 1234567; anything else (rounded "k"/"M" forms) fails loudly. */
const parseExactInt = (text: string): number => {
  const t = text.trim()
  if (!/^\d{1,3}(,\d{3})*$/.test(t)) throw new Error(`not an exact integer: ${JSON.stringify(text)}`)
  return Number(t.replace(/,/g, ""))
}
const parseUsd = (text: string): number => {
  const m = /^\$(\d+(?:\.\d+)?)$/.exec(text.trim())
  if (!m) throw new Error(`not a dollar amount: ${JSON.stringify(text)}`)
  return Number(m[1])
}

const closeOptions = (code: number | undefined, reason: string | undefined) => ({
  ...(code !== undefined ? { code } : {}),
  ...(reason !== undefined ? { reason } : {}),
})

const LIVE_SLOW = slow(6, 700)
const RECONNECT_SLOW = slow(12, 700)

describe.skipIf(skip)("dashboard in Chromium", () => {
  let claude: ClaudeHome
  let overlordHome: string
  let daemon: OverlordProcess
  let creds: OverlordCredentials
  let loginUrl: string
  let browser: Browser
  let context: BrowserContext
  let page: Page
  const output: string[] = []
  const runs: Record<string, ScenarioRun> = {}
  let background: Promise<void>

  // Every live-feed socket of the main context goes through this route, so a test can really drop it
  // (both ends closed, as a network failure would) and refuse reconnects for a while.
  const liveSockets = new Set<{ ws: WebSocketRoute; server: WebSocketRoute }>()
  let liveRefused = false
  let liveConnects = 0

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${creds.serverUrl}/api/v1${path}`, {
      headers: { authorization: `Bearer ${creds.apiToken}` },
    })
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
    return (await res.json()) as T
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

  const run = async (name: string, factory: ScenarioFactory): Promise<ScenarioRun> => {
    const r = await runScenario(factory, { home: await projectHome(name), timeoutMs: 120_000 })
    runs[name] = r
    expect(
      r.runs.every((x) => x.exitCode === 0),
      `${name}: ${r.runs.map((x) => x.stderr).join("\n")}`,
    ).toBe(true)
    expect(r.fake.errors, name).toEqual([])
    return r
  }

  /** The session id of a run in progress: the CLI names its file `<sessionId>.jsonl` as soon as it starts. */
  const sessionIdIn = (home: ClaudeHome) =>
    waitFor(
      `a session file in ${home.sessionsDir}`,
      async () => (await readdir(home.sessionsDir)).find((f) => f.endsWith(".jsonl"))?.replace(/\.jsonl$/, ""),
      60_000,
    )

  /** Seqs the transcript shows: its entry rows, and the members of folded bookkeeping groups. */
  const entriesInDom = (p: Page) =>
    p.$$eval(
      ".transcript-rows > div > article[data-testid=entry], .transcript-rows > div > [data-testid=record-group]",
      (els) =>
        els.flatMap((e) => {
          const members = e.getAttribute("data-seqs")
          return members ? members.split(" ").map(Number) : [Number(e.getAttribute("data-seq"))]
        }),
    )

  const mainEntries = async (sessionId: string) =>
    (await api<Api.EntryPage>(`/sessions/${sessionId}/entries?limit=5000`)).entries.map((e) => e.seq)

  /** Every seq the (virtualized) transcript renders, collected by scrolling it top to bottom; fails on a duplicate. */
  const allRenderedSeqs = async (p: Page): Promise<number[]> => {
    const seen = new Set<number>()
    await p.$eval("[data-testid=transcript]", (el) => {
      el.scrollTop = 0
    })
    for (let i = 0; i < 500; i++) {
      await p.waitForTimeout(60)
      const seqs = await entriesInDom(p)
      expect(new Set(seqs).size, `duplicate entries in the DOM: ${seqs.join(",")}`).toBe(seqs.length)
      for (const s of seqs) seen.add(s)
      const done = await p.$eval("[data-testid=transcript]", (el) => {
        if (el.scrollTop + el.clientHeight >= el.scrollHeight - 1) return true
        el.scrollTop += Math.max(100, el.clientHeight / 2)
        return false
      })
      if (done) {
        await p.waitForTimeout(60)
        for (const s of await entriesInDom(p)) seen.add(s)
        break
      }
    }
    return [...seen].sort((a, b) => a - b)
  }

  /** Scrolls the virtualized transcript from the top until `selector` is rendered, and brings it into view. */
  const findInTranscript = async (selector: string, p: Page = page) => {
    const target = p.locator(selector).first()
    await p.$eval("[data-testid=transcript]", (el) => {
      el.scrollTop = 0
    })
    await waitFor(
      `${selector} in the transcript`,
      async () => {
        if ((await target.count()) > 0) return true
        await p.$eval("[data-testid=transcript]", (el) => {
          el.scrollTop += Math.max(100, el.clientHeight / 2)
        })
        await p.waitForTimeout(80)
        return false
      },
      20_000,
    )
    await target.scrollIntoViewIfNeeded()
    return target
  }

  const openSession = async (sessionId: string, p: Page = page) => {
    await p.goto(`${creds.serverUrl}/#/sessions/${sessionId}`)
    await p.locator("[data-testid=entry]").first().waitFor({ timeout: 20_000 })
  }

  beforeAll(async () => {
    ensureWebBuilt()
    claude = await makeClaudeHome("overlord-web-e2e-")
    overlordHome = join(claude.configDir, "..", "overlord-home")
    daemon = startOverlord(overlordHome, claude.configDir)
    loginUrl = await daemon.dashboardLink()
    creds = await daemon.credentials()
    expect(loginUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/auth\?token=/)
    browser = await launchChromium()
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true })
    await context.routeWebSocket(/\/api\/v1\/live$/, (ws) => {
      if (liveRefused) {
        ws.close({ code: 4000, reason: "test: network down" })
        return
      }
      liveConnects++
      const server = ws.connectToServer()
      const pair = { ws, server }
      liveSockets.add(pair)
      // With handlers set, Playwright stops forwarding closes between the ends: forward them here.
      ws.onClose((code, reason) => {
        liveSockets.delete(pair)
        void server.close(closeOptions(code, reason)).catch(() => {})
      })
      server.onClose((code, reason) => {
        liveSockets.delete(pair)
        void ws.close(closeOptions(code, reason)).catch(() => {})
      })
    })
    page = await context.newPage()
    page.on("pageerror", (e) => output.push(`[pageerror] ${e.message}\n`))
    // The sessions the renderer tests look at are written in the background, while test 1 watches.
    background = Promise.all([run("tool-tour", toolTour), run("subagent", subagent), run("image", image)]).then(
      () => {},
    )
    background.catch(() => {})
  }, 240_000)

  afterAll(async () => {
    await browser?.close().catch(() => {})
    daemon?.stop()
    await background?.catch(() => {})
    await Promise.all(Object.values(runs).map((r) => r.dispose()))
    if (claude) await rm(join(claude.configDir, ".."), { recursive: true, force: true })
  })

  it("signs in through the printed link and shows a session appear and grow live", async () => {
    const res = await page.goto(loginUrl)
    expect(res?.ok()).toBe(true)
    expect(new URL(page.url()).pathname).toBe("/")
    expect((await context.cookies()).map((c) => [c.name, c.httpOnly])).toEqual([["overlord_session", true]])
    await page.goto(`${creds.serverUrl}/#/sessions`)
    await page
      .locator("[data-testid=health][data-state=ok], [data-testid=health][data-state=idle]")
      .waitFor({ timeout: 20_000 })
    await page.evaluate(() => {
      ;(window as unknown as { __sameDocument: boolean }).__sameDocument = true
    })

    // Only now does the CLI start writing.
    const home = await projectHome("slow-live")
    const running = run("slow-live", LIVE_SLOW)
    let finished = false
    void running.then(
      () => (finished = true),
      () => (finished = true),
    )
    const sessionId = await sessionIdIn(home)
    const row = page.locator(`[data-testid=session-row][data-session-id="${sessionId}"]`)
    await row.waitFor({ timeout: 30_000 })
    await screenshot(page, "dashboard-1-session-appears")

    await row.click()
    await page.locator("[data-testid=transcript]").waitFor()
    // Sample what the page shows while the CLI is still writing: the tail keeps moving, without reloads.
    // (The transcript is virtualized, so the tail seq and the header's entry count are what grow.)
    const samples: { last: number; entries: number }[] = []
    const headerCount = async () => {
      const spans = await page.locator(".session-meta > span").allInnerTexts()
      const text = spans.find((t) => /^[\d,]+ entries$/.test(t.trim()))
      return text ? Number(text.replace(/[^\d]/g, "")) : 0
    }
    while (!finished) {
      const last = Math.max(0, ...(await entriesInDom(page)))
      const entries = await headerCount()
      const prev = samples.at(-1)
      if (prev?.last !== last || prev?.entries !== entries) samples.push({ last, entries })
      await page.waitForTimeout(100)
    }
    await running
    const tails = [...new Set(samples.map((s) => s.last).filter((n) => n > 0))]
    expect(tails.length, `tail seqs seen while writing: ${JSON.stringify(samples)}`).toBeGreaterThanOrEqual(3)
    expect(tails, "the tail only moves forward").toEqual([...tails].sort((a, b) => a - b))
    const counts = [...new Set(samples.map((s) => s.entries).filter((n) => n > 0))]
    expect(counts.length, `entry counts seen while writing: ${JSON.stringify(samples)}`).toBeGreaterThanOrEqual(3)
    expect(counts).toEqual([...counts].sort((a, b) => a - b))

    // It ends with exactly the stored entries, and the page was never reloaded.
    const expected = await waitFor("every line of the slow session to be stored", async () => {
      const seqs = await mainEntries(sessionId)
      const fileLines = (await readFile(runs["slow-live"]!.sessionFile!, "utf8")).split("\n").filter(Boolean).length
      return seqs.length === fileLines ? seqs : null
    })
    await waitFor("the last entry in the DOM", async () => (await entriesInDom(page)).includes(expected.at(-1)!))
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true)
    expect(await allRenderedSeqs(page)).toEqual(expected)
    await page.locator("[data-testid=transcript]").evaluate((el) => {
      el.scrollTop = el.scrollHeight
    })
    await screenshot(page, "dashboard-1-session-grew")
    await page.goto(`${creds.serverUrl}/#/sessions`)
    await expect
      .poll(() => row.locator(".row-sub").textContent(), { timeout: 10_000 })
      .toContain(`${expected.length} entries`)
  })

  it("renders a tool call with its ANSI output, an Edit diff, thinking, a subagent and an image", async () => {
    await background
    // toolTour: Bash with colours, paired with its result.
    await openSession(runs["tool-tour"]!.sessionId!)
    const bash = await findInTranscript("[data-testid=tool-call][data-tool=Bash]")
    await bash.locator("[data-testid=tool-result]").waitFor()
    await expect.poll(() => bash.locator("[data-testid=tool-result]").textContent()).toContain("tour-ok")
    const green = bash.locator("[data-testid=tool-result] span.ansi-green-fg", { hasText: "green" })
    expect(await green.count()).toBe(1)
    const red = bash.locator("[data-testid=tool-result] span.ansi-red-fg.ansi-bold", { hasText: "bold red" })
    expect(await red.count()).toBe(1)
    // No raw escape codes leak into the text, and the colour is really applied.
    expect(await bash.locator("[data-testid=tool-result]").textContent()).not.toMatch(/\u001b|\[32m|\[0m/)
    const [greenColor, plainColor] = await Promise.all([
      green.evaluate((el) => getComputedStyle(el).color),
      bash
        .locator("[data-testid=tool-result] pre")
        .first()
        .evaluate((el) => getComputedStyle(el).color),
    ])
    expect(greenColor).not.toBe(plainColor)
    await expect.poll(() => bash.locator(".tool-status").textContent()).toBe("✓")
    const thinking = await findInTranscript("[data-testid=thinking]")
    await thinking.locator("summary").click()
    await expect.poll(() => thinking.textContent()).toContain("I will start with Bash")
    await screenshot(page, "dashboard-2-tool-call-ansi")

    const edit = await findInTranscript("[data-testid=tool-call][data-tool=Edit]")
    const diff = edit.locator("[data-testid=diff]")
    await diff.waitFor()
    const diffText = await diff.textContent()
    expect(diffText).toContain("BETA (edited)")
    expect(diffText).toContain("beta")
    await screenshot(page, "dashboard-2-edit-diff")

    // subagent: the Agent call expands the subagent's own transcript inline.
    await openSession(runs.subagent!.sessionId!)
    const agent = await findInTranscript(
      "[data-testid=tool-call][data-tool=Agent], [data-testid=tool-call][data-tool=Task]",
    )
    const sub = agent.locator("[data-testid=subagent]")
    await sub.waitFor()
    await sub.locator("summary").first().click()
    const subEntries = sub.locator("[data-testid=entry]")
    await expect.poll(() => subEntries.count(), { timeout: 10_000 }).toBeGreaterThanOrEqual(3)
    await expect.poll(() => sub.textContent()).toContain("agent-ok")
    expect(
      await sub.locator("[data-testid=tool-call][data-tool=Bash] [data-testid=tool-result]").count(),
    ).toBeGreaterThanOrEqual(1)
    await sub.scrollIntoViewIfNeeded()
    await screenshot(page, "dashboard-2-subagent")

    // image: the Read of a PNG shows the picture, decoded from its data: URL.
    await openSession(runs.image!.sessionId!)
    const img = await findInTranscript("img[data-testid=image]")
    expect(await img.getAttribute("src")).toMatch(/^data:image\/png;base64,/)
    const size = await waitFor("the image to decode", () =>
      img.evaluate((el: HTMLImageElement) =>
        el.complete && el.naturalWidth > 0 ? [el.naturalWidth, el.naturalHeight] : null,
      ),
    )
    expect(size).toEqual([16, 16])
    await screenshot(page, "dashboard-2-image")
  })

  it("folds bookkeeping records into one row that opens, deep-links into it, and names machines", async () => {
    await background
    const sessionId = runs["tool-tour"]!.sessionId!
    await openSession(sessionId)
    const groups = page.locator(".transcript-rows > div > [data-testid=record-group]")
    await groups.first().waitFor()
    // No bookkeeping record takes a row of its own: every one sits in a folded group.
    const topKinds = await page.$$eval(".transcript-rows > div > article[data-testid=entry]", (els) =>
      els.map((e) => e.getAttribute("data-kind")),
    )
    for (const kind of ["api-request", "api-request-shape", "tools-used", "last-prompt", "permission-mode"]) {
      expect(topKinds).not.toContain(kind)
    }
    // Pinned by its members: the virtualized list re-renders as it scrolls, so "first" moves.
    const seqsAttr = (await groups.last().getAttribute("data-seqs"))!
    const group = page.locator(`[data-testid=record-group][data-seqs="${seqsAttr}"]`)
    await group.scrollIntoViewIfNeeded()
    expect(await group.getAttribute("data-open")).toBe("false")
    expect(await group.textContent()).toMatch(/\d+ bookkeeping records?: /)
    expect(await group.locator("[data-testid=entry]").count()).toBe(0)
    const members = seqsAttr.split(" ").map(Number)
    await group.locator(".record-group-toggle").click()
    await expect.poll(() => group.locator("[data-testid=entry]").count()).toBe(members.length)
    const shownSeqs = await group
      .locator("[data-testid=entry]")
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-seq"))))
    expect(shownSeqs).toEqual(members)
    // Each record is still there, raw and collapsed.
    expect(await group.locator("[data-testid=entry] details.raw[open]").count()).toBe(0)
    await screenshot(page, "dashboard-7-bookkeeping-open")
    await group.locator(".record-group-toggle").click()
    await expect.poll(() => group.locator("[data-testid=entry]").count()).toBe(0)

    // A deep link to a record inside a folded group opens the group and highlights the record.
    const stored = (await api<Api.EntryPage>(`/sessions/${sessionId}/entries?limit=5000`)).entries
    const target = stored.findLast((e) => e.kind === "api-request") ?? stored.findLast((e) => e.kind === "tools-used")
    expect(target, "the tool tour writes api-request records").toBeDefined()
    await page.goto(`${creds.serverUrl}/#/sessions/${sessionId}?seq=${target!.seq}`)
    const linked = page.locator(`article[data-testid=entry][data-seq="${target!.seq}"]`)
    await linked.waitFor({ timeout: 20_000 })
    await expect.poll(() => linked.getAttribute("class")).toContain("entry-highlight")
    const holder = page.locator(`[data-testid=record-group]:has(article[data-seq="${target!.seq}"])`)
    expect(await holder.getAttribute("data-open")).toBe("true")
    await expect
      .poll(async () => {
        const [box, port] = await Promise.all([
          linked.boundingBox(),
          page.locator("[data-testid=transcript]").boundingBox(),
        ])
        return !!box && !!port && box.y < port.y + port.height && box.y + box.height > port.y
      })
      .toBe(true)
    await screenshot(page, "dashboard-7-bookkeeping-deep-link")

    // "show bookkeeping" opens every group; it is remembered, so switch it off again.
    await openSession(sessionId)
    const toggle = page.locator("[data-testid=show-bookkeeping]")
    await toggle.check()
    await expect
      .poll(() => page.locator("[data-testid=record-group][data-open=false]").count(), { timeout: 5_000 })
      .toBe(0)
    expect(await page.locator("[data-testid=record-group] [data-testid=entry]").count()).toBeGreaterThan(0)
    await toggle.uncheck()
    await expect.poll(() => page.locator("[data-testid=record-group][data-open=true]").count()).toBe(0)

    // Session rows name the machine, not its uuid; the projects list shows the working directory.
    const { machines } = await api<{ machines: Api.Machine[] }>("/machines")
    const machine = machines[0]!
    await page.goto(`${creds.serverUrl}/#/sessions`)
    const row = page.locator(`[data-testid=session-row][data-session-id="${sessionId}"]`)
    await row.waitFor()
    await expect.poll(() => row.locator(".row-machine").textContent()).toBe(machine.name)
    await page.goto(`${creds.serverUrl}/#/`)
    const cwds = page.locator("[data-testid=project-cwd]")
    await cwds.first().waitFor()
    expect((await cwds.allTextContents()).some((t) => t.endsWith("/tool-tour"))).toBe(true)
    await screenshot(page, "dashboard-7-overview")
  })

  it("finds a phrase and jumps to its entry", async () => {
    await background
    const phrase = "coloured shell command"
    await page.goto(`${creds.serverUrl}/#/sessions`)
    await page.locator("input[aria-label='Search transcripts']").fill(phrase)
    await page.locator("input[aria-label='Search transcripts']").press("Enter")
    const hit = page.locator("[data-testid=search-hit]", { hasText: "coloured" }).first()
    await waitFor("a search hit", async () => {
      if ((await hit.count()) > 0) return true
      await page.reload() // the index may lag the store by a moment
      await page.waitForTimeout(300)
      return false
    })
    expect(await hit.getAttribute("href")).toContain(runs["tool-tour"]!.sessionId!)
    await screenshot(page, "dashboard-3-search")
    await hit.click()
    await page.waitForURL(/seq=\d+/)
    const seq = Number(/seq=(\d+)/.exec(page.url())![1])
    const entry = page.locator(`article[data-testid=entry][data-seq="${seq}"]`)
    await entry.waitFor()
    await expect.poll(() => entry.getAttribute("class")).toContain("entry-highlight")
    await expect.poll(() => entry.textContent()).toContain("Starting the tour with a coloured shell command")
    // Visible: inside the transcript's scrolled viewport, not just somewhere in the DOM.
    await expect
      .poll(async () => {
        const [box, port] = await Promise.all([
          entry.boundingBox(),
          page.locator("[data-testid=transcript]").boundingBox(),
        ])
        return !!box && !!port && box.y < port.y + port.height && box.y + box.height > port.y
      })
      .toBe(true)
    const stored = await api<{ sessionId: string; entry: Api.Entry }>(`/entries/${seq}`)
    expect(stored.sessionId).toBe(runs["tool-tour"]!.sessionId)
    expect(stored.entry.line).toContain(phrase)
    await screenshot(page, "dashboard-3-search-jump")
  })

  it("misses nothing when the live socket drops mid-stream", async () => {
    await page.goto(`${creds.serverUrl}/#/sessions`)
    const home = await projectHome("slow-reconnect")
    const running = run("slow-reconnect", RECONNECT_SLOW)
    let finished = false
    void running.then(
      () => (finished = true),
      () => (finished = true),
    )
    const sessionId = await sessionIdIn(home)
    await page.locator(`[data-testid=session-row][data-session-id="${sessionId}"]`).click()
    const lastShown = async () => Math.max(0, ...(await entriesInDom(page)))
    const lastStored = async () => (await mainEntries(sessionId)).at(-1) ?? 0

    /** Network down: the browser goes offline and both ends of the live socket close; reconnects are refused. */
    const networkDown = async () => {
      await waitFor("the live socket", async () => liveSockets.size > 0)
      liveRefused = true
      await context.setOffline(true)
      for (const { ws, server } of [...liveSockets]) {
        await server.close({ code: 4001, reason: "test: drop" }).catch(() => {})
        await ws.close({ code: 4001, reason: "test: drop" }).catch(() => {})
      }
      await page.locator("[data-testid=health][data-state=down]").waitFor({ timeout: 10_000 })
    }
    /** Network back: the client reconnects by itself and resubscribes after the last seq it has. */
    const networkUp = async () => {
      const before = liveConnects
      liveRefused = false
      await context.setOffline(false)
      await page.locator("[data-testid=health][data-state=ok]").waitFor({ timeout: 40_000 })
      expect(liveConnects).toBeGreaterThan(before)
    }

    // Live and following the tail, then the first outage, mid-stream.
    await waitFor("a few live entries", async () => (await entriesInDom(page)).length >= 3, 30_000)
    await networkDown()
    const shownAtDrop = await lastShown()
    const storedAtDrop = await lastStored()
    await waitFor(
      "lines written during the outage",
      async () => ((await mainEntries(sessionId)).filter((s) => s > storedAtDrop).length >= 4 ? true : null),
      30_000,
    )
    expect(finished, "the run ended during the first outage: make it longer").toBe(false)
    expect(await lastShown(), "entries arrived while the socket was down").toBe(shownAtDrop)
    await screenshot(page, "dashboard-5-offline")
    await networkUp()
    // What was missed is replayed, and the feed is live again: entries keep arriving over the new socket.
    const storedAtReconnect = await lastStored()
    await waitFor("the replay of the missed entries", async () => (await lastShown()) >= storedAtReconnect, 20_000)
    const replayed = await lastShown()
    await waitFor("a live entry after the reconnect", async () => (await lastShown()) > replayed, 20_000)

    // A second outage that lasts past the end of the run: everything arrives in one replay, and the
    // header (entry count, cost) catches up even though nothing more is written after the reconnect.
    await networkDown()
    const shownAtSecondDrop = await lastShown()
    await running
    const expected = await waitFor("every line of the session to be stored", async () => {
      const seqs = await mainEntries(sessionId)
      const fileLines = (await readFile(runs["slow-reconnect"]!.sessionFile!, "utf8"))
        .split("\n")
        .filter(Boolean).length
      return seqs.length === fileLines ? seqs : null
    })
    expect(shownAtSecondDrop, "the second outage started after the last line").toBeLessThan(expected.at(-1)!)
    expect(await lastShown()).toBe(shownAtSecondDrop)
    await networkUp()
    await waitFor(
      "the last entry in the DOM",
      async () => (await entriesInDom(page)).includes(expected.at(-1)!),
      20_000,
    )
    expect(await allRenderedSeqs(page)).toEqual(expected)
    const detail = await api<Api.SessionDetail>(`/sessions/${sessionId}`)
    await expect
      .poll(() => page.locator(".session-meta").textContent(), { timeout: 10_000 })
      .toContain(`${detail.session.entryCount} entries`)
    await page.locator("[data-testid=transcript]").evaluate((el) => {
      el.scrollTop = el.scrollHeight
    })
    await screenshot(page, "dashboard-5-reconnected")
  })

  it("shows usage equal to the billed, deduplicated totals, and exports the same as CSV", async () => {
    await background
    const names = ["tool-tour", "subagent", "image", "slow-live", "slow-reconnect"] as const
    const factories: Record<(typeof names)[number], ScenarioFactory> = {
      "tool-tour": toolTour,
      subagent,
      image,
      "slow-live": LIVE_SLOW,
      "slow-reconnect": RECONNECT_SLOW,
    }
    for (const n of names) expect(runs[n], n).toBeDefined()
    const expected = sumUsage(names.map((n) => factories[n]("/").expected))
    expect(factories["tool-tour"]("/").expected).toEqual(EXPECTED_TOTALS.toolTour)
    const cost = costOf(expected)
    // Every line is synced before the page is judged.
    await waitFor("the API totals to settle", async () => {
      const r = await api<Api.UsageReport>("/usage?groupBy=session")
      return r.totals.input === expected.input && r.totals.cacheRead === expected.cacheRead ? r : null
    }).catch(async (e) => {
      throw new Error(
        `${String(e)}: API says ${JSON.stringify((await api<Api.UsageReport>("/usage")).totals)}, expected ${JSON.stringify(expected)}`,
      )
    })

    await page.goto(`${creds.serverUrl}/#/usage?groupBy=session`)
    await page.locator("[data-testid=usage-total-input]").waitFor()
    const shown = async (id: string) =>
      ((await page.locator(`[data-testid=usage-total-${id}]`).textContent()) ?? "").trim()
    expect({
      input: parseExactInt(await shown("input")),
      output: parseExactInt(await shown("output")),
      cacheWrite: parseExactInt(await shown("cache-write")),
      cacheRead: parseExactInt(await shown("cache-read")),
    }).toEqual(expected)
    expect(await shown("cost")).toBe(formatCost(cost))
    expect(parseUsd(await shown("cost"))).toBeCloseTo(cost, 2)
    expect(await page.locator("[data-testid=usage-row]").count()).toBe(names.length)
    // Each session row carries its title as a link beside the short id.
    const tourId = runs["tool-tour"]!.sessionId!
    const tourTitle = (await api<Api.SessionDetail>(`/sessions/${tourId}`)).session.title
    expect(tourTitle).toBeTruthy()
    const tourLink = page.locator(`[data-testid=usage-session-title][href$="${tourId}"]`)
    await expect.poll(() => tourLink.textContent(), { timeout: 10_000 }).toBe(tourTitle)
    await screenshot(page, "dashboard-4-usage")

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.locator("[data-testid=usage-csv]").click(),
    ])
    expect(download.suggestedFilename()).toMatch(/\.csv$/)
    const csv = (await readFile((await download.path())!, "utf8")).trim().split("\n")
    const header = csv[0]!.split(",")
    expect(header).toEqual(["session", "input", "output", "cache_write", "cache_read", "cost_usd", "messages"])
    const rows = csv.slice(1).map((line) => Object.fromEntries(line.split(",").map((v, i) => [header[i]!, v])))
    const total = rows.at(-1)!
    expect(total.session).toBe("total")
    expect({
      input: Number(total.input),
      output: Number(total.output),
      cacheWrite: Number(total.cache_write),
      cacheRead: Number(total.cache_read),
    }).toEqual(expected)
    expect(Number(total.cost_usd)).toBeCloseTo(cost, 6)
    // The per-session rows add up to the total, and each matches its scenario.
    expect(rows.length - 1).toBe(names.length)
    for (const n of names) {
      const row = rows.find((r) => r.session === runs[n]!.sessionId)
      const want = factories[n]("/").expected
      expect(row, n).toBeDefined()
      expect([Number(row!.input), Number(row!.output), Number(row!.cache_write), Number(row!.cache_read)], n).toEqual([
        want.input,
        want.output,
        want.cacheWrite,
        want.cacheRead,
      ])
    }
  })

  it("tells a browser without the cookie to sign in, and refuses a reused link", async () => {
    const fresh = await browser.newContext({ viewport: { width: 1280, height: 700 } })
    try {
      const p = await fresh.newPage()
      const apiStatuses: number[] = []
      p.on("response", (r) => {
        if (new URL(r.url()).pathname.startsWith("/api/v1/")) apiStatuses.push(r.status())
      })
      await p.goto(`${creds.serverUrl}/#/sessions`)
      const notice = p.locator("[data-testid=auth-required]")
      await notice.waitFor({ timeout: 10_000 })
      expect(await notice.textContent()).toContain("Not signed in")
      expect(apiStatuses.length).toBeGreaterThan(0)
      expect(apiStatuses.every((s) => s === 401)).toBe(true)
      expect(await p.locator("[data-testid=session-row]").count()).toBe(0)
      await screenshot(p, "dashboard-6-unauthorized")

      // The link the daemon printed was spent by the first test: it must not sign anyone in again.
      const res = await p.goto(loginUrl)
      expect(res?.status()).toBe(401)
      expect(await p.locator("body").textContent()).toMatch(/invalid, expired or already used/)
      expect(await fresh.cookies()).toEqual([])
      await screenshot(p, "dashboard-6-link-refused")
      await p.goto(`${creds.serverUrl}/#/sessions`)
      await p.locator("[data-testid=auth-required]").waitFor({ timeout: 10_000 })
    } finally {
      await fresh.close()
    }
  })
})
