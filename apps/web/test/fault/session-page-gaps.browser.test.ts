/**
 * Found in the walkthrough (walkthrough-3, "Seen, not fixed"), in real Chromium against the bundled CLI's
 * standalone server and a daemon syncing a hand-made `~/.claude/projects/`:
 *
 * - A session with only a subagent file (its main transcript never synced: LeoDChen `019382a4` in the
 *   corpus) said "This session has no entries yet." and offered no way to read the subagent's transcript.
 * - The session list's project dropdown showed "/tmp/workspace" three times: different project folders
 *   (the corpus's claudeless captures, `-private-var-folders-…-capture-xxxxxx`) whose sessions report one cwd.
 * - An untitled session's page headed itself with its whole 36-character id; the list said "untitled <8>".
 */
import { mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { sessionRecord } from "@overlord/testkit/bad-input"
import { chromiumMissing, screenshot } from "@overlord/testkit/browser"
import { cli } from "@overlord/testkit/standalone-server"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type DashboardRig, startDashboardRig } from "../support/dashboard-rig.ts"

/** Only `<id>/subagents/agent-a1.jsonl`: no `<id>.jsonl`. */
const SUBAGENT_ONLY = "5ab00000-1111-4222-8333-444444444444"
/** One answer and no prompt: nothing to title it by. */
const UNTITLED = "7c0ffee0-1111-4222-8333-444444444444"
/** Two project folders, one cwd. */
const WORKSPACE_A = "a0a0a0a0-1111-4222-8333-444444444444"
const WORKSPACE_B = "b0b0b0b0-1111-4222-8333-444444444444"
const DIR_A = "-private-var-folders-t5-T-capture-lvcsb6"
const DIR_B = "-private-var-folders-t5-T-capture-d2Q4eU"

describe.skipIf(chromiumMissing())("a session page with gaps, and project folders that share a path", () => {
  let rig: DashboardRig

  beforeAll(async () => {
    rig = await startDashboardRig("session-gaps")
    const projects = rig.projects
    const agentDir = join(projects, "-home-dev-project", SUBAGENT_ONLY, "subagents")
    await mkdir(agentDir, { recursive: true })
    await writeFile(
      join(agentDir, "agent-a1.jsonl"),
      `${[0, 1]
        .map((i) =>
          sessionRecord(
            SUBAGENT_ONLY,
            i,
            i === 0
              ? { isSidechain: true, agentId: "a1", message: { role: "user", content: "count the walruses" } }
              : { isSidechain: true, agentId: "a1" },
          ),
        )
        .join("\n")}\n`,
    )
    await writeFile(join(projects, "-home-dev-project", `${UNTITLED}.jsonl`), `${sessionRecord(UNTITLED, 1)}\n`)
    for (const [dir, id] of [
      [DIR_A, WORKSPACE_A],
      [DIR_B, WORKSPACE_B],
    ] as const) {
      await mkdir(join(projects, dir), { recursive: true })
      await writeFile(join(projects, dir, `${id}.jsonl`), `${sessionRecord(id, 0, { cwd: "/tmp/workspace" })}\n`)
    }
    await rig.startLaptop()
    // Wait until all four sessions are synced.
    await waitFor(
      "four synced sessions",
      async () => {
        const r = await fetch(`${rig.server.url}/api/v1/sessions`, { headers: { cookie: rig.admin.cookie } })
        const body = (await r.json()) as { sessions: unknown[] }
        return body.sessions.length === 4
      },
      60_000,
      250,
    )
  })

  afterAll(async () => {
    await rig?.stop()
  })

  it("shows the subagent transcripts of a session whose main transcript is missing, and says it is missing", async () => {
    const page = await rig.open(`/sessions/${SUBAGENT_ONLY}`)
    const note = page.locator("[data-testid=main-transcript-missing]")
    await expect.poll(() => note.textContent(), { timeout: 30_000 }).toContain("main transcript")
    expect(await page.getByText("This session has no entries yet.").count()).toBe(0)
    const agent = note.locator("[data-testid=subagent][data-agent-id=a1]")
    expect(await agent.count()).toBe(1)
    await agent.locator("summary").click()
    await expect.poll(() => agent.textContent()).toContain("count the walruses")
    await screenshot(page, "session-gaps-subagent-only")
    expect(rig.problems).toEqual([])
  })

  it("counts a session without its main transcript by its subagents' entries: list, page header and overlord sessions agree", async () => {
    // All three said "0 entries" over the two entries the page shows (walkthrough-5, "Seen, not fixed").
    const page = await rig.ctx.newPage()
    await page.goto(`${rig.server.url}/#/sessions`)
    const entries = (id: string) =>
      page.locator(`[data-testid=session-row][data-session-id="${id}"] [data-testid=session-entries]`)
    await expect.poll(() => entries(SUBAGENT_ONLY).textContent(), { timeout: 30_000 }).toBe("2 subagent entries")
    // A session with a main transcript counts its entries as before.
    expect(await entries(UNTITLED).textContent()).toBe("1 entry")
    await page.goto(`${rig.server.url}/#/sessions/${SUBAGENT_ONLY}`)
    const header = page.locator(".session-meta [data-testid=session-entries]")
    await expect.poll(() => header.textContent(), { timeout: 30_000 }).toBe("2 subagent entries")
    const listed = await cli(join(rig.root, "laptop-home-1"), ["sessions"])
    expect(listed.code, listed.output).toBe(0)
    const line = (id: string) => listed.output.split("\n").find((l) => l.startsWith(id)) ?? ""
    expect(line(SUBAGENT_ONLY)).toContain("  2 subagent entries  ")
    expect(line(UNTITLED)).toContain("  1 entry  ")
    expect(rig.problems).toEqual([])
  })

  it("tells apart project folders whose sessions report the same path", async () => {
    const page = await rig.open("/sessions")
    const option = (dir: string) => page.locator(`select option[value="${dir}"]`)
    await expect.poll(() => option(DIR_A).count(), { timeout: 30_000 }).toBe(1)
    const a = (await option(DIR_A).textContent()) ?? ""
    const b = (await option(DIR_B).textContent()) ?? ""
    expect(a).toContain("/tmp/workspace")
    expect(b).toContain("/tmp/workspace")
    expect(a).not.toBe(b)
    // A path no other folder shares reads as before: no hint.
    expect(await page.locator(`select option[value="-home-dev-project"]`).textContent()).toBe("/home/dev/project")
    expect(rig.problems).toEqual([])
  })

  it("heads an untitled session's page as the list names it, not by its whole id", async () => {
    const list = await rig.open("/sessions")
    const row = list.locator(`[data-testid=session-row][data-session-id="${UNTITLED}"] .row-title`)
    await expect.poll(() => row.textContent(), { timeout: 30_000 }).toBe(`untitled ${UNTITLED.slice(0, 8)}`)
    const page = await rig.open(`/sessions/${UNTITLED}`)
    await page.locator("[data-testid=session-machine]").waitFor({ timeout: 30_000 })
    const heading = page.locator("h1.session-title")
    expect(await heading.textContent()).toBe(`untitled ${UNTITLED.slice(0, 8)}`)
    // The whole id is still one hover away.
    expect(await heading.getAttribute("title")).toBe(UNTITLED)
    await screenshot(page, "session-gaps-untitled")
    expect(rig.problems).toEqual([])
  })
})
