/**
 * walkthrough-7: `overlord export` given what a user types. `-o` naming a folder, or a file in a folder
 * that does not exist, printed a Bun stack trace (EISDIR, ENOENT at cli.ts:412); the 8 characters the
 * session list and the dashboard show of an untitled session ("untitled dddddddd") gave only "no
 * session dddddddd"; `--agent` took only the bare id, not the file name `ls` shows
 * (`agent-a2018e5.jsonl`), and a wrong one did not say which there are. Now each is one sentence that
 * says what to do, and the file name works. Real CLI (`overlord start`, embedded server).
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { sessionRecord } from "@overlord/testkit/bad-input"
import { OVERLORD_BIN } from "@overlord/testkit/overlord-process"
import { afterEach, describe, expect, it } from "vitest"
import { BUN, killAll, overlordCommand, REPO, waitFor } from "../support/harness.ts"

let dir = ""
let home = ""
afterEach(async () => {
  if (home) await overlordCommand(["--home", home, "stop"]).catch(() => undefined)
  await killAll()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const lines = (sid: string, n: number, extra: Record<string, unknown> = {}) => {
  let out = ""
  for (let i = 0; i < n; i++) out += `${sessionRecord(sid, i, extra)}\n`
  return out
}

describe("overlord export given a user's mistakes", () => {
  it("answers each with one sentence, and takes a subagent's file name", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-export-mistakes-"))
    home = join(dir, "home")
    const claudeDir = join(dir, "claude")
    const project = join(claudeDir, "projects", "-home-dev-export")
    const sid = crypto.randomUUID()
    mkdirSync(join(project, sid, "subagents"), { recursive: true })
    writeFileSync(join(project, `${sid}.jsonl`), lines(sid, 6))
    const agentFile = join(project, sid, "subagents", "agent-a2018e5.jsonl")
    writeFileSync(agentFile, lines(sid, 3, { isSidechain: true, agentId: "a2018e5" }))
    await overlordCommand(["--home", home, "start", "--claude-dir", claudeDir, "--port", "0", "--ollama-url", "off"])
    const exportOf = (...args: string[]) =>
      spawnSync(BUN, [OVERLORD_BIN, "--home", home, "export", ...args], { cwd: REPO, timeout: 30_000 })
    await waitFor(
      "both files synced",
      () => exportOf(sid).stdout.length > 0 && exportOf(sid, "--agent", "a2018e5").stdout.length > 0,
      {
        timeoutMs: 30_000,
        intervalMs: 300,
      },
    )

    const said = (r: ReturnType<typeof exportOf>) => {
      const err = r.stderr.toString("utf8")
      expect(r.status, err).toBe(1)
      // One sentence, no stack trace.
      expect(err.trim().split("\n"), err).toHaveLength(1)
      return err.trim()
    }
    expect(said(exportOf(sid, "-o", dir))).toBe(`overlord: cannot write ${dir}: it is a folder (give a file name)`)
    const missing = join(dir, "no-such-folder", "out.jsonl")
    expect(said(exportOf(sid, "-o", missing))).toBe(`overlord: cannot write ${missing}: its folder does not exist`)
    expect(said(exportOf(sid.slice(0, 8)))).toBe(
      `overlord: no session ${sid.slice(0, 8)}: give its whole id (\`overlord sessions\` lists them)`,
    )
    expect(said(exportOf(sid, "--agent", "nope"))).toBe(
      `overlord: session ${sid} has no subagent nope (its subagents: a2018e5)`,
    )

    // The subagent's file name, as `ls` shows it, exports that file byte for byte.
    const byName = exportOf(sid, "--agent", "agent-a2018e5.jsonl")
    expect(byName.status, byName.stderr.toString()).toBe(0)
    expect(byName.stdout.equals(readFileSync(agentFile))).toBe(true)
    const out = join(dir, "main.jsonl")
    expect(exportOf(sid, "-o", out).status).toBe(0)
    expect(readFileSync(out).equals(readFileSync(join(project, `${sid}.jsonl`)))).toBe(true)
  }, 90_000)
})
