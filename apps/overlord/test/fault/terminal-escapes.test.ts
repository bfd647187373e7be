/**
 * walkthrough-7: `overlord sessions` and `overlord search` printed session text raw. A first prompt
 * pasted from a terminal carries its colour codes, and a session's cwd, title or snippet can hold any
 * control character: a prompt holding `ESC[2J` cleared the user's screen when listed, a cwd holding
 * `ESC]0;…BEL` set the terminal window's title, NUL and BEL went out as they were. Now every control
 * character is printed as its control picture (␛, ␀, ␇), so the row stays readable and the terminal
 * obeys nothing in it. `--json` keeps the text as stored (JSON escapes it).
 * Real CLI (`overlord start`, embedded server).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { sessionRecord } from "@overlord/testkit/bad-input"
import { afterEach, describe, expect, it } from "vitest"
import { killAll, overlordCommand, waitFor } from "../support/harness.ts"

let dir = ""
let home = ""
afterEach(async () => {
  if (home) await overlordCommand(["--home", home, "stop"]).catch(() => undefined)
  await killAll()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/

describe("session text with control characters", () => {
  it("is shown, not obeyed, by overlord sessions and overlord search", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-escapes-"))
    home = join(dir, "home")
    const claudeDir = join(dir, "claude")
    const project = join(claudeDir, "projects", "-home-dev-escapes")
    mkdirSync(project, { recursive: true })
    const sid = crypto.randomUUID()
    const prompt = "\u001b[2J\u001b[31mRED zebra\u001b[0m \u0000 nul \u0007 bell \u009b8m"
    writeFileSync(
      join(project, `${sid}.jsonl`),
      `${sessionRecord(sid, 0, { cwd: "/tmp/\u001b]0;pwned\u0007x", message: { role: "user", content: prompt } })}\n`,
    )
    await overlordCommand(["--home", home, "start", "--claude-dir", claudeDir, "--port", "0", "--ollama-url", "off"])

    const listed = await waitFor(
      "the session to be listed",
      async () => {
        const out = await overlordCommand(["--home", home, "sessions"])
        return out.includes(sid) ? out : null
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    )
    const row = listed.split("\n").find((l) => l.startsWith(sid))!
    expect(row).not.toMatch(CONTROLS)
    expect(row).toContain("/tmp/␛]0;pwned␇x")
    expect(row).toContain("␛[2J␛[31mRED zebra␛[0m ␀ nul ␇ bell \ufffd8m")

    const found = await waitFor(
      "the session to be found by a word",
      async () => {
        const out = await overlordCommand(["--home", home, "search", "--text", "zebra"])
        return out.includes(sid) ? out : null
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    )
    expect(found).not.toMatch(CONTROLS)
    expect(found).toContain("␛[2J␛[31mRED")

    // Scripts read the stored text unchanged.
    const json = JSON.parse(await overlordCommand(["--home", home, "sessions", "--json"])) as {
      sessionId: string
      title: string | null
    }[]
    expect(json.find((s) => s.sessionId === sid)?.title).toContain("\u001b[2J")
  }, 90_000)
})
