/**
 * Fault: a daemon SIGKILLed mid-command left the command's CLI running. It was reported `interrupted`
 * after the restart and never re-run, but the CLI (its own process group, so the kill did not reach
 * it) went on streaming its answer, and could run tools, until it next wrote to the dead daemon's
 * pipe: in `e2e-delivery.test.ts` it was still there 15 s after the restart. Now the journal names
 * the process a command runs as (pid and start time), and a restarted runner ends it and the groups
 * it started; a process that merely reuses the pid is left alone.
 */
import { spawn } from "node:child_process"
import { afterEach, describe, expect, it } from "vitest"
import { silentLogger } from "../../src/logger.ts"
import { processStartTime } from "../../src/remote/child-process.ts"
import { CommandJournal } from "../../src/remote/command-journal.ts"
import { remotePaths } from "../../src/remote/command-runner.ts"
import { groupGone, makeRig, type RemoteRig } from "../remote/support.ts"

const alive = (pgid: number) => {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

/** A stand-in for the CLI a killed daemon left: the leader of a process group of its own, with a child. */
const leftRunning = () => {
  const child = spawn("sh", ["-c", "sleep 600 & sleep 600"], { detached: true, stdio: "ignore" })
  child.unref()
  return child.pid!
}

describe("a command's process left running by a killed daemon", () => {
  let rig: RemoteRig | undefined
  const groups: number[] = []
  afterEach(async () => {
    for (const g of groups.splice(0)) if (alive(g)) process.kill(-g, "SIGKILL")
    await rig?.dispose()
    rig = undefined
  })

  it("is ended when the daemon restarts; a process that reuses its pid is not", async () => {
    rig = await makeRig(undefined)
    await rig.runner.close()
    const left = leftRunning()
    const other = leftRunning()
    groups.push(left, other)
    await expect.poll(() => processStartTime(left)).toBeDefined()
    // What the killed daemon's journal holds: started, the process, no exit.
    const journal = new CommandJournal(remotePaths(rig.home).seen, silentLogger)
    journal.started("killed-mid-run")
    journal.process("killed-mid-run", { pid: left, since: processStartTime(left)! })
    journal.started("pid-reused")
    // The pid now belongs to another process: it started at another time.
    journal.process("pid-reused", { pid: other, since: "linux:1" })
    journal.close()

    await rig.restart()
    await groupGone(left)
    expect(alive(other)).toBe(true)
    for (const id of ["killed-mid-run", "pid-reused"])
      expect(rig.sent.find((m) => m.type === "command-exit" && m.commandId === id)).toMatchObject({
        status: "interrupted",
      })
    const audit = (await rig.audit()).map((a) => `${String(a.event)} ${String(a.commandId)}`)
    expect(audit).toContain("ending-leftover killed-mid-run")
    expect(audit).not.toContain("ending-leftover pid-reused")
  })
})
