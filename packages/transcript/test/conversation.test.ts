import { describe, expect, it } from "vitest"
import { buildConversation, parseLine, sessionTitle, sessionTitleWithSource } from "../src/index.ts"
import { assistantLine, line, systemLine, text, toolResult, toolUse, userLine } from "./samples.ts"

const build = (lines: string[], fileKey = "p/s.jsonl") =>
  buildConversation(lines.map((l, i) => ({ record: parseLine(l), fileKey, lineNo: i })))

const ts = (second: number) => `2026-02-01T10:00:${String(second).padStart(2, "0")}.000Z`

describe("buildConversation", () => {
  it("builds a linear thread and ignores non-chain records", () => {
    const c = build([
      line({ type: "summary", summary: "x", leafUuid: "a1" }),
      userLine("u1", null, "hi", ts(0)),
      line({ type: "file-history-snapshot", messageId: "u1", snapshot: {} }),
      assistantLine("a1", "u1", text("hello"), ts(1)),
      line({ type: "custom-title", customTitle: "t", sessionId: "s" }),
      "{broken",
    ])
    expect([...c.nodes.keys()]).toEqual(["u1", "a1"])
    expect(c.nodes.get("u1")?.children).toEqual(["a1"])
    expect(c.roots).toEqual(["u1"])
    expect(c.leaves).toEqual(["a1"])
    expect(c.mainThread).toEqual(["u1", "a1"])
    expect(c.branchCount).toBe(1)
    expect(c.nodes.get("a1")).toMatchObject({ fileKey: "p/s.jsonl", lineNo: 3 })
  })

  it("re-attaches parallel tool results (a DAG) to the main thread and pairs them by tool_use id", () => {
    // 2.1.x: three tool_use blocks of one response, each result's parent is its own tool_use record.
    const opts = { messageId: "msg_P", requestId: "req_P" }
    const c = build([
      userLine("u1", null, "read three files", ts(0)),
      assistantLine("a1", "u1", toolUse("t1", "Read", { file_path: "/a" }), ts(1), opts),
      assistantLine("a2", "a1", toolUse("t2", "Read", { file_path: "/b" }), ts(1), opts),
      assistantLine("a3", "a2", toolUse("t3", "Read", { file_path: "/c" }), ts(1), opts),
      userLine("r1", "a1", [toolResult("t1", "A")], ts(2), {
        toolUseResult: { type: "text", file: { filePath: "/a" } },
      }),
      userLine("r2", "a2", [toolResult("t2", "B")], ts(2)),
      userLine("r3", "a3", [toolResult("t3", "C", true)], ts(2), { toolUseResult: "Error: File does not exist." }),
      assistantLine("a4", "r3", text("done"), ts(3)),
    ])
    expect([...c.leaves].sort()).toEqual(["a4", "r1", "r2"])
    expect(c.mainLeaf).toBe("a4")
    expect(c.branchCount).toBe(1)
    expect(c.mainThread).toEqual(["u1", "a1", "r1", "a2", "r2", "a3", "r3", "a4"])
    expect(c.toolCalls.get("t1")).toMatchObject({
      name: "Read",
      useUuid: "a1",
      resultUuid: "r1",
      toolUseResult: { type: "text", file: { filePath: "/a" } },
    })
    expect(c.toolCalls.get("t3")).toMatchObject({ resultUuid: "r3", toolUseResult: "Error: File does not exist." })
    expect(c.toolCalls.get("t3")?.result?.isError).toBe(true)
  })

  it("keeps a pending parallel tool_use at the end of the main thread, not as a branch", () => {
    const opts = { messageId: "msg_P", requestId: "req_P" }
    const c = build([
      userLine("u1", null, "go", ts(0)),
      assistantLine("a1", "u1", toolUse("t1", "Bash", {}), ts(1), opts),
      assistantLine("a2", "a1", toolUse("t2", "Bash", {}), ts(1), opts),
      userLine("r1", "a1", [toolResult("t1", "ok")], ts(2)),
    ])
    expect(c.mainLeaf).toBe("r1")
    // The other block follows its parent, as it was written: before the result that ends the file.
    expect(c.mainThread).toEqual(["u1", "a1", "a2", "r1"])
    expect(c.branchCount).toBe(1)
    expect(c.toolCalls.get("t2")?.result).toBeNull()
  })

  it("stitches a compaction through logicalParentUuid", () => {
    const c = build([
      userLine("u1", null, "long task", ts(0)),
      assistantLine("a1", "u1", text("working"), ts(1)),
      systemLine("b1", null, "compact_boundary", {
        logicalParentUuid: "a1",
        content: "Conversation compacted",
        compactMetadata: { trigger: "auto", preTokens: 155_000 },
      }),
      userLine(
        "cs",
        "b1",
        "This session is being continued from a previous conversation that ran out of context.",
        ts(5),
        {
          isCompactSummary: true,
          isVisibleInTranscriptOnly: true,
        },
      ),
      userLine("u2", "cs", "continue", ts(6)),
      assistantLine("a2", "u2", text("ok"), ts(7)),
    ])
    expect(c.roots).toEqual(["u1", "b1"])
    expect(c.nodes.get("a1")?.logicalChildren).toEqual(["b1"])
    // a1 has no physical child but is not a leaf: the boundary continues it.
    expect(c.leaves).toEqual(["a2"])
    expect(c.mainThread).toEqual(["u1", "a1", "b1", "cs", "u2", "a2"])
    expect(c.compactions).toEqual([
      { uuid: "b1", logicalParentUuid: "a1", trigger: "auto", preTokens: 155_000, summaryUuid: "cs" },
    ])
    expect(c.branchCount).toBe(1)
  })

  it("survives parent cycles and self-references", () => {
    const c = build([
      userLine("x", "z", "a", ts(0)),
      assistantLine("y", "x", text("b"), ts(1)),
      userLine("z", "y", "c", ts(2)),
      userLine("self", "self", "d", ts(3)),
    ])
    expect(c.cycles.length).toBeGreaterThan(0)
    expect(c.cycles).toContain("self")
    expect(c.roots).toContain("self")
    expect(c.mainLeaf).toBe("self")
    expect(c.mainThread).toEqual(["self"])
    expect(c.nodes.size).toBe(4)
  })

  it("walks a pure cycle without hanging and without repeating nodes", () => {
    const c = build([
      userLine("x", "y", "a", ts(0)),
      assistantLine("y", "x", text("b"), ts(1)),
      assistantLine("w", "y", text("c"), ts(2)),
    ])
    expect(c.mainLeaf).toBe("w")
    expect(new Set(c.mainThread).size).toBe(c.mainThread.length)
    expect(c.mainThread.at(-1)).toBe("w")
    expect(c.cycles.length).toBeGreaterThan(0)
  })

  it("counts a rewind branch and follows the newest leaf", () => {
    const c = build([
      userLine("u1", null, "start", ts(0)),
      assistantLine("a1", "u1", text("first answer"), ts(1)),
      userLine("u2", "a1", "try A", ts(2)),
      assistantLine("a2", "u2", text("A"), ts(3)),
      // /rewind to a1, then a different prompt
      userLine("u3", "a1", "try B instead", ts(10)),
      assistantLine("a3", "u3", text("B"), ts(11)),
      systemLine("s3", "a3", "turn_duration", { durationMs: 1000 }),
    ])
    expect(c.nodes.get("a1")?.children).toEqual(["u2", "u3"])
    expect(c.mainLeaf).toBe("a3")
    expect(c.mainThread).toEqual(["u1", "a1", "u3", "a3"])
    expect(c.branchLeaves).toEqual(["a3", "a2"])
    expect(c.branchCount).toBe(2)
  })

  it("deduplicates records across files (first wins) and ignores sidechain leaves for the main thread", () => {
    const original = [userLine("u1", null, "hi", ts(0)), assistantLine("a1", "u1", text("hello"), ts(1))]
    const resumed = [
      line({ type: "summary", summary: "Greeting", leafUuid: "a1" }),
      userLine("u1", null, "hi (copy)", ts(0)),
      assistantLine("a1", "u1", text("hello"), ts(1)),
      userLine("u2", "a1", "more", ts(5)),
      assistantLine("a2", "u2", text("sure"), ts(6)),
    ]
    const sidechain = [userLine("s1", null, "Warmup", ts(20), { isSidechain: true, agentId: "a86dcdc" })]
    const c = buildConversation([
      ...original.map((l, i) => ({ record: parseLine(l), fileKey: "p/old.jsonl", lineNo: i })),
      ...resumed.map((l, i) => ({ record: parseLine(l), fileKey: "p/new.jsonl", lineNo: i })),
      ...sidechain.map((l, i) => ({ record: parseLine(l), fileKey: "p/agent-a86dcdc.jsonl", lineNo: i })),
    ])
    expect(c.duplicateCount).toBe(2)
    expect(c.nodes.get("u1")?.fileKey).toBe("p/old.jsonl")
    expect(c.mainLeaf).toBe("a2")
    expect(c.mainThread).toEqual(["u1", "a1", "u2", "a2"])
    expect(c.branchCount).toBe(1)
  })

  it("links a Task/Agent tool result to the subagent by toolUseResult.agentId or the result text", () => {
    const c = buildConversation([
      { record: parseLine(userLine("u1", null, "research", ts(0))), fileKey: "p/s.jsonl" },
      {
        record: parseLine(assistantLine("a1", "u1", toolUse("t1", "Task", { prompt: "search" }), ts(1))),
        fileKey: "p/s.jsonl",
      },
      {
        record: parseLine(
          userLine("r1", "a1", [toolResult("t1", [text("found it")])], ts(9), {
            toolUseResult: { status: "completed", agentId: "a7c91f4", totalTokens: 1234 },
          }),
        ),
        fileKey: "p/s.jsonl",
      },
      {
        record: parseLine(assistantLine("a2", "r1", toolUse("t2", "Agent", { prompt: "bg" }), ts(10))),
        fileKey: "p/s.jsonl",
      },
      {
        record: parseLine(
          userLine(
            "r2",
            "a2",
            [toolResult("t2", [text("Async agent launched.\nagentId: a2018e5 (for resuming)")])],
            ts(11),
          ),
        ),
        fileKey: "p/s.jsonl",
      },
      {
        record: parseLine(userLine("c1", null, "search", ts(2), { isSidechain: true, agentId: "a7c91f4" })),
        fileKey: "p/s/subagents/agent-a7c91f4.jsonl",
      },
    ])
    expect(c.subagentLinks).toEqual([
      {
        toolUseId: "t1",
        toolName: "Task",
        useUuid: "a1",
        resultUuid: "r1",
        agentId: "a7c91f4",
        async: false,
        childFileKeys: ["p/s/subagents/agent-a7c91f4.jsonl"],
      },
      {
        toolUseId: "t2",
        toolName: "Agent",
        useUuid: "a2",
        resultUuid: "r2",
        agentId: "a2018e5",
        async: false,
        childFileKeys: [],
      },
    ])
    expect(c.mainLeaf).toBe("r2")
  })

  it("stays linear on long sessions (deep chains, many progress leaves)", () => {
    const lines: string[] = []
    let parent: string | null = null
    for (let i = 0; i < 20_000; i++) {
      const id = `n${i}`
      lines.push(i % 2 === 0 ? userLine(id, parent, `p${i}`, ts(0)) : assistantLine(id, parent, text(`a${i}`), ts(0)))
      lines.push(line({ type: "progress", uuid: `p${i}`, parentUuid: id, data: { type: "hook_progress" } }))
      parent = id
    }
    // No clock (the project asserts none): a quadratic walk over these 40,000 lines takes minutes and
    // fails on the test's timeout; a recursive one overflows the stack on a 20,000-deep chain.
    const c = build(lines)
    expect(c.mainThread).toHaveLength(20_000)
    expect(c.mainLeaf).toBe("n19999")
    expect(c.branchCount).toBe(1)
  })

  it("handles empty and record-less input", () => {
    const c = build(["", "{bad", line({ type: "summary", summary: "x" })])
    expect(c.nodes.size).toBe(0)
    expect(c.mainLeaf).toBeNull()
    expect(c.mainThread).toEqual([])
    expect(c.branchCount).toBe(0)
  })
})

