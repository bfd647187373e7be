/**
 * walkthrough-7: a pid file left behind (the daemon SIGKILLed, OOM-killed, or the machine rebooted)
 * names whatever process has that pid now. `overlord start` refused ("already running (pid N);
 * `overlord stop` first"), `overlord status` said running, and `overlord stop` sent SIGTERM to that
 * unrelated process (seen: it killed a `sleep` standing in for the user's editor). The daemon now holds
 * its home's lock while it runs (daemon-lock.ts), and a pid file whose process does not hold it is
 * stale: status says not running, stop touches nothing, start starts.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import {
  freePort,
  killAll,
  overlordCommand,
  Proc,
  runOverlord,
  sleep,
  waitFor,
  writeOneSession,
} from "../support/harness.ts"

let dir = ""
let home = ""
afterEach(async () => {
  if (home) await overlordCommand(["--home", home, "stop"]).catch(() => undefined)
  await killAll()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe("a pid file left behind by a daemon killed with SIGKILL", () => {
  it("does not make an unrelated process with that pid the daemon", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-stale-pid-"))
    home = join(dir, "home")
    const claudeDir = join(dir, "claude")
    writeOneSession(claudeDir)
    const args = [
      "--home",
      home,
      "start",
      "--claude-dir",
      claudeDir,
      "--port",
      String(freePort()),
      "--ollama-url",
      "off",
    ]

    const daemon = runOverlord("daemon", [...args.slice(0, 3), "--foreground", ...args.slice(3)])
    await waitFor(
      "the daemon to run",
      async () => (await overlordCommand(["--home", home, "status"])).includes("connected to"),
      {
        timeoutMs: 30_000,
        intervalMs: 300,
        describe: () => daemon.tail(),
      },
    )
    await daemon.kill("SIGKILL")
    expect(readFileSync(join(home, "daemon.pid"), "utf8").trim()).toBe(String(daemon.pid))

    // Its pid now belongs to another program (the pid file is pointed at one, as a reused pid would be).
    const other = new Proc("unrelated", spawn("sleep", ["600"], { stdio: "ignore" }))
    writeFileSync(join(home, "daemon.pid"), `${other.pid}\n`)

    expect(await overlordCommand(["--home", home, "status"])).toContain("overlord is not running")
    expect(await overlordCommand(["--home", home, "stop"])).toContain("overlord is not running")
    await sleep(300)
    expect(other.running).toBe(true)

    const start = runOverlord("start", args)
    await start.exited
    expect(start.exitCode, start.tail()).toBe(0)
    expect(start.output).toMatch(/overlord started \(pid \d+\)/)
    expect(other.running).toBe(true)
  }, 60_000)
})
