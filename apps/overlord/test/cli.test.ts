/**
 * The commands a user and a script run: `start` (detached), `status`, `sessions`, `export`,
 * `open`, `doctor`, `stop`, as subprocesses on a temporary home and Claude folder.
 */
import { spawnSync } from "node:child_process"
import { mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { OVERLORD_BIN, OVERLORD_SOURCE_BIN } from "@overlord/testkit/overlord-process"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const SID = "0b0b0b0b-1111-2222-3333-444444444444"

const line = (i: number) =>
  JSON.stringify({
    type: i % 2 ? "assistant" : "user",
    uuid: `u${i}`,
    parentUuid: i ? `u${i - 1}` : null,
    sessionId: SID,
    cwd: "/home/dev/cli-project",
    timestamp: new Date(Date.UTC(2026, 10, 1, 10, 0, i)).toISOString(),
    requestId: `req_${i}`,
    message:
      i % 2
        ? {
            id: `msg_${i}`,
            role: "assistant",
            model: "claude-sonnet-4-5-20250929",
            content: [{ type: "text", text: `answer ${i}` }],
            usage: { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 100 },
          }
        : { role: "user", content: `question ${i}` },
  })

// Users run the bundle (`npm start`); developers run the sources. Both must behave the same,
// including finding the embedded server's worker beside them.
describe.each([
  ["bundled", OVERLORD_BIN],
  ["from source", OVERLORD_SOURCE_BIN],
])("overlord CLI, %s", (_, BIN) => {
  let root: string
  let home: string
  let claudeDir: string
  let sessionFile: string
  const overlord = (...args: string[]) => {
    const r = spawnSync("bun", [BIN, "--home", home, ...args], { encoding: "utf8", timeout: 60_000 })
    return { code: r.status, out: r.stdout, err: r.stderr }
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "overlord-cli-"))
    home = join(root, "home")
    claudeDir = join(root, "claude")
    const project = join(claudeDir, "projects", "-home-dev-cli-project")
    await mkdir(project, { recursive: true })
    sessionFile = join(project, `${SID}.jsonl`)
    await writeFile(sessionFile, `${Array.from({ length: 6 }, (_, i) => line(i)).join("\n")}\n`)
  })

  afterAll(async () => {
    overlord("stop")
    await rm(root, { recursive: true, force: true })
  })

  it("status says not running before start", () => {
    const r = overlord("status", "--json")
    expect(r.code).toBe(0)
    expect(JSON.parse(r.out)).toMatchObject({ running: false, connected: false })
  })

  it("start detaches, prints the dashboard URL and syncs", async () => {
    const r = overlord("start", "--claude-dir", claudeDir, "--port", "0")
    expect(r.code, r.err).toBe(0)
    expect(r.out).toMatch(/Dashboard: http:\/\/127\.0\.0\.1:\d+\/auth\?token=ovl_/)
    const deadline = Date.now() + 30_000
    let status: { running: boolean; connected: boolean; bytesPending: number; filesTracked: number } | null = null
    while (Date.now() < deadline) {
      status = JSON.parse(overlord("status", "--json").out)
      if (status?.connected && status.bytesPending === 0 && status.filesTracked === 1) break
      await Bun.sleep(200)
    }
    expect(status).toMatchObject({ running: true, connected: true, bytesPending: 0, filesTracked: 1 })
    expect(overlord("start", "--claude-dir", claudeDir).err).toMatch(/already running/)
  })

  it("sessions lists the session with its totals", () => {
    const r = overlord("sessions", "--json")
    expect(r.code, r.err).toBe(0)
    const [s] = JSON.parse(r.out) as { sessionId: string; cwd: string; entryCount: number; usage: { input: number } }[]
    expect(s).toMatchObject({ sessionId: SID, cwd: "/home/dev/cli-project", entryCount: 6 })
    expect(s!.usage.input).toBe(30)
    expect(overlord("sessions").out).toContain(SID)
  })

  it("export writes the file byte for byte", async () => {
    const out = join(root, "exported.jsonl")
    expect(overlord("export", SID, "-o", out).code).toBe(0)
    expect(await readFile(out)).toEqual(await readFile(sessionFile))
    const missing = overlord("export", "no-such-session")
    expect(missing.code).toBe(1)
    expect(missing.err).toMatch(/no session no-such-session/)
  })

  it("open mints a fresh one-time sign-in link", () => {
    const r = overlord("open")
    expect(r.code, r.err).toBe(0)
    expect(r.out).toMatch(/auth\?token=ovl_/)
  })

  it("doctor finds the session folder and checks the credentials' permissions", () => {
    const r = overlord("doctor", "--claude-dir", claudeDir)
    expect(r.out).toMatch(/1 projects, 1 session files/)
    expect(r.out).toMatch(/credentials\.json is private/)
    const bad = overlord("doctor", "--claude-dir", join(root, "nowhere"))
    expect(bad.code).toBe(1)
    expect(bad.out).toMatch(/does not exist/)
  })

  it("stop stops it and status says so", () => {
    expect(overlord("stop").out).toMatch(/stopped/)
    expect(JSON.parse(overlord("status", "--json").out)).toMatchObject({ running: false })
  })

  it("start repairs a line log cut short while stopped (a power cut), logs it, and syncs the lines again", async () => {
    const log = join(home, "data", "overlord.db-lines")
    const size = (await stat(log)).size
    await truncate(log, Math.floor(size / 2))
    const r = overlord("start", "--claude-dir", claudeDir, "--port", "0")
    expect(r.code, r.err).toBe(0)
    const exported = join(root, "repaired.jsonl")
    const source = await readFile(sessionFile)
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      if (overlord("export", SID, "-o", exported).code === 0 && (await readFile(exported)).equals(source)) break
      await Bun.sleep(200)
    }
    expect(await readFile(exported)).toEqual(source)
    expect(await readFile(join(home, "logs", "overlord.log"), "utf8")).toMatch(/store: line log .* rolled back/)
    const [s] = JSON.parse(overlord("sessions", "--json").out) as { entryCount: number; usage: { input: number } }[]
    expect(s).toMatchObject({ entryCount: 6, usage: { input: 30 } })
    expect(overlord("stop").out).toMatch(/stopped/)
  })
})
