/**
 * walkthrough-7: symlinks under `projects/` (a dotfiles manager such as GNU stow links folders and
 * files into place). The daemon does not follow them (a loop could trap its scan, and its watch sees
 * no append made through a link), which is fine, but it said nothing: a linked project folder was an
 * info line in the log, a linked session file nothing at all, `overlord status` had no warning and
 * `overlord doctor` counted the linked file as a session file and skipped the linked folder. Those
 * sessions were simply missing. Now each is a warning of the daemon (status) once, found by the scan
 * or, for a link made later, by the watch; doctor names them; a linked projects folder itself still
 * syncs (it is resolved first).
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
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

const lines = (sid: string, n: number) => {
  let out = ""
  for (let i = 0; i < n; i++) out += `${sessionRecord(sid, i, {})}\n`
  return out
}

describe("symlinks under projects/", () => {
  it("are not followed, and each linked project folder or session file is said once, by status and doctor", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-symlinks-"))
    // The Claude folder's projects/ is itself a link: that one is followed.
    const claudeDir = join(dir, "claude")
    const realProjects = join(dir, "dotfiles", "projects")
    mkdirSync(claudeDir, { recursive: true })
    symlinkSync(realProjects, join(claudeDir, "projects"))
    const outside = join(dir, "elsewhere")
    mkdirSync(join(realProjects, "-home-dev-real"), { recursive: true })
    mkdirSync(join(outside, "-home-dev-linked"), { recursive: true })
    const [real, inLinkedFolder, linkedFile, later] = [
      crypto.randomUUID(),
      crypto.randomUUID(),
      crypto.randomUUID(),
      crypto.randomUUID(),
    ]
    writeFileSync(join(realProjects, "-home-dev-real", `${real}.jsonl`), lines(real, 12))
    writeFileSync(join(outside, "-home-dev-linked", `${inLinkedFolder}.jsonl`), lines(inLinkedFolder, 5))
    writeFileSync(join(outside, "one.jsonl"), lines(linkedFile, 7))
    writeFileSync(join(outside, "two.jsonl"), lines(later, 3))
    symlinkSync(join(outside, "-home-dev-linked"), join(realProjects, "-home-dev-linked"))
    symlinkSync(join(outside, "one.jsonl"), join(realProjects, "-home-dev-real", `${linkedFile}.jsonl`))
    // Not where sessions are: no warning (the bad-input suite's loop, a link to a plain file).
    symlinkSync("..", join(realProjects, "-home-dev-real", "loop"))
    symlinkSync(join(outside, "one.jsonl"), join(realProjects, "notes.txt"))

    const home = join(dir, "home")
    const database = join(dir, "server", "overlord.db")
    const port = freePort()
    const api = provision(database, home, `http://127.0.0.1:${port}`)
    await startServer({ home: join(dir, "server-home"), database, port })
    const d = startDaemon({ home, claudeDir, serverUrl: api.serverUrl })
    const context = () => `state: ${JSON.stringify(readState(home))}\n${d.tail()}\n${logTail(home)}`
    await waitDaemonIdle(home, d)
    // Only the real file (diskFiles does not follow links either).
    const synced = await expectServerMatchesDisk(api, () => diskFiles(claudeDir), context)
    expect(synced.map((f) => f.sessionId)).toEqual([real])

    const warnings = async () =>
      (JSON.parse(await overlordCommand(["--home", home, "status", "--json"])) as { warnings: string[] }).warnings
    const about = (ws: string[], key: string) => ws.filter((w) => w.includes(`not syncing ${key}: it is a symlink`))
    const first = await waitFor(
      "status to warn about both links",
      async () => {
        const ws = await warnings()
        return about(ws, "-home-dev-linked").length > 0 && about(ws, `-home-dev-real/${linkedFile}.jsonl`).length > 0
          ? ws
          : null
      },
      { timeoutMs: 20_000, intervalMs: 300, describe: context },
    )
    expect(about(first, "-home-dev-linked")[0]).toContain(join(outside, "-home-dev-linked"))
    expect(about(first, `-home-dev-real/${linkedFile}.jsonl`)[0]).toContain("session file")
    expect(first).toHaveLength(2)

    // A link made while the daemon runs is seen by the watch, and said once too.
    symlinkSync(join(outside, "two.jsonl"), join(realProjects, "-home-dev-real", `${later}.jsonl`))
    const second = await waitFor(
      "status to warn about the new link",
      async () => {
        const ws = await warnings()
        return about(ws, `-home-dev-real/${later}.jsonl`).length > 0 ? ws : null
      },
      { timeoutMs: 20_000, intervalMs: 300, describe: context },
    )
    expect(second).toHaveLength(3)

    const doctor = await overlordCommand(["--home", home, "doctor", "--claude-dir", claudeDir]).catch(
      (e: Error) => e.message,
    )
    expect(doctor).toContain("1 session files")
    const linkLine = doctor.split("\n").find((l) => l.startsWith("warn  not synced, as symlinks"))
    expect(linkLine).toContain("-home-dev-linked")
    expect(linkLine).toContain(`-home-dev-real/${linkedFile}.jsonl`)
    expect(linkLine).not.toContain("notes.txt")
    expect(linkLine).not.toContain("loop")
    expect(d.running).toBe(true)
  }, 90_000)
})
