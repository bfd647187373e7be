/**
 * Found in walkthrough 3 (a developer's laptop, the real-session corpus synced by `overlord start`):
 *
 * - `overlord sessions` printed a session whose first prompt was a pasted terminal screen (Claude Code's
 *   banner, a box-drawn table: 40 lines) as 40 lines, breaking the one-row-per-session listing.
 * - With 56 sessions synced it listed the 50 newest and said nothing: the other six looked absent.
 * - A session of one entry read "1 entries".
 *
 * Real CLI (from source), detached `overlord start` with its embedded server, a temporary home.
 */
import { spawnSync } from "node:child_process"
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { OVERLORD_SOURCE_BIN } from "@overlord/testkit/overlord-process"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const record = (sessionId: string, i: number, content: string) =>
  JSON.stringify({
    type: "user",
    uuid: `${sessionId}-u${i}`,
    parentUuid: i ? `${sessionId}-u${i - 1}` : null,
    sessionId,
    cwd: "/home/dev/listing",
    timestamp: new Date(Date.UTC(2026, 10, 1, 10, sessionId.charCodeAt(0) % 50, i)).toISOString(),
    message: { role: "user", content },
  })

const PASTED = [
  " ▐▛███▜▌   Claude Code v2.1.53",
  "▝▜█████▛▘  Opus 4.6 · Claude Max",
  "",
  "┌──────┬─────────────┐",
  "│ Node │ Description │",
  "└──────┴─────────────┘",
  "  why does this table look wrong?",
].join("\n")

const SESSIONS: Record<string, string[]> = {
  "a0000000-0000-4000-8000-000000000001": [PASTED, "and again"],
  "b0000000-0000-4000-8000-000000000002": ["one entry only"],
  "c0000000-0000-4000-8000-000000000003": ["third", "fourth"],
}

describe("overlord sessions", () => {
  let root: string
  let home: string
  const overlord = (...args: string[]) => {
    const r = spawnSync("bun", [OVERLORD_SOURCE_BIN, "--home", home, ...args], { encoding: "utf8", timeout: 60_000 })
    return { code: r.status, out: r.stdout, err: r.stderr }
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "overlord-sessions-listing-"))
    home = join(root, "home")
    const claudeDir = join(root, "claude")
    const project = join(claudeDir, "projects", "-home-dev-listing")
    await mkdir(project, { recursive: true })
    for (const [sid, prompts] of Object.entries(SESSIONS))
      await writeFile(join(project, `${sid}.jsonl`), prompts.map((p, i) => `${record(sid, i, p)}\n`).join(""))
    const r = overlord("start", "--claude-dir", claudeDir, "--port", "0")
    expect(r.code, r.err).toBe(0)
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      const s = JSON.parse(overlord("status", "--json").out) as { connected: boolean; bytesPending: number }
      const listed = overlord("sessions", "--json", "--limit", "10")
      if (s.connected && s.bytesPending === 0 && listed.code === 0 && JSON.parse(listed.out).length === 3) break
      await Bun.sleep(200)
    }
  })

  afterAll(async () => {
    overlord("stop")
    await rm(root, { recursive: true, force: true })
  })

  it("prints one line per session, a pasted multi-line prompt flattened and cut", () => {
    const r = overlord("sessions")
    expect(r.code, r.err).toBe(0)
    const lines = r.out.trimEnd().split("\n")
    expect(lines).toHaveLength(3)
    for (const sid of Object.keys(SESSIONS)) expect(lines.filter((l) => l.startsWith(sid))).toHaveLength(1)
    const pasted = lines.find((l) => l.startsWith("a0000000"))
    expect(pasted).toContain("▐▛███▜▌ Claude Code v2.1.53 ▝▜█████▛▘ Opus 4.6")
    expect(pasted).toContain("…")
    expect(lines.find((l) => l.startsWith("b0000000"))).toContain("  1 entry  ")
    expect(lines.find((l) => l.startsWith("c0000000"))).toContain("  2 entries  ")
  })

  it("says when --limit left sessions out, and not when it did not", () => {
    const cut = overlord("sessions", "--limit", "2")
    const lines = cut.out.trimEnd().split("\n")
    expect(lines).toHaveLength(3)
    expect(lines[2]).toBe("2 newest shown, there are more: overlord sessions --limit 20")
    const json = overlord("sessions", "--json", "--limit", "2")
    expect(JSON.parse(json.out)).toHaveLength(2)
    expect(json.err).toContain("2 newest shown, there are more")
    expect(overlord("sessions", "--limit", "3").out).not.toContain("there are more")
    for (const bad of ["0", "abc", "2.5"]) {
      const r = overlord("sessions", "--limit", bad)
      expect(r.code, bad).toBe(1)
      expect(r.err, bad).toContain("a whole number, 1 or more")
    }
  })
})
