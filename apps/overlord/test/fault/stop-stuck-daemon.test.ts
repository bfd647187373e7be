/**
 * walkthrough-7: `overlord stop` on a daemon that does not answer SIGTERM (stuck, as the unreadable-file
 * loop left it) said only "pid N did not stop within 10 s", and the user was left to guess whether
 * kill -9 would lose anything. It says now what to do and that nothing synced is lost.
 *
 * The daemon is stood in for by a process in the pid file that ignores SIGTERM.
 */
import { spawn, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { OVERLORD_BIN } from "@overlord/testkit/overlord-process"
import { afterEach, describe, expect, it } from "vitest"
import { BUN, killAll, Proc, REPO, waitFor } from "../support/harness.ts"

let dir = ""
afterEach(async () => {
  await killAll()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe("overlord stop on a daemon that does not stop", () => {
  it("says how to end it and that nothing synced is lost", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-stop-stuck-"))
    const home = join(dir, "home")
    mkdirSync(home, { recursive: true })
    const stuck = new Proc(
      "stuck stand-in",
      spawn("bash", ["-c", "trap '' TERM; echo ready; while :; do sleep 1; done"], {
        stdio: ["ignore", "pipe", "pipe"],
      }),
    )
    await waitFor("the stand-in to ignore SIGTERM", () => stuck.output.includes("ready"))
    writeFileSync(join(home, "daemon.pid"), `${stuck.pid}\n`)
    const r = spawnSync(BUN, [OVERLORD_BIN, "--home", home, "stop"], { cwd: REPO, timeout: 30_000 })
    expect(r.status).toBe(1)
    expect(r.stderr.toString().trim()).toBe(
      `overlord: pid ${stuck.pid} did not stop within 10 s: it may be stuck (its log: ${join(home, "logs", "overlord.log")}); \`kill -9 ${stuck.pid}\` ends it, and nothing synced is lost (the next start resumes where the server stands)`,
    )
    expect(stuck.running).toBe(true)
  }, 60_000)
})
