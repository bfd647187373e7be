/**
 * Compatibility suite: every real Claude Code session file in ../shared/fixtures/claude-code,
 * laid out as a `projects/` tree in its original layouts, synced by `overlord start` and exported
 * back byte for byte, with every line stored once. Read from ../shared at test time; never copied.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { copyFile, mkdir, mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import type { Api } from "@overlord/protocol"
import { OVERLORD_BIN } from "@overlord/testkit/overlord-process"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const REPO = resolve(import.meta.dirname, "../../..")
const FIXTURES = resolve(REPO, "../shared/fixtures/claude-code")

interface Fixture {
  readonly fixture: string
  readonly repo: string
  readonly path: string
  readonly lines: number
  readonly fileKey: string
}

/** Where the file sat under `projects/`: its original relative layout, made unique per repo. */
function fileKeyOf(repo: string, path: string): string {
  const parts = path.split("/")
  const sub = parts.lastIndexOf("subagents")
  const keep = sub >= 2 ? parts.slice(sub - 2) : parts.slice(-2)
  const project = parts.length > keep.length ? keep[0]! : "root"
  const rest = parts.length > keep.length ? keep.slice(1) : keep
  return [`${repo.replace("/", "__")}__${project}`, ...rest].join("/")
}

function loadFixtures(): Fixture[] {
  const tsv = readFileSync(join(FIXTURES, "SOURCES.tsv"), "utf8")
  const [header, ...rows] = tsv.trim().split("\n")
  const cols = header!.split("\t")
  return rows.map((row) => {
    const cells = row.split("\t")
    const get = (name: string) => cells[cols.indexOf(name)]!
    return {
      fixture: get("fixture"),
      repo: get("repo"),
      path: get("path"),
      lines: Number(get("lines")),
      fileKey: fileKeyOf(get("repo"), get("path")),
    }
  })
}

describe.skipIf(!existsSync(FIXTURES))("compatibility: the real fixture corpus syncs byte for byte", () => {
  let root: string
  let daemon: ChildProcess
  let creds: { serverUrl: string; apiToken: string }
  let fixtures: Fixture[]
  const output: string[] = []

  const get = async (path: string) =>
    fetch(`${creds.serverUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${creds.apiToken}` } })

  beforeAll(async () => {
    fixtures = loadFixtures().filter((f) => f.path.endsWith(".jsonl"))
    root = await mkdtemp(join(tmpdir(), "overlord-compat-"))
    const projects = join(root, "claude", "projects")
    for (const f of fixtures) {
      const target = join(projects, f.fileKey)
      await mkdir(dirname(target), { recursive: true })
      await copyFile(join(FIXTURES, f.fixture), target)
    }
    const home = join(root, "home")
    daemon = spawn(
      "bun",
      [OVERLORD_BIN, "--home", home, "start", "--foreground", "--claude-dir", join(root, "claude"), "--port", "0"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    )
    daemon.stdout?.on("data", (d) => output.push(String(d)))
    daemon.stderr?.on("data", (d) => output.push(String(d)))
    const deadline = Date.now() + 90_000
    for (;;) {
      if (Date.now() > deadline) throw new Error(`the daemon never finished syncing:\n${output.join("")}`)
      await Bun.sleep(200)
      const state = JSON.parse(await readFile(join(home, "daemon-state.json"), "utf8").catch(() => "{}")) as {
        connected?: boolean
        bytesPending?: number
        filesTracked?: number
      }
      if (state.connected && state.bytesPending === 0 && state.filesTracked === fixtures.length) break
    }
    creds = JSON.parse(await readFile(join(home, "credentials.json"), "utf8"))
  }, 120_000)

  afterAll(async () => {
    daemon?.kill("SIGTERM")
    await rm(root, { recursive: true, force: true })
  })

  it("exports every fixture exactly as it is on disk, with one entry per line", async () => {
    const sessions = (await (await get("/sessions?limit=1000")).json()) as Api.SessionList
    const owner = new Map<string, { sessionId: string; entryCount: number }>()
    for (const s of sessions.sessions) {
      const detail = (await (await get(`/sessions/${s.sessionId}`)).json()) as Api.SessionDetail
      for (const f of detail.files) owner.set(f.fileKey, { sessionId: s.sessionId, entryCount: f.entryCount })
    }
    const mismatches: string[] = []
    let lines = 0
    for (const f of fixtures) {
      const where = owner.get(f.fileKey)
      const source = await readFile(join(FIXTURES, f.fixture))
      if (source.length === 0) continue
      if (!where) {
        mismatches.push(`${f.fixture}: not stored`)
        continue
      }
      const res = await get(`/sessions/${where.sessionId}/export?file=${encodeURIComponent(f.fileKey)}`)
      const stored = Buffer.from(await res.arrayBuffer())
      if (!stored.equals(source))
        mismatches.push(`${f.fixture}: export differs (${stored.length} vs ${source.length} bytes)`)
      if (where.entryCount !== f.lines)
        mismatches.push(`${f.fixture}: ${where.entryCount} entries for ${f.lines} lines`)
      lines += where.entryCount
    }
    expect(mismatches).toEqual([])
    console.log(`compatibility: ${fixtures.length} files, ${lines} lines synced and exported byte for byte`)
  })

  it("reports the unreadable lines it kept in the daemon's status", async () => {
    const state = JSON.parse(await readFile(join(root, "home", "daemon-state.json"), "utf8")) as {
      notices: { fileKey: string; count: number }[]
    }
    const noticed = new Set(state.notices.map((n) => n.fileKey.split("/").pop()))
    // Files the corpus README lists with malformed lines (§6).
    for (const name of ["edge_cases.jsonl", "truncated.jsonl", "invalid_json.jsonl"]) {
      expect(
        [...noticed].some((n) => n?.endsWith(name)),
        name,
      ).toBe(true)
    }
  })
})
