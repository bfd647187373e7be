/**
 * Found in walkthrough 3 (the real-session corpus on `overlord start`): a session that ended months ago with
 * a Bash call whose result was never written (interrupted, Claude Code closed) showed that call as
 * "running…" for good. Now a call without a result reads "no result" once the session has been quiet
 * longer than any tool runs, and "running…" while it may still come; a result arriving live turns it ✓.
 *
 * Real Chromium against the bundled CLI's standalone server, a paired laptop's real daemon.
 */
import { appendFile, mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { sessionRecord } from "@overlord/testkit/bad-input"
import { chromiumMissing, screenshot } from "@overlord/testkit/browser"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type DashboardRig, startDashboardRig } from "../support/dashboard-rig.ts"

const OLD = "a7a7a7a7-2222-4333-8444-555555555555"
const LIVE = "b7b7b7b7-2222-4333-8444-555555555555"
const bashCall = (id: string, command: string, at?: string) => ({
  ...(at ? { timestamp: at } : {}),
  message: {
    id: `msg_01${id}`,
    type: "message",
    role: "assistant",
    model: "claude-sonnet-4-5",
    content: [{ type: "tool_use", id, name: "Bash", input: { command, description: `run ${command}` } }],
    stop_reason: "tool_use",
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
  },
})
const bashResult = (id: string, at: string) => ({
  timestamp: at,
  message: { role: "user", content: [{ type: "tool_result", tool_use_id: id, content: "done", is_error: false }] },
})

describe.skipIf(chromiumMissing())("a tool call without its result", () => {
  let rig: DashboardRig
  let liveFile: string

  beforeAll(async () => {
    rig = await startDashboardRig("tool-no-result")
    const projectDir = join(rig.projects, "-home-dev-project")
    await mkdir(projectDir, { recursive: true })
    // The fixture's records are dated 2026-01-02: long quiet, as a finished session is.
    await writeFile(
      join(projectDir, `${OLD}.jsonl`),
      `${[sessionRecord(OLD, 0), sessionRecord(OLD, 1, bashCall("toolu_01Old", "make deploy"))].join("\n")}\n`,
    )
    liveFile = join(projectDir, `${LIVE}.jsonl`)
    const now = new Date().toISOString()
    await writeFile(
      liveFile,
      `${[sessionRecord(LIVE, 0, { timestamp: now }), sessionRecord(LIVE, 1, bashCall("toolu_01Live", "make test", now))].join("\n")}\n`,
    )
    await rig.startLaptop()
  })

  afterAll(async () => {
    await rig?.stop()
  })

  const statusOf = async (sessionId: string) => {
    const page = await rig.ctx.newPage()
    const status = page.locator("[data-testid=tool-call][data-tool=Bash] .tool-status")
    await expect
      .poll(
        async () => {
          await page.goto(`${rig.server.url}/#/sessions/${sessionId}`)
          await status.waitFor({ timeout: 5_000 }).catch(() => undefined)
          return status.count()
        },
        { timeout: 30_000, interval: 500 },
      )
      .toBe(1)
    return { page, status }
  }

  it("reads 'no result' in a session that ended without it", async () => {
    const { page, status } = await statusOf(OLD)
    expect(await status.textContent()).toBe("no result")
    expect(await status.getAttribute("title")).toContain("No result was written and the session has been quiet")
    await screenshot(page, "tool-without-result-ended")
    expect(rig.problems).toEqual([])
  })

  it("reads 'running…' in a session still writing, then ✓ when the result arrives live", async () => {
    const { page, status } = await statusOf(LIVE)
    expect(await status.textContent()).toBe("running…")
    await appendFile(liveFile, `${sessionRecord(LIVE, 2, bashResult("toolu_01Live", new Date().toISOString()))}\n`)
    await expect.poll(() => status.textContent(), { timeout: 30_000 }).toBe("✓")
    await screenshot(page, "tool-without-result-live")
    expect(rig.problems).toEqual([])
  })
})
