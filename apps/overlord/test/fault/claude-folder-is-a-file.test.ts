/**
 * walkthrough-7: a file where Claude Code's folder or its `projects/` should be. The daemon makes the
 * folders it needs and died with EEXIST; `overlord start` gave as its reason another line of its
 * output, "connection to http://127.0.0.1:7600: WebSocket was closed before the connection was
 * established", and `overlord doctor` said "cannot read …/projects: permission denied". Now both say
 * which path is a file and what to do, and start starts nothing.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { OVERLORD_BIN } from "@overlord/testkit/overlord-process"
import { afterEach, describe, expect, it } from "vitest"
import { BUN, freePort, REPO } from "../support/harness.ts"

let dir = ""
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe("a file where the Claude folder or its projects/ should be", () => {
  it("is named by start and doctor, and nothing starts", () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-claude-file-"))
    const home = join(dir, "home")
    const overlord = (...args: string[]) => {
      const r = spawnSync(BUN, [OVERLORD_BIN, "--home", home, ...args], { cwd: REPO, timeout: 30_000 })
      return { status: r.status, out: `${r.stdout.toString()}${r.stderr.toString()}` }
    }

    const claudeDir = join(dir, "claude")
    mkdirSync(claudeDir)
    writeFileSync(join(claudeDir, "projects"), "not a folder\n")
    const sentence = `${join(claudeDir, "projects")} is a file, not a folder`
    for (const foreground of [false, true]) {
      const start = overlord(
        "start",
        ...(foreground ? ["--foreground"] : []),
        "--claude-dir",
        claudeDir,
        "--port",
        String(freePort()),
        "--ollama-url",
        "off",
      )
      expect(start.status, start.out).toBe(1)
      expect(start.out.trim(), start.out).toBe(
        `overlord: ${sentence}: Claude Code keeps its sessions in ${join(claudeDir, "projects")}; move the file away (or give --claude-dir, or set $CLAUDE_CONFIG_DIR, to the right folder)`,
      )
    }
    expect(overlord("status").out).toContain("not running")
    const doctor = overlord("doctor", "--claude-dir", claudeDir)
    expect(doctor.status).toBe(1)
    expect(doctor.out).toContain(`FAIL  ${sentence}`)
    expect(doctor.out).not.toContain("permission denied")

    // The Claude folder itself a file.
    const fileDir = join(dir, "claude-file")
    writeFileSync(fileDir, "x\n")
    const start = overlord("start", "--foreground", "--claude-dir", fileDir, "--port", String(freePort()))
    expect(start.status, start.out).toBe(1)
    expect(start.out).toContain(`${fileDir} is a file, not a folder`)
  }, 60_000)
})
