/**
 * walkthrough-7: `overlord status` read the daemon's state file as current whatever its age. With the
 * daemon's home on a full disk (a 3 MB tmpfs) the daemon could not write it after its first second,
 * and status said "running, NOT connected, not yet synced: 7.4 MiB" for as long as the disk was full,
 * with nothing about why (the log said ENOSPC); a daemon stuck in a loop looked the same. And a daemon
 * starting (it writes its pid file at once, its state once it is up) was shown with the state its
 * predecessor left. Now a state older than the daemon's heartbeat allows is called out of date, with
 * where to look, and a starting daemon says it is starting.
 *
 * The daemon is stood in for by a live process named in the pid file, and its state is written here:
 * status reads only those two files.
 */
import { spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { killAll, overlordCommand, Proc } from "../support/harness.ts"

let dir = ""
afterEach(async () => {
  await killAll()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe("overlord status with a state file the daemon no longer writes", () => {
  it("says it is out of date and where to look; a daemon starting says so", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-status-stale-"))
    const home = join(dir, "home")
    mkdirSync(home, { recursive: true })
    const daemon = new Proc("stand-in daemon", spawn("sleep", ["600"], { stdio: "ignore" }))
    writeFileSync(join(home, "daemon.pid"), `${daemon.pid}\n`)
    const state = (pid: number, updatedAt: Date) =>
      writeFileSync(
        join(home, "daemon-state.json"),
        JSON.stringify({
          pid,
          startedAt: new Date(updatedAt.getTime() - 1_000).toISOString(),
          updatedAt: updatedAt.toISOString(),
          connected: false,
          serverUrl: "http://127.0.0.1:7420",
          dashboardUrl: "http://127.0.0.1:7420/auth?token=x",
          claudeDir: join(dir, "claude"),
          filesTracked: 64,
          bytesPending: 7_776_885,
          lastError: null,
          warnings: [],
          notices: [],
          resets: { count: { shrunk: 0, replaced: 0, rewritten: 0 }, latest: [] },
          editedInPlace: { count: 0, latest: [] },
        }),
      )
    const status = () => overlordCommand(["--home", home, "status"])
    const json = async () => JSON.parse(await overlordCommand(["--home", home, "status", "--json"]))

    // Last written ten minutes ago by the daemon that runs.
    const tenMinutesAgo = new Date(Date.now() - 600_000)
    state(daemon.pid, tenMinutesAgo)
    const stale = await status()
    expect(stale).toContain(`running (pid ${daemon.pid})`)
    expect(stale).toContain(`out of date: the daemon has not written its state`)
    expect(stale).toContain(tenMinutesAgo.toISOString())
    expect(stale).toContain(join(home, "logs", "overlord.log"))
    expect(await json()).toMatchObject({ running: true, stale: true, starting: false })

    // Written just now: nothing to say.
    state(daemon.pid, new Date())
    expect(await status()).not.toContain("out of date")
    expect(await json()).toMatchObject({ stale: false, filesTracked: 64 })

    // The state is a previous daemon's: this one is starting, and the old numbers are not its.
    state(daemon.pid + 1, new Date())
    const starting = await status()
    expect(starting).toContain(`running (pid ${daemon.pid}), starting`)
    expect(starting).not.toContain("files tracked: 64")
    expect(await json()).toMatchObject({ running: true, starting: true, filesTracked: 0, connected: false })
  }, 60_000)
})
