/**
 * The single executable (`npm run build:binary`, scripts/build-binary.ts) on a machine without Bun
 * or Node: its PATH holds nothing but the executable, and its environment nothing but PATH and
 * HOME. It starts detached with its embedded server (a worker inside the executable), syncs a
 * session, exports it byte for byte, serves the dashboard embedded in it, and stops. Every folder
 * has a space in its name.
 */
import { type SpawnSyncReturns, spawnSync } from "node:child_process"
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildBinary } from "../../../scripts/build-binary.ts"
import { DAEMON_VERSION } from "../src/sync-engine.ts"

const SID = "5e5e5e5e-1111-2222-3333-444444444444"
const WEB_DIST = fileURLToPath(new URL("../../web/dist", import.meta.url))

const line = (i: number) =>
  JSON.stringify({
    type: i % 2 ? "assistant" : "user",
    uuid: `b${i}`,
    parentUuid: i ? `b${i - 1}` : null,
    sessionId: SID,
    cwd: "/home/dev/binary project",
    timestamp: new Date(Date.UTC(2026, 11, 1, 9, 0, i)).toISOString(),
    message:
      i % 2
        ? { role: "assistant", content: [{ type: "text", text: `réponse ${i}` }] }
        : { role: "user", content: `q ${i}` },
  })

describe("the single executable, with nothing else on PATH", () => {
  let root: string
  let binDir: string
  let binary: string
  let home: string
  let claudeDir: string
  let sessionFile: string

  const overlord = (...args: string[]): SpawnSyncReturns<string> =>
    spawnSync(binary, ["--home", home, ...args], {
      encoding: "utf8",
      timeout: 60_000,
      // What `env -i PATH=<only the binary> HOME=<tmp>` gives it: no bun, no node, no other variable.
      env: { PATH: binDir, HOME: join(root, "user home") },
    })

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "overlord binary "))
    binDir = join(root, "bin dir")
    binary = join(binDir, "overlord")
    home = join(root, "overlord home")
    claudeDir = join(root, "claude dir")
    await mkdir(join(root, "user home"), { recursive: true })
    const project = join(claudeDir, "projects", "-home-dev-binary-project")
    await mkdir(project, { recursive: true })
    sessionFile = join(project, `${SID}.jsonl`)
    await writeFile(sessionFile, `${Array.from({ length: 8 }, (_, i) => line(i)).join("\n")}\n`)
    // Measured on the 2-core dev machine: ~0.5 s to compile (the dashboard, when already built,
    // adds nothing; a fresh vite build ~10-30 s), so the whole test takes seconds, not minutes.
    await buildBinary(binary)
  }, 300_000)

  afterAll(async () => {
    if (binary) overlord("stop")
    await rm(root, { recursive: true, force: true })
  })

  it("is alone on its PATH and runs there", async () => {
    expect(await readdir(binDir)).toEqual(["overlord"])
    expect(spawnSync("bun", ["--version"], { env: { PATH: binDir } }).error).toMatchObject({ code: "ENOENT" })
    const r = overlord("--version")
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe(DAEMON_VERSION)
  })

  it("starts detached, syncs, exports byte for byte and serves the embedded dashboard", async () => {
    const started = overlord("start", "--claude-dir", claudeDir, "--port", "0")
    expect(started.status, `${started.stdout}${started.stderr}`).toBe(0)
    expect(started.stdout).toMatch(/overlord started \(pid \d+\)/)

    const status = await waitFor(
      "the session synced",
      () => {
        const s = JSON.parse(overlord("status", "--json").stdout) as {
          running: boolean
          connected: boolean
          filesTracked: number
          bytesPending: number
          serverUrl: string
        }
        return s.connected && s.filesTracked === 1 && s.bytesPending === 0 ? s : null
      },
      30_000,
    )
    expect(status.running).toBe(true)

    const exported = join(root, "exported.jsonl")
    const ex = overlord("export", SID, "-o", exported)
    expect(ex.status, ex.stderr).toBe(0)
    expect(await readFile(exported)).toEqual(await readFile(sessionFile))

    // The dashboard, read from inside the executable: the same bytes as apps/web/dist.
    const index = await fetch(`${status.serverUrl}/`)
    expect(index.status).toBe(200)
    expect(await index.text()).toBe(await readFile(join(WEB_DIST, "index.html"), "utf8"))
    const asset = (await readdir(join(WEB_DIST, "assets"))).find((f) => f.endsWith(".js"))
    const served = await fetch(`${status.serverUrl}/assets/${asset}`)
    expect(served.status).toBe(200)
    expect(served.headers.get("content-type")).toBe("text/javascript; charset=utf-8")
    expect(Buffer.from(await served.arrayBuffer())).toEqual(await readFile(join(WEB_DIST, "assets", `${asset}`)))

    // The checkpoint worker (the other worker inside the executable) truncates the WAL once writes
    // pause; without it the WAL would keep what the sync wrote.
    await waitFor(
      "the WAL checkpointed and truncated by the checkpoint worker",
      async () => (await stat(join(home, "data", "overlord.db-wal"))).size === 0,
      30_000,
    )
  })

  it("stops", () => {
    const r = overlord("stop")
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/stopped \(pid \d+\)/)
    expect(JSON.parse(overlord("status", "--json").stdout)).toMatchObject({ running: false })
  })

  it("service install --dry-run runs the executable itself, quoted, and writes nothing", async () => {
    const r = overlord("service", "install", "--dry-run", "--claude-dir", claudeDir)
    expect(r.status, r.stderr).toBe(0)
    if (process.platform === "darwin") {
      expect(r.stdout).toContain(`<string>${binary}</string>\n    <string>start</string>`)
    } else {
      const execStart = r.stdout.split("\n").find((l) => l.startsWith("ExecStart="))
      expect(execStart).toBe(`ExecStart="${binary}" start --foreground --home "${home}" --claude-dir "${claudeDir}"`)
    }
    expect(await readdir(join(root, "user home"))).toEqual([])
  })
})
