/**
 * walkthrough-7: a session file made unreadable (chmod 000) while the daemon could read its folder.
 * Its read failed, the file stayed first in the queue and was read again at once: the daemon's thread
 * spun in failed opens (10,000 a second under strace, a whole core), no other file synced, the state
 * file was never written again (`overlord status` said "NOT connected", 7.4 MiB pending, no error) and
 * `overlord stop` timed out. Now the file waits (1 s, then twice as long each time, and at its next
 * change), the failure is the daemon's last error until it can be read, and everything else syncs.
 * A daemon restarted while the file is unreadable no longer takes the failed read of the bytes before
 * the server's offset for a rewrite (a needless re-read from byte 0).
 *
 * The daemon runs as `nobody`, so that chmod 000 really is unreadable (tests run as root).
 */
import {
  appendFileSync,
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { sessionRecord } from "@overlord/testkit/bad-input"
import { afterEach, describe, expect, it } from "vitest"
import {
  diskFiles,
  expectServerMatchesDisk,
  freePort,
  killAll,
  logTail,
  overlordCommand,
  provision,
  readState,
  startDaemon,
  startServer,
  waitDaemonIdle,
  waitFor,
} from "../support/harness.ts"

const NOBODY = 65534
let dir = ""
afterEach(async () => {
  await killAll()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const lines = (sid: string, from: number, n: number) => {
  let out = ""
  for (let i = from; i < from + n; i++) out += `${sessionRecord(sid, i, {})}\n`
  return out
}

interface Status {
  running: boolean
  connected: boolean
  bytesPending: number
  lastError: string | null
  resets: { count: { shrunk: number; replaced: number; rewritten: number } }
}

describe("a session file that cannot be read", () => {
  it("waits for its turn while every other file syncs, and syncs whole once it can be read", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-unreadable-file-"))
    chmodSync(dir, 0o755)
    const claudeDir = join(dir, "claude")
    const project = join(claudeDir, "projects", "-home-dev-app")
    const home = join(dir, "home")
    const database = join(dir, "server", "overlord.db")
    mkdirSync(project, { recursive: true })
    const [a, b, locked] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()]
    const path = (sid: string) => join(project, `${sid}.jsonl`)
    writeFileSync(path(a), lines(a, 0, 40))
    writeFileSync(path(b), lines(b, 0, 25))
    writeFileSync(path(locked), lines(locked, 0, 30))
    // The unreadable file is the newest, so the backfill comes to it first.
    const hourAgo = new Date(Date.now() - 3_600_000)
    utimesSync(path(a), hourAgo, hourAgo)
    utimesSync(path(b), hourAgo, hourAgo)
    for (const p of [dir, claudeDir, join(claudeDir, "projects"), project, path(a), path(b), path(locked)])
      chownSync(p, NOBODY, NOBODY)
    chmodSync(path(locked), 0o000)
    const lockedKey = `-home-dev-app/${locked}.jsonl`
    const readable = () => diskFiles(claudeDir).filter((f) => f.fileKey !== lockedKey)

    const port = freePort()
    const api = provision(database, home, `http://127.0.0.1:${port}`)
    chownSync(home, NOBODY, NOBODY)
    for (const f of ["machine.json", "credentials.json"]) chownSync(join(home, f), NOBODY, NOBODY)
    await startServer({ home: join(dir, "server-home"), database, port })
    let d = startDaemon({ home, claudeDir, serverUrl: api.serverUrl, uid: NOBODY, gid: NOBODY })
    const context = () => `state: ${JSON.stringify(readState(home))}\n${d.tail()}\n${logTail(home)}`
    const status = async () => JSON.parse(await overlordCommand(["--home", home, "status", "--json"])) as Status

    // Every other file syncs, and the state file (status) says which file waits and why.
    await expectServerMatchesDisk(api, readable, context)
    const waiting = await waitFor(
      "status to name the unreadable file",
      async () => {
        const s = await status()
        return s.lastError?.includes(lockedKey) ? s : null
      },
      { timeoutMs: 20_000, intervalMs: 300, describe: context },
    )
    expect(waiting.lastError).toMatch(/permission denied/)
    expect(waiting.connected).toBe(true)
    // Live appends to the others go on.
    appendFileSync(path(a), lines(a, 40, 3))
    await expectServerMatchesDisk(api, readable, context)

    // Readable again: the whole file, byte for byte, and the error is over.
    chmodSync(path(locked), 0o644)
    await waitDaemonIdle(home, d)
    await expectServerMatchesDisk(api, () => diskFiles(claudeDir), context)
    expect((await status()).lastError).toBeNull()

    // Written and made unreadable while the daemon is down: the server holds the file, and the failed
    // look at its synced bytes at the restart is not taken for a rewrite.
    await d.kill("SIGKILL")
    appendFileSync(path(locked), lines(locked, 30, 2))
    chmodSync(path(locked), 0o000)
    d = startDaemon({ home, claudeDir, serverUrl: api.serverUrl, uid: NOBODY, gid: NOBODY })
    await waitFor(
      "the restarted daemon to name the unreadable file",
      async () => ((await status()).lastError?.includes(lockedKey) ? true : null),
      { timeoutMs: 20_000, intervalMs: 300, describe: context },
    )
    chmodSync(path(locked), 0o644)
    await waitDaemonIdle(home, d)
    await expectServerMatchesDisk(api, () => diskFiles(claudeDir), context)
    const after = await status()
    expect(after.resets.count).toEqual({ shrunk: 0, replaced: 0, rewritten: 0 })
    expect(after.lastError).toBeNull()
    expect(d.running).toBe(true)
  }, 120_000)
})
