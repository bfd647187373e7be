import { readdir, readFile, stat } from "node:fs/promises"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ClaudeHome, makeClaudeHome } from "../src/claude-cli.ts"
import {
  image,
  NOTES_EDITED,
  resume,
  runScenario,
  type ScenarioRun,
  SUBAGENT_MARKER,
  slow,
  subagent,
  toolTour,
} from "../src/scenarios.ts"
import { contentBlocks, dedupUsageInDir, findJsonlFiles, type JsonRecord, readJsonl } from "../src/session-files.ts"

// Each scenario drives the real Claude Code CLI against the fake API. They run concurrently in beforeAll so the
// whole file costs about as much as the slowest scenario.

interface SlowSample {
  readonly at: number
  readonly size: number
}

const runs = new Map<string, ScenarioRun>()
const resumeLinesAfterFirstRun: number[] = []
const slowSamples: SlowSample[] = []
const ownHomes: ClaudeHome[] = []
const slowMidRun: number[] = []

const blocksOfType = (records: readonly JsonRecord[], type: string) =>
  records.flatMap((r) =>
    contentBlocks(r)
      .filter((b) => b.type === type)
      .map((b) => ({ record: r, block: b })),
  )

const mainRecords = async (run: ScenarioRun) => {
  expect(run.sessionFile).toBeDefined()
  return readJsonl(run.sessionFile ?? "")
}

const expectCleanRun = (run: ScenarioRun) => {
  for (const r of run.runs) {
    expect(r.timedOut, r.stderr).toBe(false)
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.result?.subtype).toBe("success")
  }
  expect(run.fake.errors).toEqual([])
}

const expectDedupTotals = async (run: ScenarioRun) => {
  const totals = await dedupUsageInDir(join(run.home.configDir, "projects"))
  const { responses, ...tokens } = totals
  expect(tokens).toEqual(run.scenario.expected)
  const answered = run.fake.requests.filter((r) => r.kind === "main" || r.kind === "agent").length
  expect(responses).toBe(answered)
}

async function sampleWhile(dir: string, done: () => boolean): Promise<void> {
  while (!done()) {
    const files = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith(".jsonl"))
    const size = files[0] ? (await stat(join(dir, files[0]))).size : 0
    slowSamples.push({ at: Date.now(), size })
    await new Promise((r) => setTimeout(r, 100))
  }
}

beforeAll(async () => {
  const resumeHome = await makeClaudeHome()
  const slowHome = await makeClaudeHome()
  ownHomes.push(resumeHome, slowHome)
  let slowDone = false
  await Promise.all([
    runScenario(toolTour).then((r) => runs.set("toolTour", r)),
    runScenario(subagent).then((r) => runs.set("subagent", r)),
    runScenario(image).then((r) => runs.set("image", r)),
    runScenario(resume, {
      home: resumeHome,
      afterRun: async (run, i) => {
        if (i === 0 && run.sessionId)
          resumeLinesAfterFirstRun.push(
            (await readJsonl(join(resumeHome.sessionsDir, `${run.sessionId}.jsonl`))).length,
          )
      },
    }).then((r) => runs.set("resume", r)),
    Promise.all([
      runScenario(slow(4, 700), {
        home: slowHome,
        onStarted: ({ fake }) => {
          void fake.waitForMainTurns(2).then(async () => {
            // Claude Code batches appends every ~100 ms; give the second answer time to land.
            await new Promise((r) => setTimeout(r, 300))
            const files = await findJsonlFiles(slowHome.sessionsDir)
            slowMidRun.push((await readJsonl(files[0] ?? "")).filter((r) => r.type === "assistant").length)
          })
        },
      }).finally(() => {
        slowDone = true
      }),
      sampleWhile(slowHome.sessionsDir, () => slowDone),
    ]).then(([r]) => runs.set("slow", r)),
  ])
}, 90_000)

afterAll(async () => {
  for (const r of runs.values()) await r.dispose()
  for (const h of ownHomes) await h.cleanup()
})

const get = (name: string): ScenarioRun => {
  const r = runs.get(name)
  if (!r) throw new Error(`scenario ${name} did not run`)
  return r
}

describe("toolTour", () => {
  it("writes a session file in <configDir>/projects/<encoded cwd>/ named by the session id", async () => {
    const run = get("toolTour")
    expectCleanRun(run)
    expect(run.home.sessionsDir).toBe(
      join(run.home.configDir, "projects", run.home.projectDir.replace(/[^a-zA-Z0-9]/g, "-")),
    )
    expect(await findJsonlFiles(run.home.sessionsDir)).toEqual([run.sessionFile])
    const records = await mainRecords(run)
    expect(records.every((r) => r.sessionId === undefined || r.sessionId === run.sessionId)).toBe(true)
  })

  it("pairs every tool_use with a tool_result and records thinking, ANSI output, the Edit patch and todos", async () => {
    const run = get("toolTour")
    const records = await mainRecords(run)
    const uses = blocksOfType(records, "tool_use")
    const results = blocksOfType(records, "tool_result")
    expect(uses.map((u) => u.block.name)).toEqual(["Bash", "Write", "Read", "Edit", "ToolSearch", "TodoWrite"])
    expect(results.map((r) => r.block.tool_use_id)).toEqual(uses.map((u) => u.block.id))
    expect(results.every((r) => r.block.is_error !== true)).toBe(true)

    const thinking = blocksOfType(records, "thinking")
    expect(thinking).toHaveLength(1)
    expect(thinking[0]?.block.signature).toEqual(expect.any(String))

    const bash = results[0]?.record.toolUseResult as { stdout: string }
    expect(bash.stdout).toContain("\u001b[32mgreen\u001b[0m")
    const edit = results[3]?.record.toolUseResult as { structuredPatch: Array<{ lines: string[] }> }
    expect(edit.structuredPatch[0]?.lines).toEqual([" alpha", "-beta", "+BETA (edited)", " gamma"])
    expect(await readFile(join(run.home.projectDir, "notes.txt"), "utf8")).toBe(NOTES_EDITED)
    const todos = results[5]?.record.toolUseResult as { newTodos: unknown[] }
    expect(todos.newTodos).toHaveLength(3)
  })

  it("splits a multi-block response into records sharing message.id and requestId", async () => {
    const records = await mainRecords(get("toolTour"))
    const assistant = records.filter((r) => r.type === "assistant")
    const firstId = (assistant[0]?.message as { id: string } | undefined)?.id
    const first = assistant.filter((r) => (r.message as { id: string }).id === firstId)
    expect(first.map((r) => contentBlocks(r)[0]?.type)).toEqual(["thinking", "text", "tool_use"])
    expect(new Set(first.map((r) => r.requestId)).size).toBe(1)
    expect(first[0]?.requestId).toMatch(/^req_/)
  })

  it("dedup totals from the files equal the script's totals", async () => {
    await expectDedupTotals(get("toolTour"))
  })
})

