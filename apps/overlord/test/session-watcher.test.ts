/**
 * The watcher alone, on a real folder, against a recording engine: what it reports for files that
 * exist at start, files and folders created later (nested subagent folders included), deletions,
 * and what its periodic rescan re-checks.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { waitFor } from "@overlord/testkit/wait"
import { afterEach, describe, expect, it } from "vitest"
import { silentLogger } from "../src/logger.ts"
import { ActiveFiles, type SessionWatcher, watchSessions } from "../src/session-watcher.ts"
import type { SyncEngine } from "../src/sync-engine.ts"

const SID = "0b7f8c52-3f4e-4c1e-9a55-2d1f6b0c9e11"

function recordingEngine() {
  const calls: string[] = []
  const engine = {
    addBackfill: async (key: string) => void calls.push(`backfill ${key}`),
    changed: async (key: string) => void calls.push(`changed ${key}`),
    recheck: async (key: string) => void calls.push(`recheck ${key}`),
    removed: (key: string) => void calls.push(`removed ${key}`),
  }
  return { calls, engine: engine as unknown as SyncEngine }
}

describe("session watcher", () => {
  let dir = ""
  let watcher: SessionWatcher | null = null
  afterEach(async () => {
    await watcher?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it("backfills what exists, then reports new files, new nested folders and deletions", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-watch-"))
    const projects = join(dir, "projects")
    mkdirSync(join(projects, "-old"), { recursive: true })
    writeFileSync(join(projects, "-old", `${SID}.jsonl`), "{}\n")
    writeFileSync(join(projects, "-old", "notes.txt"), "not a session\n")
    symlinkSync(projects, join(projects, "-old", "loop"))
    const { calls, engine } = recordingEngine()
    const warnings: string[] = []
    watcher = await watchSessions({ projectsDir: projects, engine, log: silentLogger, warn: (m) => warnings.push(m) })
    expect(calls).toEqual([`backfill -old/${SID}.jsonl`])

    // A project folder and a subagent folder created and written at once, before any watch on them.
    const agent = join(projects, "-new", SID, "subagents", "agent-a1.jsonl")
    mkdirSync(join(projects, "-new", SID, "subagents"), { recursive: true })
    writeFileSync(agent, "{}\n")
    await waitFor(
      "the subagent file",
      () => calls.some((c) => c.endsWith(`-new/${SID}/subagents/agent-a1.jsonl`)),
      5000,
      20,
    )

    const appended = calls.length
    appendFileSync(join(projects, "-old", `${SID}.jsonl`), "{}\n")
    await waitFor("the append", () => calls.slice(appended).includes(`changed -old/${SID}.jsonl`), 5000, 20)

    rmSync(join(projects, "-old", `${SID}.jsonl`))
    await waitFor("the deletion", () => calls.includes(`removed -old/${SID}.jsonl`), 5000, 20)
    expect(calls.filter((c) => c.includes("notes.txt") || c.includes("loop"))).toEqual([])
    expect(warnings).toEqual([])
  })

  it("stats files written in the last minute, so a change no event reported still syncs", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-watch-"))
    const file = join(dir, `${SID}.jsonl`)
    writeFileSync(file, "{}\n")
    const missed: string[] = []
    const active = new ActiveFiles((key) => missed.push(key), 20)
    try {
      // An event reported the file; the next append reaches nobody but the poll.
      active.touch("k", file)
      // The first look passes the file on once, in case a write already followed its event.
      await waitFor("the first look", () => missed.length === 1, 5000, 10)
      await Bun.sleep(100)
      expect(missed).toEqual(["k"])
      appendFileSync(file, "{}\n")
      await waitFor("the poll to report the append", () => missed.length === 2, 5000, 10)
      await Bun.sleep(100)
      expect(missed).toEqual(["k", "k"])
    } finally {
      active.close()
    }
  })

  it("rescans the tree on a timer, for whatever a watch could miss", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-watch-"))
    const projects = join(dir, "projects")
    mkdirSync(join(projects, "-p"), { recursive: true })
    writeFileSync(join(projects, "-p", `${SID}.jsonl`), "{}\n")
    const { calls, engine } = recordingEngine()
    watcher = await watchSessions({
      projectsDir: projects,
      engine,
      log: silentLogger,
      warn: () => {},
      rescanEveryMs: 100,
    })
    await waitFor("a periodic re-check", () => calls.includes(`recheck -p/${SID}.jsonl`), 5000, 20)
  })
})
