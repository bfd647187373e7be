/**
 * End to end with the real Claude Code CLI (against the scripted fake Anthropic API): sessions with
 * tool calls, a subagent, an image, a resumed session and a slowly growing one are written while
 * `overlord start` runs; the server ends with exactly the bytes on disk and the expected usage.
 */
import { mkdir, readFile, rm } from "node:fs/promises"
import { join, relative } from "node:path"
import type { Api } from "@overlord/protocol"
import { type ClaudeHome, encodeProjectDir, makeClaudeHome } from "@overlord/testkit/claude-cli"
import { type OverlordCredentials, type OverlordProcess, startOverlord } from "@overlord/testkit/overlord-process"
import {
  EXPECTED_TOTALS,
  image,
  resume,
  runScenario,
  type ScenarioRun,
  slow,
  subagent,
  toolTour,
} from "@overlord/testkit/scenarios"
import { findJsonlFiles } from "@overlord/testkit/session-files"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

describe("real Claude Code sessions sync exactly", () => {
  let claude: ClaudeHome
  let overlordHome: string
  let daemon: OverlordProcess
  let creds: OverlordCredentials
  const runs: Record<string, ScenarioRun> = {}

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${creds.serverUrl}/api/v1${path}`, {
      headers: { authorization: `Bearer ${creds.apiToken}` },
    })
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
    return (await res.json()) as T
  }
  const exportFile = async (sessionId: string, fileKey: string) => {
    const res = await fetch(
      `${creds.serverUrl}/api/v1/sessions/${sessionId}/export?file=${encodeURIComponent(fileKey)}`,
      { headers: { authorization: `Bearer ${creds.apiToken}` } },
    )
    return res.ok ? new Uint8Array(await res.arrayBuffer()) : null
  }

  /** A project folder of its own for each scenario, all under one Claude config dir. */
  const projectHome = async (name: string): Promise<ClaudeHome> => {
    const projectDir = join(claude.configDir, "..", name)
    await mkdir(projectDir, { recursive: true })
    return {
      ...claude,
      projectDir,
      sessionsDir: join(claude.configDir, "projects", encodeProjectDir(projectDir)),
      cleanup: async () => {},
    }
  }

  beforeAll(async () => {
    claude = await makeClaudeHome("overlord-e2e-")
    overlordHome = join(claude.configDir, "..", "overlord-home")
    daemon = startOverlord(overlordHome, claude.configDir)
    creds = await daemon.credentials()
    // Everything below happens while the daemon runs: live sync, not a one-off import.
    const scenarios = { toolTour, subagent, image, resume, slow: slow(5, 300) }
    await Promise.all(
      Object.entries(scenarios).map(async ([name, factory]) => {
        runs[name] = await runScenario(factory, { home: await projectHome(name), timeoutMs: 90_000 })
      }),
    )
    for (const [name, run] of Object.entries(runs)) {
      expect(
        run.runs.every((r) => r.exitCode === 0),
        `${name}: ${run.runs.map((r) => r.stderr).join("\n")}`,
      ).toBe(true)
      expect(run.fake.errors, name).toEqual([])
    }
  }, 240_000)

  afterAll(async () => {
    daemon?.stop()
    await Promise.all(Object.values(runs).map((r) => r.dispose()))
    await rm(join(claude.configDir, ".."), { recursive: true, force: true })
  })

  it("stores every line of every session file once, byte for byte", async () => {
    const projects = join(claude.configDir, "projects")
    const files = await findJsonlFiles(projects)
    expect(files.length).toBeGreaterThanOrEqual(6)
    let behind = ""
    await waitFor(
      "every file to be synced",
      async () => {
        for (const path of files) {
          const fileKey = relative(projects, path)
          const sessionId = fileKey.split("/")[1]!.replace(/\.jsonl$/, "")
          const stored = await exportFile(sessionId, fileKey)
          const disk = await readFile(path)
          if (!stored || !Buffer.from(stored).equals(disk)) {
            behind = `${fileKey}: ${stored?.length ?? "nothing"} bytes stored, ${disk.length} on disk`
            return false
          }
        }
        return true
      },
      60_000,
    ).catch(async (e) => {
      const state = await readFile(join(overlordHome, "daemon-state.json"), "utf8").catch(() => "")
      throw new Error(`${String(e)}\n${behind}\ndaemon state: ${state}\ndaemon output:\n${daemon.output()}`)
    })
    for (const path of files) {
      const fileKey = relative(projects, path)
      const sessionId = fileKey.split("/")[1]!.replace(/\.jsonl$/, "")
      const detail = await api<Api.SessionDetail>(`/sessions/${sessionId}`)
      const file = detail.files.find((f) => f.fileKey === fileKey)!
      const lines = (await readFile(path, "utf8"))
        .split("\n")
        .filter((_, i, all) => i < all.length - 1 || all[i] !== "")
      expect(file.entryCount, fileKey).toBe(lines.length)
    }
    // Longer than the wait above, so a failure reports which file is behind instead of timing out.
  }, 90_000)

  it("links the subagent transcript to its parent session", async () => {
    const detail = await api<Api.SessionDetail>(`/sessions/${runs.subagent!.sessionId}`)
    const agents = detail.files.filter((f) => f.agentId !== null)
    expect(agents.length).toBeGreaterThanOrEqual(1)
    expect(detail.session.subagentCount).toBe(agents.length)
    const page = await api<Api.EntryPage>(`/sessions/${runs.subagent!.sessionId}/entries?agent=${agents[0]!.agentId}`)
    expect(page.entries.length).toBeGreaterThan(0)
  })

  it("keeps a resumed session in one transcript", async () => {
    const run = runs.resume!
    expect(run.runs).toHaveLength(2)
    expect(run.runs[1]!.sessionId).toBe(run.sessionId)
    const page = await api<Api.EntryPage>(`/sessions/${run.sessionId}/entries?limit=1000`)
    const prompts = run.scenario.prompts
    const text = page.entries.map((e) => e.line).join("\n")
    for (const p of prompts) expect(text).toContain(p)
  })

  it("counts deduplicated usage exactly as the API was billed", async () => {
    for (const name of ["toolTour", "subagent", "image", "resume"] as const) {
      const detail = await api<Api.SessionDetail>(`/sessions/${runs[name]!.sessionId}`)
      const expected = EXPECTED_TOTALS[name]
      expect(detail.session.usage, name).toMatchObject({
        input: expected.input,
        output: expected.output,
        cacheWrite: expected.cacheWrite,
        cacheRead: expected.cacheRead,
      })
      // Claude Code 2.1.330's default model is Opus 5.5: $4 in, $20 out, $5 5m-write, $0.20 read per MTok.
      expect(detail.session.models).toEqual(["claude-opus-5-5"])
      const usd = (expected.input * 4 + expected.output * 20 + expected.cacheWrite * 5 + expected.cacheRead * 0.2) / 1e6
      expect(detail.session.usage.costUsd).toBeCloseTo(usd, 9)
    }
  })

  it("reports a healthy, fully synced daemon", async () => {
    const state = await waitFor("bytesPending 0", async () => {
      const s = JSON.parse(await readFile(join(overlordHome, "daemon-state.json"), "utf8")) as {
        connected: boolean
        bytesPending: number
        filesTracked: number
      }
      return s.connected && s.bytesPending === 0 ? s : null
    })
    expect(state.filesTracked).toBeGreaterThanOrEqual(6)
  })
})
