/**
 * Issue #14 §3: Claude Code deletes session files after `cleanupPeriodDays` (30 by default). Keeping
 * them is part of what Overlord is for: a session whose file is deleted, while the daemon runs or while
 * it is down, stays whole and exportable byte for byte, and the server knows its source is gone
 * (`sourceGone`, shown as "kept by Overlord"). Real processes: `overlord serve` and a daemon.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import { sessionRecord } from "@overlord/testkit/bad-input"
import { afterEach, describe, expect, it } from "vitest"
import {
  compareWithServer,
  diskFiles,
  expectServerMatchesDisk,
  freePort,
  killAll,
  logTail,
  overlordCommand,
  type Provisioned,
  provision,
  startDaemon,
  startServer,
  waitDaemonIdle,
  waitFor,
} from "../support/harness.ts"

let cleanup: string[] = []
afterEach(async () => {
  await killAll()
  for (const d of cleanup) rmSync(d, { recursive: true, force: true })
  cleanup = []
})

const lines = (sid: string, n: number) => {
  let out = ""
  for (let i = 0; i < n; i++) out += `${sessionRecord(sid, i, {})}\n`
  return out
}

const get = async <A>(p: Provisioned, path: string): Promise<A> => {
  const res = await fetch(`${p.serverUrl}/api/v1${path}`, {
    headers: { authorization: `Bearer ${p.apiToken}` },
    signal: AbortSignal.timeout(15_000),
  })
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as A
}

describe("a session whose file Claude Code deleted", () => {
  it("stays complete and exportable, and is marked as kept by Overlord", async () => {
    const dir = mkdtempSync(join(tmpdir(), "overlord-source-gone-"))
    cleanup.push(dir)
    const claudeDir = join(dir, "claude")
    const home = join(dir, "home")
    const database = join(dir, "server", "overlord.db")
    const project = join(claudeDir, "projects", "-home-dev-gone")
    mkdirSync(project, { recursive: true })
    const [a, b, kept] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()]
    for (const [sid, n] of [
      [a, 30],
      [b, 12],
      [kept, 7],
    ] as const)
      writeFileSync(join(project, `${sid}.jsonl`), lines(sid, n))
    // A's subagent, deleted with it.
    mkdirSync(join(project, a, "subagents"), { recursive: true })
    writeFileSync(join(project, a, "subagents", "agent-a1.jsonl"), lines(a, 5))

    const port = freePort()
    const api = provision(database, home, `http://127.0.0.1:${port}`)
    const server = await startServer({ home: join(dir, "server-home"), database, port })
    let d = startDaemon({ home, claudeDir, serverUrl: server.url })
    const context = () => `${d.tail()}\n${logTail(home)}`
    await waitDaemonIdle(home, d)
    await expectServerMatchesDisk(api, () => diskFiles(claudeDir), context)
    const synced = diskFiles(claudeDir)

    // A deleted while the daemon runs (as Claude Code's cleanup does: the session and its folder).
    rmSync(join(project, `${a}.jsonl`))
    rmSync(join(project, a), { recursive: true })
    const goneA = await waitFor("A to be marked gone", async () => {
      const detail = await get<Api.SessionDetail>(api, `/sessions/${a}`)
      return detail.session.sourceGone ? detail : null
    })
    expect(goneA.session.entryCount).toBe(30)
    expect(goneA.session.subagentCount).toBe(1)

    // B deleted while the daemon is down: found gone at the next welcome.
    await d.kill("SIGKILL")
    rmSync(join(project, `${b}.jsonl`))
    d = startDaemon({ home, claudeDir, serverUrl: server.url })
    await waitDaemonIdle(home, d)
    await waitFor("B to be marked gone", async () => {
      const detail = await get<Api.SessionDetail>(api, `/sessions/${b}`)
      return detail.session.sourceGone ? detail : null
    })

    // Every byte synced before the deletions still exports, byte for byte.
    expect(await compareWithServer(api, synced)).toEqual([])
    const list = await get<Api.SessionList>(api, "/sessions?limit=10")
    const marks = Object.fromEntries(list.sessions.map((s) => [s.sessionId, s.sourceGone === true]))
    expect(marks).toEqual({ [a]: true, [b]: true, [kept]: false })
    expect(d.running).toBe(true)
  }, 120_000)

  it("`overlord doctor` reports Claude Code's cleanupPeriodDays and that Overlord keeps what it deletes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "overlord-cleanup-period-"))
    cleanup.push(dir)
    const claudeDir = join(dir, "claude")
    mkdirSync(join(claudeDir, "projects", "-home-dev-x"), { recursive: true })
    const doctor = () => overlordCommand(["--home", join(dir, "home"), "doctor", "--claude-dir", claudeDir])
    // No settings file: Claude Code's default.
    expect(await doctor()).toMatch(/deletes session files after 30 days .*its default.*Overlord keeps/)
    writeFileSync(join(claudeDir, "settings.json"), JSON.stringify({ cleanupPeriodDays: 7, theme: "dark" }))
    expect(await doctor()).toMatch(
      new RegExp(`after 7 days .*${join(claudeDir, "settings.json").replaceAll("/", "\\/")}.*kept by Overlord`),
    )
    writeFileSync(join(claudeDir, "settings.json"), JSON.stringify({ cleanupPeriodDays: "soon" }))
    const out = await doctor()
    expect(out).toMatch(/cleanupPeriodDays is not a whole number of days/)
    expect(out).toMatch(/after 30 days/)
  }, 60_000)
})
