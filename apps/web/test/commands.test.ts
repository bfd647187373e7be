/**
 * The Run panel's reading of a command's events, fed with what the real Claude Code CLI prints in
 * stream-json (against the scripted fake API): its `assistant`/`user` messages become the same records
 * as the session file's lines (tool calls pair with their results, the Edit's result keeps its patch),
 * and permission prompts, stderr, merges and refusals are read as the panel shows them.
 */
import type { Api } from "@overlord/protocol"
import { runScenario, toolTour } from "@overlord/testkit/scenarios"
import { contentBlocks } from "@overlord/transcript"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  commandDuration,
  isFinal,
  mergeEvents,
  outputItems,
  pendingPermissions,
  REASON_TITLES,
  sessionIdOf,
  sessionLineOf,
} from "../src/commands.ts"
import { pairTools } from "../src/pairing.ts"
import { readLine } from "../src/records.ts"

type CliMessage = Extract<Api.CommandEventDto["event"], { kind: "cli" }>["message"]
const at = "2026-12-06T12:00:00.000Z"
const dto = (eventSeq: number, event: Api.CommandEventDto["event"]): Api.CommandEventDto => ({ eventSeq, at, event })

describe("a command's events from the real CLI", () => {
  let events: Api.CommandEventDto[] = []
  let sessionId: string | undefined
  let sessionLines: string[] = []
  let dispose: () => Promise<void> = async () => {}

  beforeAll(async () => {
    const run = await runScenario(toolTour, { timeoutMs: 90_000 })
    dispose = run.dispose
    expect(run.runs[0]?.exitCode).toBe(0)
    sessionId = run.sessionId
    events = (run.runs[0]?.messages ?? [])
      .filter((m): m is Record<string, unknown> => typeof m === "object" && m !== null && !Array.isArray(m))
      .map((message, i) => dto(i, { kind: "cli", message: message as CliMessage }))
    const { readFile } = await import("node:fs/promises")
    sessionLines = run.sessionFile ? (await readFile(run.sessionFile, "utf8")).split("\n").filter(Boolean) : []
  }, 120_000)
  afterAll(() => dispose())

  it("reads assistant and user messages as the session file's records, tools paired with their results", () => {
    const items = outputItems(events, new Map(), true)
    const entries = items.flatMap((i) => (i.type === "entry" ? [i.row] : []))
    expect(entries.length).toBeGreaterThan(8)
    expect(entries.every((r) => r.record.record.kind === "assistant" || r.record.record.kind === "user")).toBe(true)
    const pairs = pairTools(entries.map((r) => ({ seq: r.entry.seq, record: r.record })))
    const calls = [...pairs.calls.values()].map((c) => c.call.name)
    expect(calls).toEqual(expect.arrayContaining(["Bash", "Write", "Read", "Edit", "TodoWrite"]))
    // Every call has its result, and the Edit's result carries the structured patch the diff view reads.
    for (const [id] of pairs.calls) expect(pairs.results.has(id), id).toBe(true)
    const edit = [...pairs.calls.values()].find((c) => c.call.name === "Edit")
    const editResult = edit && pairs.results.get(edit.call.id)
    expect(Array.isArray((editResult?.toolUseResult as { structuredPatch?: unknown })?.structuredPatch)).toBe(true)
    // The same tool calls as the session file's own lines, in the same order.
    const fileCalls = sessionLines
      .map((l) => readLine(l))
      .flatMap((r) =>
        r.record.kind === "assistant"
          ? contentBlocks(r.record).flatMap((b) => (b.type === "tool_use" ? [b.id] : []))
          : [],
      )
    expect([...pairs.calls.keys()]).toEqual(fileCalls)
    // The start and the result are items of their own; the CLI's token estimates are not shown.
    expect(items[0]).toMatchObject({ type: "init", sessionId })
    const result = items.at(-1)
    expect(result).toMatchObject({ type: "result", isError: false })
    expect(result?.type === "result" && result.costUsd !== null && result.costUsd > 0).toBe(true)
    expect(items.some((i) => i.type === "other" && i.label.includes("thinking_tokens"))).toBe(false)
    expect(sessionIdOf(null, events)).toBe(sessionId)
  })

  it("renames stream-json's snake_case envelope to the session file's fields", () => {
    const line = sessionLineOf({ type: "user", session_id: "s1", tool_use_result: { a: 1 }, parent_tool_use_id: null })
    expect(line).toEqual({ type: "user", sessionId: "s1", toolUseResult: { a: 1 } })
  })
})

describe("permission prompts, text and merges", () => {
  const request = (requestId: string, toolUseId?: string) =>
    ({
      kind: "permission-request",
      requestId,
      toolName: "Bash",
      input: { command: "rm -rf build" },
      ...(toolUseId ? { toolUseId } : {}),
    }) as const

  it("a request is pending until answered here, withdrawn by the CLI, resolved by a result, or the command ends", () => {
    const events = [
      dto(0, request("r1", "tu1")),
      dto(1, request("r2")),
      dto(2, request("r3")),
      dto(3, { kind: "permission-cancelled", requestId: "r3" }),
      dto(4, request("r4", "tu4")),
      dto(5, {
        kind: "cli",
        message: {
          type: "user",
          message: { role: "user", content: [{ type: "tool_result", tool_use_id: "tu4", content: "ok" }] },
        },
      }),
    ]
    const items = outputItems(events, new Map([["r2", "deny"]]), false)
    const states = items.flatMap((i) => (i.type === "permission" ? [[i.request.requestId, i.state]] : []))
    expect(states).toEqual([
      ["r1", "pending"],
      ["r2", "denied"],
      ["r3", "withdrawn"],
      ["r4", "answered"],
    ])
    expect(pendingPermissions(items).map((r) => r.requestId)).toEqual(["r1"])
    expect(pendingPermissions(outputItems(events, new Map(), true))).toEqual([])
  })

  it("joins consecutive text of one stream and keeps streams apart", () => {
    const items = outputItems(
      [
        dto(0, { kind: "stderr", text: "warn: a" }),
        dto(1, { kind: "stderr", text: "nd b\n" }),
        dto(2, { kind: "stdout", text: "out" }),
      ],
      new Map(),
      false,
    )
    expect(items.map((i) => (i.type === "text" ? [i.stream, i.text] : i.type))).toEqual([
      ["stderr", "warn: and b\n"],
      ["stdout", "out"],
    ])
  })

  it("merges overlapping pages by eventSeq, each once, in order", () => {
    const a = [0, 1, 2].map((n) => dto(n, { kind: "stdout", text: String(n) }))
    const b = [2, 3, 5, 4].map((n) => dto(n, { kind: "stdout", text: `x${n}` }))
    const merged = mergeEvents(a, b)
    expect(merged.map((e) => e.eventSeq)).toEqual([0, 1, 2, 3, 4, 5])
    expect(merged[2]?.event).toEqual({ kind: "stdout", text: "2" })
    expect(mergeEvents(a, [])).toBe(a)
  })

  it("names every refusal reason and knows the final statuses", () => {
    expect(REASON_TITLES["remote-disabled"]).toMatch(/does not accept/)
    expect(REASON_TITLES["prompt-too-long"]).toMatch(/too long/i)
    expect(isFinal("running")).toBe(false)
    expect(isFinal("refused")).toBe(true)
    const c = {
      createdAt: "2026-12-06T12:00:00.000Z",
      startedAt: "2026-12-06T12:00:01.000Z",
      endedAt: "2026-12-06T12:00:04.500Z",
      status: "completed",
    } as Api.CommandSummary
    expect(commandDuration(c, 0)).toBe(3500)
  })
})
