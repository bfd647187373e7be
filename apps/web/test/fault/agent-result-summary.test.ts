/**
 * Found in walkthrough 3 (a real Claude Code subagent, run against the fake Anthropic API): the Agent
 * call's summary read "1 tool uses · 44,474 tokens · 0 s" for a subagent that ran 252 ms.
 */
import { createElement } from "react"
import { renderToString } from "react-dom/server"
import { describe, expect, it } from "vitest"
import { EntryView } from "../../src/components/EntryView.tsx"
import { TranscriptContext } from "../../src/components/transcript-context.ts"
import { pairTools } from "../../src/pairing.ts"
import { readLine } from "../../src/records.ts"

const env = { parentUuid: null, isSidechain: false, sessionId: "s1", cwd: "/repo", version: "2.1.330" }
const line = (record: object) =>
  JSON.stringify({ ...env, uuid: crypto.randomUUID(), timestamp: "2026-12-06T22:27:55.000Z", ...record })

const render = (toolUseResult: object): string => {
  const lines = [
    line({
      type: "assistant",
      message: {
        id: "msg_1",
        role: "assistant",
        model: "claude-opus-4-6",
        content: [
          { type: "tool_use", id: "toolu_a", name: "Agent", input: { description: "Look around", prompt: "p" } },
        ],
      },
    }),
    line({
      type: "user",
      message: { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_a", content: "done" }] },
      toolUseResult,
    }),
  ]
  const rows = lines.map((l, i) => ({
    entry: { seq: i + 1, fileKey: "main", agentId: null, lineNo: i, byteOffset: 0, kind: "x", line: l },
    record: readLine(l),
  }))
  const pairs = pairTools(rows.map((r) => ({ seq: r.entry.seq, record: r.record })))
  const ctx = { sessionId: "s1", pairs, onAgentEntries: () => () => undefined, depth: 0, showBookkeeping: false }
  return renderToString(
    createElement(
      TranscriptContext.Provider,
      { value: ctx },
      rows.map((r) => createElement(EntryView, { key: r.entry.seq, entry: r.entry, record: r.record })),
    ),
  ).replaceAll("<!-- -->", "")
}

describe("an Agent call's summary line", () => {
  it("counts one tool use as one, and a run under a second in milliseconds", () => {
    const html = render({ status: "completed", totalTokens: 44_474, totalDurationMs: 252, totalToolUseCount: 1 })
    expect(html).toContain("1 tool use · 44,474 tokens · 252 ms")
  })

  it("keeps the plural and reads minutes as minutes", () => {
    const html = render({ status: "completed", totalTokens: 1_200, totalDurationMs: 125_000, totalToolUseCount: 3 })
    expect(html).toContain("3 tool uses · 1,200 tokens · 2m 5s")
  })
})
