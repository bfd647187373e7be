/**
 * Issue #14, finding 7: `overlord status` printed one line per file with a notice, hundreds of lines
 * on a real history, and files re-read from the start (truncated, replaced, rewritten) reached only
 * the log. Now each kind is one summary line with counts and the latest few (`--verbose`: all), and
 * `--json` reports the re-reads with their reasons. Real server and daemon processes.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from "node:fs"
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

let dir = ""
afterEach(async () => {
  await killAll()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

interface Status {
  notices: { fileKey: string; count: number }[]
  resets: {
    count: { shrunk: number; replaced: number; rewritten: number }
    latest: { fileKey: string; reason: string }[]
  }
}

describe("overlord status", () => {
  it("summarizes each kind of problem with counts and the latest few, and reports re-reads with reasons", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-status-"))
    const claudeDir = join(dir, "claude")
    const home = join(dir, "home")
    const database = join(dir, "server", "overlord.db")
    const project = join(claudeDir, "projects", "-home-dev-status")
    mkdirSync(project, { recursive: true })
    // Twelve files with an unreadable line each (kept byte for byte, noticed), two ordinary ones.
    const NOTICED = 12
    for (let i = 0; i < NOTICED; i++) {
      const sid = crypto.randomUUID()
      writeFileSync(
        join(project, `${sid}.jsonl`),
        `${sessionRecord(sid, 0)}\n{not json ${i}\n${sessionRecord(sid, 1)}\n`,
      )
    }
    const shrinking = crypto.randomUUID()
    const replaced = crypto.randomUUID()
    for (const sid of [shrinking, replaced]) {
      writeFileSync(
        join(project, `${sid}.jsonl`),
        Array.from({ length: 8 }, (_, i) => `${sessionRecord(sid, i)}\n`).join(""),
      )
    }
    const port = freePort()
    const api = provision(database, home, `http://127.0.0.1:${port}`)
    await startServer({ home: join(dir, "server-home"), database, port })
    const d = startDaemon({ home, claudeDir, serverUrl: api.serverUrl })
    const context = () => `state: ${JSON.stringify(readState(home))}\n${d.tail()}\n${logTail(home)}`
    await waitDaemonIdle(home, d)

    // One file truncated in place, one replaced by another (a new inode): both re-read from 0.
    const shrinkPath = join(project, `${shrinking}.jsonl`)
    truncateSync(shrinkPath, Buffer.byteLength(`${sessionRecord(shrinking, 0)}\n${sessionRecord(shrinking, 1)}\n`))
    const replacedPath = join(project, `${replaced}.jsonl`)
    writeFileSync(`${replacedPath}.new`, `${sessionRecord(replaced, 0)}\n`)
    renameSync(`${replacedPath}.new`, replacedPath)
    await expectServerMatchesDisk(api, () => diskFiles(claudeDir), context)

    const status = await waitFor(
      "status --json to show every notice and both re-reads",
      async () => {
        const s = JSON.parse(await overlordCommand(["--home", home, "status", "--json"])) as Status
        return s.notices.length === NOTICED && s.resets.count.shrunk >= 1 && s.resets.count.replaced >= 1 ? s : null
      },
      { timeoutMs: 30_000, intervalMs: 500, describe: context },
    )
    const reasonOf = (sid: string) => status.resets.latest.find((r) => r.fileKey.endsWith(`${sid}.jsonl`))?.reason
    expect(reasonOf(shrinking)).toBe("shrunk")
    expect(reasonOf(replaced)).toBe("replaced")

    // The text: one line per kind, then the latest five, not a line per file.
    const text = await overlordCommand(["--home", home, "status"])
    expect(text).toMatch(
      new RegExp(`unreadable lines \\(kept byte for byte\\): ${NOTICED} in ${NOTICED} file\\(s\\); latest 5:`),
    )
    expect(text).toMatch(/re-read from the start: 2 \(shrunk 1, replaced 1\):/)
    const fileLines = (out: string) => out.split("\n").filter((l) => l.startsWith("  -home-dev-status/"))
    // Five notices, two re-reads.
    expect(fileLines(text)).toHaveLength(5 + 2)
    const verbose = await overlordCommand(["--home", home, "status", "--verbose"])
    expect(fileLines(verbose)).toHaveLength(NOTICED + 2)
    expect(d.running).toBe(true)
  }, 120_000)
})
