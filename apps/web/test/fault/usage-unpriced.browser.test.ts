/**
 * Found in walkthrough 3 (a developer's laptop, the real-session corpus on `overlord start`):
 *
 * - Usage by model showed "$0.00" beside a DeepSeek model's 887,026 input tokens (Claude Code pointed at an
 *   Anthropic-compatible backend), and the same for a retired Claude model: read as free, and the total
 *   cost as everything, though those models have no list price and their cost is simply not counted.
 * - A session of one line read "1 entries" in the session list and the session's header.
 *
 * Real Chromium against the bundled CLI's standalone server, a paired laptop's real daemon.
 */
import { mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { sessionRecord } from "@overlord/testkit/bad-input"
import { chromiumMissing, screenshot } from "@overlord/testkit/browser"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type DashboardRig, startDashboardRig } from "../support/dashboard-rig.ts"

const PROXIED = "f1f1f1f1-2222-4333-8444-555555555555"
const ONE_LINE = "f2f2f2f2-2222-4333-8444-555555555555"
const answer = (model: string, input: number) => ({
  message: {
    id: `msg_01${model.replace(/\W/g, "")}`,
    type: "message",
    role: "assistant",
    model,
    content: [{ type: "text", text: `an answer from ${model}` }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: { input_tokens: input, output_tokens: 1_000, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
  },
})

describe.skipIf(chromiumMissing())("usage of models without a list price", () => {
  let rig: DashboardRig

  beforeAll(async () => {
    rig = await startDashboardRig("usage-unpriced")
    const projectDir = join(rig.projects, "-home-dev-project")
    await mkdir(projectDir, { recursive: true })
    const lines = [
      sessionRecord(PROXIED, 0),
      sessionRecord(PROXIED, 1, answer("deepseek-v4-flash", 887_026)),
      sessionRecord(PROXIED, 2),
      sessionRecord(PROXIED, 3, answer("claude-sonnet-4-5-20250929", 100_000)),
    ]
    await writeFile(join(projectDir, `${PROXIED}.jsonl`), `${lines.join("\n")}\n`)
    await writeFile(join(projectDir, `${ONE_LINE}.jsonl`), `${sessionRecord(ONE_LINE, 0)}\n`)
    await rig.startLaptop()
  })

  afterAll(async () => {
    await rig?.stop()
  })

  it("says 'no price' for such a model, never $0.00, and names it under the totals", async () => {
    const page = await rig.open("/usage?groupBy=model")
    const rows = page.locator("[data-testid=usage-row]")
    await expect
      .poll(
        async () => {
          await page.reload()
          await rows
            .first()
            .waitFor({ timeout: 5_000 })
            .catch(() => undefined)
          return rows.count()
        },
        { timeout: 30_000, interval: 500 },
      )
      .toBe(2)
    const cost = (model: string) => rows.filter({ hasText: model }).locator("td").last().textContent()
    expect(await cost("deepseek-v4-flash")).toBe("no price")
    // Sonnet 4.5: 100,000 input at $3 and 1,000 output at $15 per million.
    expect(await cost("claude-sonnet-4-5-20250929")).toBe("$0.315")
    expect(await page.locator("[data-testid=usage-total-cost]").textContent()).toBe("$0.315")
    expect(await page.locator("[data-testid=usage-unpriced]").textContent()).toContain(
      "1 model without a list price (deepseek-v4-flash)",
    )
    expect(await page.locator("svg.chart").textContent()).toContain("no price")
    await screenshot(page, "usage-unpriced-by-model")

    // By day the row mixes both models: its dollars are what is known, and no note claims otherwise.
    await page.goto(`${rig.server.url}/#/usage?groupBy=day`)
    await expect.poll(() => rows.count()).toBe(1)
    expect(await page.locator("[data-testid=usage-no-price]").count()).toBe(0)
    expect(rig.problems).toEqual([])
  })

  it("counts a session of one line as one entry", async () => {
    const page = await rig.open("/sessions")
    const row = page.locator(`[data-testid=session-row][data-session-id="${ONE_LINE}"]`)
    await expect.poll(() => row.locator(".row-sub").textContent(), { timeout: 30_000 }).toContain("1 entry")
    expect(await row.locator(".row-sub").textContent()).not.toContain("entries")
    const other = page.locator(`[data-testid=session-row][data-session-id="${PROXIED}"] .row-sub`)
    expect(await other.textContent()).toContain("4 entries")
    await page.goto(`${rig.server.url}/#/sessions/${ONE_LINE}`)
    await expect.poll(() => page.locator(".session-meta").textContent()).toContain("1 entry")
    expect(await page.locator(".session-meta").textContent()).not.toContain("1 entries")
    expect(rig.problems).toEqual([])
  })
})
