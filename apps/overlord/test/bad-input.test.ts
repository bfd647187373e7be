/**
 * Damaged and hostile input never stops the daemon: it keeps every readable line byte for byte,
 * reports what it could not read in `overlord status --json`, and loses nothing else. The daemon
 * runs as `nobody` so that a folder without read permission really is unreadable (tests run as root).
 */
import {
  appendFileSync,
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { allBadInputs, sessionRecord, writeBadInputs } from "@overlord/testkit/bad-input"
import { afterAll, describe, expect, it } from "vitest"
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
} from "./support/harness.ts"

const NOBODY = 65534
let dir = ""

afterAll(async () => {
  await killAll()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

function chownTree(path: string): void {
  chownSync(path, NOBODY, NOBODY)
  for (const entry of new Bun.Glob("**/*").scanSync({
    cwd: path,
    onlyFiles: false,
    followSymlinks: false,
    dot: true,
  })) {
    try {
      chownSync(join(path, entry), NOBODY, NOBODY)
    } catch {
      // a dangling or looping symlink: lchown is not needed for the test
    }
  }
}

interface Status {
  running: boolean
  connected: boolean
  bytesPending: number
  warnings: string[]
  notices: { fileKey: string; count: number; last: string }[]
}

describe("bad input", () => {
  it("keeps running, syncs every readable line byte for byte and reports the rest", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-bad-"))
    chmodSync(dir, 0o755)
    const claudeDir = join(dir, "claude")
    const projects = join(claudeDir, "projects")
    const home = join(dir, "home")
    const database = join(dir, "server", "overlord.db")

    // Damaged files from the testkit (malformed/glued JSON, truncated last line, invalid UTF-8,
    // NUL run, a 2 MB line, non-object lines, an unknown record type), an empty file, a normal one.
    const bad = allBadInputs()
    await writeBadInputs(projects, bad, "-home-dev-bad")
    const badDir = join(projects, "-home-dev-bad")
    const emptySid = crypto.randomUUID()
    writeFileSync(join(badDir, `${emptySid}.jsonl`), "")
    const goodSid = crypto.randomUUID()
    const good = join(projects, "-home-dev-good", `${goodSid}.jsonl`)
    mkdirSync(join(projects, "-home-dev-good"), { recursive: true })
    writeFileSync(good, Array.from({ length: 50 }, (_, i) => `${sessionRecord(goodSid, i)}\n`).join(""))
    const toShrinkSid = crypto.randomUUID()
    const toShrink = join(projects, "-home-dev-good", `${toShrinkSid}.jsonl`)
    writeFileSync(toShrink, Array.from({ length: 30 }, (_, i) => `${sessionRecord(toShrinkSid, i)}\n`).join(""))
    // A symlink loop inside a project folder.
    symlinkSync("..", join(badDir, "loop"))
    // A project folder the daemon cannot read.
    const locked = join(projects, "-home-dev-locked")
    mkdirSync(locked)
    const lockedSid = crypto.randomUUID()
    writeFileSync(join(locked, `${lockedSid}.jsonl`), `${sessionRecord(lockedSid, 0)}\n`)
    chownTree(claudeDir)
    chmodSync(locked, 0o000)

    const port = freePort()
    const api = provision(database, home, `http://127.0.0.1:${port}`)
    chownTree(home)
    await startServer({ home: join(dir, "server-home"), database, port })
    const d = startDaemon({ home, claudeDir, serverUrl: api.serverUrl, uid: NOBODY, gid: NOBODY })
    const context = () => `state: ${JSON.stringify(readState(home))}\n${d.tail()}\n${logTail(home)}`
    const readable = () => diskFiles(claudeDir, [locked])

    await waitDaemonIdle(home, d, 60_000)
    await expectServerMatchesDisk(api, readable, context)

    // The daemon keeps tailing damaged files, and a file replaced by a shorter one is re-read.
    appendFileSync(join(badDir, `${bad[0]!.sessionId}.jsonl`), `${sessionRecord(bad[0]!.sessionId, 9)}\n`)
    writeFileSync(`${toShrink}.new`, `${sessionRecord(toShrinkSid, 100)}\n`)
    chownSync(`${toShrink}.new`, NOBODY, NOBODY)
    renameSync(`${toShrink}.new`, toShrink)
    await waitDaemonIdle(home, d, 60_000)
    const files = await expectServerMatchesDisk(api, readable, context)
    // Every readable session file is there, and only those.
    expect(files.map((f) => f.sessionId).sort()).toEqual(
      [...bad.map((b) => b.sessionId), emptySid, goodSid, toShrinkSid].sort(),
    )

    // The unreadable folder's session is not on the server; nothing crashed.
    const missing = await fetch(`${api.serverUrl}/api/v1/sessions/${lockedSid}`, {
      headers: { authorization: `Bearer ${api.apiToken}` },
    })
    expect(missing.status).toBe(404)
    expect(d.running).toBe(true)

    // `overlord status --json`: the warning for the folder, notices for the unreadable lines.
    const status = await waitFor(
      "status --json to show the warning and the notices",
      async () => {
        const s = JSON.parse(await overlordCommand(["--home", home, "status", "--json"])) as Status
        return s.notices.length >= 4 && s.warnings.length > 0 ? s : null
      },
      { timeoutMs: 20_000, intervalMs: 500, describe: context },
    )
    expect(status.running).toBe(true)
    expect(status.connected).toBe(true)
    expect(status.bytesPending).toBe(0)
    expect(status.warnings.some((w) => w.includes("-home-dev-locked") && /permission denied/.test(w))).toBe(true)
    const noticeFor = (name: string) =>
      status.notices.find((n) => n.fileKey === `-home-dev-bad/${bad.find((b) => b.name === name)!.sessionId}.jsonl`)
    expect(noticeFor("invalid-utf8")?.last).toMatch(/invalid UTF-8/)
    expect(noticeFor("non-object-lines")?.last).toMatch(/not an object|malformed/)
    expect(noticeFor("unknown-record-type")?.last).toMatch(/unknown record type/)
    expect(noticeFor("glued-records")?.last).toMatch(/malformed JSON/)
    // Valid files carry no notice.
    expect(status.notices.some((n) => n.fileKey.includes(goodSid))).toBe(false)
  }, 120_000)
})
