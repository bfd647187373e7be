/**
 * walkthrough-7: `export CLAUDE_CONFIG_DIR=` (set, but empty) is unset to Claude Code, which reads
 * `process.env.CLAUDE_CONFIG_DIR || ~/.claude` (its 2.1.330 binary), and wrote the sessions to
 * ~/.claude. Overlord read it with `??`: the empty string resolved to the current folder, so
 * `overlord start` watched `./projects` of wherever it was started (doctor: "<cwd>/projects does not
 * exist yet: has Claude Code been run?") and synced nothing; `OVERLORD_HOME=` put its state there too.
 * Now both empty variables mean their defaults.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { OVERLORD_BIN } from "@overlord/testkit/overlord-process"
import { afterEach, describe, expect, it } from "vitest"
import { BUN, writeOneSession } from "../support/harness.ts"

let dir = ""
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe("CLAUDE_CONFIG_DIR and OVERLORD_HOME set but empty", () => {
  it("mean ~/.claude and ~/.overlord, as in Claude Code, not the current folder", () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-empty-env-"))
    const home = join(dir, "user")
    const cwd = join(dir, "somewhere")
    mkdirSync(cwd, { recursive: true })
    const sid = writeOneSession(join(home, ".claude"))

    const overlord = (...args: string[]) => {
      const r = spawnSync(BUN, [OVERLORD_BIN, ...args], {
        cwd,
        env: { ...process.env, HOME: home, CLAUDE_CONFIG_DIR: "", OVERLORD_HOME: "" },
        timeout: 30_000,
      })
      return { status: r.status, out: `${r.stdout.toString()}${r.stderr.toString()}` }
    }
    const doctor = overlord("doctor")
    expect(doctor.out).toContain(`ok    ${join(home, ".claude", "projects")}: 1 projects, 1 session files`)
    expect(doctor.out).not.toContain(join(cwd, "projects"))

    const start = overlord("start", "--port", "0", "--ollama-url", "off")
    try {
      expect(start.status, start.out).toBe(0)
      expect(existsSync(join(home, ".overlord", "daemon.pid"))).toBe(true)
      let listed = ""
      for (let i = 0; i < 50 && !listed.includes(sid); i++) {
        listed = overlord("sessions").out
        if (!listed.includes(sid)) Bun.sleepSync(200)
      }
      expect(listed).toContain(sid)
      // Nothing of Overlord's made in the folder it was started from.
      expect(readdirSync(cwd)).toEqual([])
    } finally {
      overlord("stop")
    }
  }, 60_000)
})
