/**
 * Local AI in the dashboard (issue #13), in real Chromium against the real server with its indexer
 * and the fake Ollama: generated titles and summaries show in the session list and view, marked as
 * generated with the model; a paraphrased query finds its session by meaning, labelled so; and with
 * Ollama down the search page says semantic search is off, and why.
 * Screenshots land in `.artifacts/screenshots/ai-*.png`.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import { SqliteEngine } from "@overlord/store/sqlite"
import { type Browser, chromiumMissing, launchChromium, type Page, screenshot } from "@overlord/testkit/browser"
import { type FakeOllama, startFakeOllama } from "@overlord/testkit/fake-ollama"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ensureWebBuilt } from "../../web/test/web-build.ts"
import { sessionFile, TOPICS } from "./support/ai-corpus.ts"
import { type AiTestServer, startAiServer, until } from "./support/ai-server.ts"

const skip = chromiumMissing()
const sessions = TOPICS.slice(0, 16).map((t, n) => sessionFile(t, n + 1, Date.UTC(2026, 9, 1, 9, 0) + n * 3_600_000))

describe.skipIf(skip)("local AI in the dashboard", () => {
  let dir: string
  let fake: FakeOllama
  let server: AiTestServer
  let browser: Browser
  let page: Page

  beforeAll(async () => {
    ensureWebBuilt()
    dir = mkdtempSync(join(tmpdir(), "overlord-ai-web-"))
    fake = startFakeOllama()
    server = await startAiServer(new SqliteEngine({ path: join(dir, "overlord.db") }), {
      url: fake.url,
      chatModel: "llama3.2",
      embedModel: "nomic-embed-text",
      timeoutMs: 5_000,
    })
    for (const s of sessions) await server.append(s.fileKey, s.text)
    await until(
      () => server.get<Api.AiStatus>("/api/v1/ai/status"),
      (st) => st.titled === sessions.length && st.embeddedSessions === sessions.length,
    )
    browser = await launchChromium()
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    page = await context.newPage()
    const userId = await server.engine.ensureUser("local")
    const link = await server.engine.issueToken({ userId, kind: "login-link", ttlMs: 60_000 })
    await page.goto(`${server.url}/auth?token=${link}`)
  })

  afterAll(async () => {
    await browser?.close()
    await server?.close()
    await fake?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it("shows generated titles and summaries in the list and the session, marked generated with the model", async () => {
    const list = await server.get<Api.SessionList>("/api/v1/sessions")
    const target = list.sessions.find((s) => s.sessionId === sessions[4]!.sessionId)!
    await page.goto(`${server.url}/#/sessions`)
    const row = page.locator(`[data-testid=session-row][data-session-id="${target.sessionId}"]`)
    await row.waitFor()
    expect(await row.locator(".row-title").innerText()).toBe(target.generatedTitle)
    expect(await row.locator("[data-testid=generated-mark]").innerText()).toBe("generated · llama3.2")
    expect(await row.locator("[data-testid=generated-summary]").innerText()).toBe(target.summary)
    // Every session has its generated title, and every row drawn shows it marked. The list is
    // virtualized: how many of the 16 rows are drawn depends on their measured heights (15 once, in a
    // CI run), so the rows are counted, not assumed.
    expect(list.sessions.filter((s) => s.generatedTitle !== undefined)).toHaveLength(sessions.length)
    const drawn = await page.locator("[data-testid=session-row]").count()
    expect(drawn).toBeGreaterThan(1)
    expect(await page.locator("[data-testid=session-row] [data-testid=generated-mark]").count()).toBe(drawn)
    await screenshot(page, "ai-session-list")

    await row.click()
    // The session's own heading: until the list unmounts, its rows carry a generated-summary too.
    const summary = page.locator(".session-head [data-testid=generated-summary]")
    await summary.waitFor()
    expect(await summary.locator("[data-testid=generated-title]").innerText()).toBe(target.generatedTitle)
    expect(await summary.innerText()).toContain(target.summary!)
    expect(await summary.innerText()).toContain("generated · llama3.2")
    await screenshot(page, "ai-session-view")
  })

  it("finds a session by meaning from the search box, labelled 'matched by meaning'", async () => {
    const target = sessions.find((s) => s.topic.id === "kubernetes-probes")!
    await page.goto(`${server.url}/#/search`)
    await page.fill("input[name=q]", target.topic.paraphraseQuery)
    await page.press("input[name=q]", "Enter")
    const hit = page.locator(`[data-testid=search-hit][data-session-id="${target.sessionId}"]`)
    await hit.waitFor()
    expect(await hit.locator("[data-testid=matched-by]").allInnerTexts()).toEqual(["matched by meaning"])
    await screenshot(page, "ai-search-meaning")
    await hit.click()
    await page.waitForFunction((sid) => window.location.hash.includes(sid), target.sessionId)
    expect(await page.evaluate(() => window.location.hash)).toMatch(/seq=\d+/)
    expect(await page.locator("[data-testid=semantic-off]").count()).toBe(0)
  })

  it("says semantic search is off, and why, while Ollama is down; words still find", async () => {
    await fake.down()
    const target = sessions[1]!
    await page.goto(`${server.url}/#/search?q=${encodeURIComponent(target.topic.keywordQuery)}`)
    const notice = page.locator("[data-testid=semantic-off]")
    await notice.waitFor()
    expect(await notice.innerText()).toContain("not reachable")
    const hit = page.locator(`[data-testid=search-hit][data-session-id="${target.sessionId}"]`)
    await hit.waitFor()
    expect(await hit.locator("[data-testid=matched-by]").allInnerTexts()).toEqual(["matched by text"])
    await screenshot(page, "ai-search-off")
    fake.up()
  })
})
