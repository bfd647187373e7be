/**
 * Found in the walkthrough (a new team's admin, `overlord serve` with nothing synced yet, then one
 * laptop), in real Chromium against the bundled CLI's standalone server:
 *
 * - The overview said "No machine has synced yet. Run `overlord start` on a laptop." (backticks and all):
 *   on a team server a laptop that only runs `overlord start` syncs to its own embedded server. The
 *   sessions page said "No sessions match." with no filter set; recent sessions and projects were a
 *   bare link and an empty table; usage an empty table headed "day".
 * - Search's field was the browser's default 20 characters wide (its placeholder cut at "Search all
 *   transcripts, l"; the session list's at "Search titles and prom"); no hit read "0 sessions", one
 *   "1 sessions".
 * - Every page logged a console error: the browser's /favicon.ico request got a 404.
 * - On a phone the usage totals ran past the screen's right edge (Cost out of sight).
 * - A session shared with a member named its machine by the whole 36-character id (the member cannot
 *   see the owner's machine names), and a session with one subagent said "1 subagents".
 */
import { mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { sessionRecord } from "@overlord/testkit/bad-input"
import { chromiumMissing, screenshot } from "@overlord/testkit/browser"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type DashboardRig, startDashboardRig } from "../support/dashboard-rig.ts"

const SESSION = "e1e1e1e1-2222-4333-8444-555555555555"
/** An answer with a real month's token counts: the usage totals' widths are a heavy user's. */
const heavyAnswer = {
  id: "msg_01Heavy",
  type: "message",
  role: "assistant",
  model: "claude-sonnet-4-5",
  content: [{ type: "text", text: "a long answer" }],
  stop_reason: "end_turn",
  stop_sequence: null,
  usage: {
    input_tokens: 1_234_567,
    output_tokens: 2_345_678,
    cache_creation_input_tokens: 34_567_890,
    cache_read_input_tokens: 456_789_012,
  },
}

