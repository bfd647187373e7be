/**
 * Found in walkthrough 3: after a plain `claude --resume`, `overlord status` said "edited in place without
 * growth: 1 file(s); an edit before their last synced bytes is not synced" — read as lost data, after
 * every resume. strace shows why: Claude Code sets the session file's time (utimensat, no write) when it
 * resumes it, then appends. Nothing is lost (the export equals the file); status now says what happened.
 *
 * The real Claude CLI against the fake Anthropic API, `overlord start --foreground` with its embedded server.
 */
import { spawnSync } from "node:child_process"
import { readFile, rm } from "node:fs/promises"
import { join } from "node:path"
import { type ClaudeHome, makeClaudeHome } from "@overlord/testkit/claude-cli"
import { OVERLORD_SOURCE_BIN, type OverlordProcess, startOverlord } from "@overlord/testkit/overlord-process"
import { resume, runScenario, type ScenarioRun } from "@overlord/testkit/scenarios"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

describe("overlord status after `claude --resume`", () => {
  let claude: ClaudeHome
  let home: string
  let daemon: OverlordProcess
  let run: ScenarioRun
  const overlord = (...args: string[]) =>
    spawnSync("bun", [OVERLORD_SOURCE_BIN, "--home", home, ...args], { encoding: "utf8", timeout: 60_000 })

  beforeAll(async () => {
    claude = await makeClaudeHome("overlord-resume-touch-")
    home = join(claude.configDir, "..", "overlord-home")
    daemon = startOverlord(home, claude.configDir)
    await daemon.credentials()
    run = await runScenario(resume, { home: claude, timeoutMs: 90_000 })
    expect(run.runs.map((r) => r.exitCode)).toEqual([0, 0])
  }, 180_000)

  afterAll(async () => {
    daemon?.stop()
    await run?.dispose()
    await rm(join(claude.configDir, ".."), { recursive: true, force: true })
  })

  it("says the file was touched, as a resume does, not that an edit is not synced; the export is the file", async () => {
    const file = run.sessionFile!
    const status = await waitFor(
      "status to report the resumed file's touch",
      async () => {
        const s = JSON.parse(overlord("status", "--json").stdout) as {
          bytesPending: number
          editedInPlace: { count: number; latest: { fileKey: string }[] }
        }
        return s.bytesPending === 0 && s.editedInPlace.latest.some((e) => file.endsWith(e.fileKey)) ? s : null
      },
      60_000,
    ).catch((e) => {
      throw new Error(`${String(e)}\n${overlord("status").stdout}\n${daemon.output()}`)
    })
    expect(status.editedInPlace.count).toBe(1)
    const text = overlord("status").stdout
    expect(text).toContain("touched without growing: 1 file(s) (Claude Code does this when a session is resumed)")
    expect(text).not.toContain("is not synced")
    const exported = overlord("export", run.sessionId!)
    expect(exported.status, exported.stderr).toBe(0)
    expect(exported.stdout).toBe(await readFile(file, "utf8"))
  })
})