describe("subagent", () => {
  it("writes <sid>/subagents/agent-*.jsonl linked to the parent's Agent tool result", async () => {
    const run = get("subagent")
    expectCleanRun(run)
    const agentDir = join(run.home.sessionsDir, run.sessionId ?? "", "subagents")
    const agentFiles = (await readdir(agentDir)).filter((f) => /^agent-a[0-9a-f]+\.jsonl$/.test(f))
    expect(agentFiles).toHaveLength(1)
    const agentId = agentFiles[0]?.slice("agent-".length, -".jsonl".length)
    const agentRecords = await readJsonl(join(agentDir, agentFiles[0] ?? ""))
    expect(agentRecords.filter((r) => r.type === "user" || r.type === "assistant").every((r) => r.isSidechain)).toBe(
      true,
    )
    expect(agentRecords.every((r) => r.sessionId === undefined || r.sessionId === run.sessionId)).toBe(true)
    expect(blocksOfType(agentRecords, "tool_use").map((u) => u.block.name)).toEqual(["Bash"])
    const first = agentRecords.find((r) => r.type === "user")
    expect(JSON.stringify(first?.message)).toContain(SUBAGENT_MARKER)

    const parent = await mainRecords(run)
    const agentResult = blocksOfType(parent, "tool_result")[0]?.record.toolUseResult as {
      agentId: string
      status: string
    }
    expect(agentResult).toMatchObject({ agentId, status: "completed" })
  })

  it("dedup totals over parent and agent files equal the script's totals", async () => {
    await expectDedupTotals(get("subagent"))
  })
})

describe("image", () => {
  it("stores the Read image as a base64 block in the tool result", async () => {
    const run = get("image")
    expectCleanRun(run)
    const records = await mainRecords(run)
    const result = blocksOfType(records, "tool_result")[0]
    const content = result?.block.content as Array<{ type: string; source?: { type: string; data: string } }>
    const img = content.find((c) => c.type === "image")
    expect(img?.source?.type).toBe("base64")
    expect(
      Buffer.from(img?.source?.data ?? "", "base64")
        .subarray(1, 4)
        .toString(),
    ).toBe("PNG")
    await expectDedupTotals(run)
  })
})

describe("resume", () => {
  it("appends the resumed run to the same file under the same session id", async () => {
    const run = get("resume")
    expectCleanRun(run)
    expect(run.runs).toHaveLength(2)
    expect(run.runs[1]?.sessionId).toBe(run.sessionId)
    expect(await findJsonlFiles(run.home.sessionsDir)).toEqual([run.sessionFile])
    const records = await mainRecords(run)
    expect(records.length).toBeGreaterThan(resumeLinesAfterFirstRun[0] ?? Number.POSITIVE_INFINITY)
    const prompts = records
      .filter((r) => r.type === "user" && typeof (r.message as { content: unknown }).content === "string")
      .map((r) => (r.message as { content: string }).content)
    expect(prompts).toEqual(run.scenario.prompts)
    expect(records.every((r) => r.sessionId === undefined || r.sessionId === run.sessionId)).toBe(true)
    await expectDedupTotals(run)
  })
})

describe("slow", () => {
  it("grows the session file step by step over several seconds", async () => {
    const run = get("slow")
    expectCleanRun(run)
    const sizes = slowSamples.map((s) => s.size)
    const growth = sizes.filter((s, i) => i > 0 && s > (sizes[i - 1] ?? 0)).length
    expect(growth).toBeGreaterThanOrEqual(4)
    // Two answers (a text and a tool_use record each) are written while later turns are still pending.
    expect(slowMidRun).toHaveLength(1)
    expect(slowMidRun[0]).toBeGreaterThanOrEqual(2)
    expect(slowMidRun[0]).toBeLessThan(9)
    const finalAssistant = (await mainRecords(run)).filter((r) => r.type === "assistant").length
    expect(finalAssistant).toBe(9)
    const nonEmpty = slowSamples.filter((s) => s.size > 0)
    expect((nonEmpty.at(-1)?.at ?? 0) - (nonEmpty[0]?.at ?? 0)).toBeGreaterThan(2000)
    await expectDedupTotals(run)
  })
})
