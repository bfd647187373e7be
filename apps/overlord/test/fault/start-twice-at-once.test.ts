/**
 * walkthrough-7: two `overlord start` at the same moment with one home (two terminals a shell profile
 * starts it in, opened together). Each checked the pid file before either daemon had written it, so
 * both started: two daemons on one home and one SQLite database, each with its own embedded server,
 * the pid file naming one of them, so `overlord stop` stopped one and left the other running unseen
 * (its port still answering). On a fresh home the loser said "store query failed during open: table
 * users already exists"; with both on one port it gave another daemon's log line as its reason. Now
 * the daemon holds a lock on its home for as long as it runs: the second start says "already running
 * (pid N)", naming the one that runs, and `overlord stop` leaves nothing behind.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import {
  freePort,
  killAll,
  overlordCommand,
  type Proc,
  runOverlord,
  waitFor,
  writeOneSession,
} from "../support/harness.ts"

/** Running and not a zombie (a detached daemon's parent has exited; nothing here may reap it at once). */
const isAlive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"))
  } catch {
    return false
  }
}

let dir = ""
const started = new Set<number>()
afterEach(async () => {
  await killAll()
  for (const pid of started) if (isAlive(pid)) process.kill(pid, "SIGKILL")
  started.clear()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const answers = async (port: number) =>
  fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2_000) }).then(
    () => true,
    () => false,
  )

const startedPid = (p: Proc) => {
  const pid = /overlord started \(pid (\d+)\)/.exec(p.output)?.[1]
  if (pid) started.add(Number(pid))
  return pid ? Number(pid) : null
}

describe("two `overlord start` at once with one home", () => {
  it("starts one daemon; the other says it is already running, and stop leaves nothing running", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-start-twice-"))
    const home = join(dir, "home")
    const claudeDir = join(dir, "claude")
    writeOneSession(claudeDir)
    const start = (port: number) =>
      runOverlord("start", [
        "--home",
        home,
        "start",
        "--claude-dir",
        claudeDir,
        "--port",
        String(port),
        "--ollama-url",
        "off",
      ])

    // The home and its database exist already, as on every start but the first.
    const first = start(freePort())
    await first.exited
    expect(first.exitCode, first.tail()).toBe(0)
    startedPid(first)
    await overlordCommand(["--home", home, "stop"])

    for (const samePort of [false, true]) {
      const ports = samePort ? [freePort()] : [freePort(), freePort()]
      const a = start(ports[0]!)
      const b = start(ports[ports.length - 1]!)
      await Promise.all([a.exited, b.exited])
      const pids = [startedPid(a), startedPid(b)].filter((p): p is number => p !== null)
      const context = `${a.tail()}\n${b.tail()}`
      expect(pids, context).toHaveLength(1)
      const [winner, loser] = startedPid(a) !== null ? [a, b] : [b, a]
      expect(winner.exitCode, context).toBe(0)
      expect(loser.exitCode, context).toBe(1)
      expect(loser.output, context).toContain(`already running (pid ${pids[0]})`)

      await overlordCommand(["--home", home, "stop"])
      expect(await overlordCommand(["--home", home, "status"])).toMatch(/not running/)
      // Nothing left behind: no daemon process, no embedded server on either port.
      await waitFor("every daemon to be gone", () => [...started].every((pid) => !isAlive(pid)), {
        timeoutMs: 15_000,
        describe: () => `still alive: ${[...started].filter(isAlive).join(", ")}\n${context}`,
      })
      for (const port of ports) expect(await answers(port)).toBe(false)
    }
  }, 120_000)
})
