/**
 * Issue #14, finding 3: one unreadable folder made the daemon rescan the whole tree every second
 * (Bun's recursive watch reports the folder it cannot watch as an error; the watcher closed itself,
 * watched again a second later and rescanned everything): 9.5 % of a core with 2,001 files, two
 * warnings a second, live appends elsewhere delayed to 1.4 s. Now the folder is retried on its own,
 * with exponential backoff, warned about once, and the rest of the tree stays watched.
 *
 * The real watcher runs as `nobody` (`support/watch-probe.ts`), so that a folder without read
 * permission really is unreadable (tests run as root). Counts calls and warnings, never times.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { BUN, killAll, Proc, sleep, waitFor } from "../support/harness.ts"

const NOBODY = 65534
const PROBE = join(import.meta.dirname, "support", "watch-probe.ts")

interface Said {
  call?: string
  key?: string
  warn?: string
  info?: string
  ready?: boolean
}

let dir = ""
afterEach(async () => {
  await killAll()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const said = (p: Proc): Said[] =>
  p.output
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Said)

describe("an unreadable folder", () => {
  it("is retried alone with backoff and warned about once, while the rest of the tree stays live", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-unreadable-"))
    chmodSync(dir, 0o755)
    const projects = join(dir, "projects")
    const sid = () => crypto.randomUUID()
    const live = `-home-dev-live/${sid()}.jsonl`
    const other = `-home-dev-other/${sid()}.jsonl`
    const hidden = `-home-dev-locked/${sid()}.jsonl`
    for (const key of [live, other, hidden]) {
      mkdirSync(join(projects, key, ".."), { recursive: true })
      writeFileSync(join(projects, key), "{}\n")
    }
    const locked = join(projects, "-home-dev-locked")
    chmodSync(locked, 0o000)

    const child: ChildProcess = spawn(BUN, [PROBE, projects, "100"], {
      stdio: ["ignore", "pipe", "pipe"],
      uid: NOBODY,
      gid: NOBODY,
    })
    const probe = new Proc("watch-probe", child)
    const context = () => probe.tail(6000)
    await waitFor("the probe to start", () => said(probe).some((s) => s.ready), { describe: context })
    expect(
      said(probe)
        .filter((s) => s.call === "backfill")
        .map((s) => s.key),
    ).toEqual(expect.arrayContaining([live, other]))

    // Appends elsewhere keep arriving, one report each, for a few seconds: long enough for the old
    // loop to have rescanned the tree (and warned twice) several times.
    const calls = (call: string, key: string) => said(probe).filter((s) => s.call === call && s.key === key).length
    // (A rescan's re-check counts as a report here, so that the old loop fails on the counts below.)
    const reports = () => calls("changed", live) + calls("recheck", live)
    for (let i = 0; i < 10; i++) {
      const before = reports()
      appendFileSync(join(projects, live), `{"i":${i}}\n`)
      await waitFor(`append ${i} reported`, () => reports() > before, { describe: context })
      await sleep(300)
    }
    expect(calls("changed", live)).toBeGreaterThanOrEqual(10)
    const aboutLocked = (s: Said) => (s.warn ?? "").includes("-home-dev-locked")
    // One warning for the folder, saying why; no other warning at all.
    expect(said(probe).filter(aboutLocked)).toHaveLength(1)
    expect(said(probe).filter(aboutLocked)[0]!.warn).toMatch(/permission denied/)
    expect(said(probe).filter((s) => s.warn !== undefined)).toHaveLength(1)
    // No rescan of the tree: the files outside the folder were never looked for again.
    expect(calls("recheck", live) + calls("recheck", other)).toBe(0)
    // The folder itself was retried, each time later than the last (the delays it logged).
    const delays = said(probe)
      .map((s) => /next try in (\d+) ms/.exec(s.info ?? "")?.[1])
      .filter((d): d is string => d !== undefined)
      .map(Number)
    expect(delays.length).toBeGreaterThanOrEqual(2)
    for (let i = 1; i < delays.length; i++) expect(delays[i]!).toBeGreaterThan(delays[i - 1]!)

    // Readable again: its file is found by the folder's own retry, and the folder is watched.
    chmodSync(locked, 0o755)
    await waitFor("the folder's file to be found", () => calls("recheck", hidden) > 0, {
      timeoutMs: 30_000,
      describe: context,
    })
    const later = `-home-dev-locked/${sid()}.jsonl`
    writeFileSync(join(projects, later), "{}\n")
    await waitFor("a new file in the folder to be reported", () => calls("changed", later) > 0, {
      describe: context,
    })
    expect(calls("recheck", live) + calls("recheck", other)).toBe(0)
    expect(said(probe).filter((s) => s.warn !== undefined)).toHaveLength(1)
    expect(probe.running).toBe(true)
  }, 90_000)
})
