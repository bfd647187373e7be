/**
 * walkthrough-7: a typo in $CLAUDE_CONFIG_DIR (or --claude-dir). `overlord start` made that folder and
 * watched it: "overlord started", then `overlord status` "files tracked: 0" and nothing ever synced,
 * with no word of which folder the daemon watched; `overlord doctor`, run from a shell without the
 * typo, checked ~/.claude ("ok … 56 session files", "ok daemon running") and saw nothing wrong. Now start
 * says the folder does not exist yet and where its name came from, status names the folder it finds
 * nothing in, and doctor says when the daemon syncs another folder than the one it checked.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { killAll, overlordCommand, runOverlord, waitFor, writeOneSession } from "../support/harness.ts"

let dir = ""
let home = ""
afterEach(async () => {
  if (home) await overlordCommand(["--home", home, "stop"]).catch(() => undefined)
  await killAll()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe("a daemon started on a Claude folder that does not exist", () => {
  it("says so at start, in status and in doctor", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-claude-elsewhere-"))
    home = join(dir, "overlord")
    const realClaude = join(dir, ".claude")
    writeOneSession(realClaude)
    const typo = join(dir, ".cluade")

    const start = runOverlord("start", ["--home", home, "start", "--port", "0", "--ollama-url", "off"], {
      env: { CLAUDE_CONFIG_DIR: typo },
    })
    await start.exited
    expect(start.exitCode, start.tail()).toBe(0)
    expect(start.output).toContain(
      `note: ${typo} does not exist yet ($CLAUDE_CONFIG_DIR): sessions sync once Claude Code writes there`,
    )

    const status = await waitFor(
      "status to say where it finds nothing",
      async () => {
        const out = await overlordCommand(["--home", home, "status"])
        return out.includes("no session files under") ? out : null
      },
      { timeoutMs: 20_000, intervalMs: 300 },
    )
    expect(status).toContain(`no session files under ${join(typo, "projects")} yet`)

    const doctor = await overlordCommand(["--home", home, "doctor", "--claude-dir", realClaude]).catch(
      (e: Error) => e.message,
    )
    expect(doctor).toContain(
      `warn  the running daemon syncs ${join(typo, "projects")}, not ${join(realClaude, "projects")}: to sync this one, \`overlord stop && overlord start --claude-dir ${realClaude}\``,
    )
    // Pointed at the folder it syncs, doctor has nothing to say about it.
    const same = await overlordCommand(["--home", home, "doctor", "--claude-dir", typo]).catch((e: Error) => e.message)
    expect(same).not.toContain("the running daemon syncs")
  }, 60_000)
})