describe("sessionTitle", () => {
  const prompt = userLine("u1", null, "first real prompt", ts(0))
  const meta = userLine(
    "m",
    null,
    "<local-command-caveat>Caveat: The messages below were generated</local-command-caveat>",
    ts(0),
    {
      isMeta: true,
    },
  )
  const summary = line({ type: "summary", summary: "Summary title", leafUuid: "u1" })
  const ai = (t: string) => line({ type: "ai-title", aiTitle: t, sessionId: "s" })
  const custom = (t: string) => line({ type: "custom-title", customTitle: t, sessionId: "s" })
  const titleOf = (lines: string[]) => sessionTitleWithSource(lines.map(parseLine))

  it("prefers custom over AI over summary over first prompt; last custom/AI title wins", () => {
    expect(titleOf([meta, prompt, summary, ai("AI one"), custom("Mine"), ai("AI two"), custom("Mine v2")])).toEqual({
      title: "Mine v2",
      source: "custom-title",
    })
    expect(titleOf([prompt, ai("AI one"), summary, ai("AI two")])).toEqual({ title: "AI two", source: "ai-title" })
    expect(titleOf([prompt, summary])).toEqual({ title: "Summary title", source: "summary" })
    expect(titleOf([meta, prompt, userLine("u2", "u1", "second prompt")])).toEqual({
      title: "first real prompt",
      source: "first-prompt",
    })
    expect(sessionTitle([meta].map(parseLine))).toBeNull()
    expect(sessionTitle([custom("   "), prompt].map(parseLine))).toBe("first real prompt")
  })
})