describe.skipIf(chromiumMissing())("a team server's empty and first pages", () => {
  let rig: DashboardRig

  beforeAll(async () => {
    rig = await startDashboardRig("empty-states")
  })

  afterAll(async () => {
    await rig?.stop()
  })

  it("tell the admin how to pair a laptop with this server, on every empty page", async () => {
    const overview = await rig.open("/")
    const hint = overview.locator("[data-testid=no-machine]")
    await expect.poll(() => hint.textContent()).toContain(`overlord login ${rig.server.url}`)
    expect(await hint.textContent()).not.toContain("`")
    await expect.poll(() => overview.getByText("No sessions yet").count()).toBe(1)
    await expect.poll(() => overview.getByText("No projects yet").count()).toBe(1)
    expect(await overview.locator("[data-testid=projects]").count()).toBe(0)
    await screenshot(overview, "empty-states-overview")

    const sessions = await rig.open("/sessions")
    await expect
      .poll(() => sessions.locator("[data-testid=no-sessions]").textContent())
      .toContain(`overlord login ${rig.server.url}`)

    const usage = await rig.open("/usage")
    await expect.poll(() => usage.locator("[data-testid=usage-empty]").textContent()).toContain("No usage yet")
    expect(await usage.locator("[data-testid=usage-table] th").first().textContent()).toBe("Day")

    const search = await rig.open("/search?q=zebra")
    await expect.poll(() => search.locator("[data-testid=search-count]").textContent()).toContain("No session matches")
    await screenshot(search, "empty-states-search")
    expect(rig.problems).toEqual([])
  })

  it("give search fields room for their placeholders, and count one hit as one session", async () => {
    const projectDir = join(rig.projects, "-home-dev-project")
    await mkdir(projectDir, { recursive: true })
    await mkdir(join(projectDir, SESSION, "subagents"), { recursive: true })
    await writeFile(
      join(projectDir, SESSION, "subagents", "agent-a1.jsonl"),
      `${sessionRecord(SESSION, 0, { isSidechain: true, agentId: "a1" })}\n`,
    )
    await writeFile(
      join(projectDir, `${SESSION}.jsonl`),
      `${[0, 1, 2].map((i) => sessionRecord(SESSION, i, i === 0 ? { message: { role: "user", content: "the walrus question" } } : i === 1 ? { message: heavyAnswer } : {})).join("\n")}\n`,
    )
    await rig.startLaptop()

    const search = await rig.open("/search?q=walrus")
    const count = search.locator("[data-testid=search-count]")
    // The page asks once: reload until the line is synced and indexed.
    await expect
      .poll(
        async () => {
          await search.reload()
          return count.textContent()
        },
        { timeout: 30_000, interval: 500 },
      )
      .toMatch(/^1 session\b/)
    const field = search.locator("input[name=q]")
    await field.fill("")
    const fits = (el: HTMLInputElement) => {
      // The placeholder's width in the field's own font, against the room inside the field.
      const canvas = document.createElement("canvas").getContext("2d")!
      const style = getComputedStyle(el)
      canvas.font = `${style.fontSize} ${style.fontFamily}`
      const room = el.clientWidth - Number.parseFloat(style.paddingLeft) - Number.parseFloat(style.paddingRight)
      return canvas.measureText(el.placeholder).width <= room
    }
    expect(await field.evaluate(fits)).toBe(true)
    await screenshot(search, "empty-states-search-hit")

    const sessions = await rig.open("/sessions")
    await expect.poll(() => sessions.locator("[data-testid=session-row]").count(), { timeout: 30_000 }).toBe(1)
    expect(await sessions.locator("input[aria-label='Search sessions']").evaluate(fits)).toBe(true)
    // On a phone every usage total is on the screen (Cost was pushed past its right edge).
    const phone = await rig.signedIn(rig.admin.cookie, { width: 375, height: 667 })
    try {
      const usage = await phone.newPage()
      await usage.goto(`${rig.server.url}/#/usage`)
      for (const total of ["input", "output", "cache-write", "cache-read", "cost"]) {
        const box = await usage.locator(`[data-testid=usage-total-${total}]`).boundingBox({ timeout: 30_000 })
        expect(box, total).not.toBeNull()
        expect(box!.x + box!.width, total).toBeLessThanOrEqual(375)
      }
      await screenshot(usage, "empty-states-phone-usage")
    } finally {
      await phone.close()
    }

    const filtered = await rig.open("/sessions?q=nothing-like-this")
    await expect
      .poll(() => filtered.locator("[data-testid=no-sessions]").textContent())
      .toBe("No sessions match these filters.")
    expect(rig.problems).toEqual([])
  })

  it("show a member a shared session's machine by its short id, and its one subagent as one", async () => {
    const post = (path: string, body: unknown, cookie: string) =>
      fetch(`${rig.server.url}/api/v1${path}`, {
        method: "POST",
        headers: { cookie, origin: rig.server.url, "content-type": "application/json" },
        body: JSON.stringify(body),
      })
    const invite = (await (await post("/invites", {}, rig.admin.cookie)).json()) as { url: string }
    const accepted = await post(
      "/invites/accept",
      { token: invite.url.split("/").pop(), email: "bob@example.com", name: "Bob" },
      "",
    )
    expect(accepted.status).toBe(200)
    const cookie = accepted.headers.get("set-cookie")!.split(";")[0]!
    expect((await post(`/sessions/${SESSION}/shares`, { email: "bob@example.com" }, rig.admin.cookie)).status).toBe(201)

    const member = await rig.signedIn(cookie)
    try {
      const page = await member.newPage()
      await page.goto(`${rig.server.url}/#/sessions/${SESSION}`)
      const machine = page.locator("[data-testid=session-machine]")
      const machineId = await machine.getAttribute("title", { timeout: 30_000 })
      expect(machineId).toMatch(/^[0-9a-f-]{36}$/)
      expect(await machine.textContent()).toBe(machineId!.slice(0, 8))
      await expect.poll(() => page.getByText("1 subagent", { exact: true }).count()).toBe(1)
      await screenshot(page, "empty-states-shared-session")
      // Members cannot make pairing keys: the hint names only what they can do.
      await page.goto(`${rig.server.url}/#/`)
      await expect.poll(() => page.locator("[data-testid=no-machine]").textContent()).toContain("overlord login")
      expect(await page.locator("[data-testid=no-machine]").textContent()).not.toContain("Pairing keys")
    } finally {
      await member.close()
    }
  })
})
