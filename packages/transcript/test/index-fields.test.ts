import { describe, expect, it } from "vitest"
import { indexFields, parseLine, SEARCH_TEXT_MAX, searchText } from "../src/index.ts"
import { assistantLine, line, systemLine, text, toolResult, toolUse, userLine } from "./samples.ts"

describe("indexFields", () => {
  it("extracts the envelope of a chain record", () => {
    const f = indexFields(
      parseLine(
        assistantLine("a1", "u1", text("hi"), "2026-02-01T10:00:01.000Z", {
          model: "claude-opus-4-6",
          extra: { isSidechain: true, agentId: "a434715" },
        }),
      ),
    )
    expect(f).toEqual({
      kind: "assistant",
      subtype: null,
      uuid: "a1",
      parentUuid: "u1",
      logicalParentUuid: null,
      sessionId: "11111111-1111-4111-8111-111111111111",
      timestamp: "2026-02-01T10:00:01.000Z",
      isSidechain: true,
      agentId: "a434715",
      cwd: "/Users/dev/app",
      model: "claude-opus-4-6",
      isError: false,
      customTitle: null,
      aiTitle: null,
      summaryText: null,
      firstPromptText: null,
    })
  })

  it("uses the qualifier of system, attachment, progress and queue records as subtype", () => {
    expect(
      indexFields(parseLine(systemLine("s1", null, "compact_boundary", { logicalParentUuid: "a9" }))),
    ).toMatchObject({
      kind: "system",
      subtype: "compact_boundary",
      parentUuid: null,
      logicalParentUuid: "a9",
    })
    expect(indexFields(parseLine(line({ type: "attachment", attachment: { type: "queued_command" } })))).toMatchObject({
      kind: "attachment",
      subtype: "queued_command",
    })
    expect(indexFields(parseLine(line({ type: "progress", data: { type: "agent_progress" } })))).toMatchObject({
      kind: "progress",
      subtype: "agent_progress",
    })
    expect(indexFields(parseLine(line({ type: "queue-operation", operation: "popAll" })))).toMatchObject({
      kind: "queue-operation",
      subtype: "popAll",
    })
  })

  it("names metadata, unknown, malformed and blank entries by kind", () => {
    expect(indexFields(parseLine(line({ type: "custom-title", customTitle: "Mine", sessionId: "s" })))).toMatchObject({
      kind: "custom-title",
      customTitle: "Mine",
      sessionId: "s",
    })
    expect(indexFields(parseLine(line({ type: "ai-title", aiTitle: "AI" })))).toMatchObject({
      kind: "ai-title",
      aiTitle: "AI",
    })
    expect(indexFields(parseLine(line({ type: "summary", summary: "Sum" })))).toMatchObject({
      kind: "summary",
      summaryText: "Sum",
    })
    expect(indexFields(parseLine('{"type":"zzz"}')).kind).toBe("unknown")
    expect(indexFields(parseLine("{oops")).kind).toBe("malformed")
    expect(indexFields(parseLine("")).kind).toBe("blank")
  })

  it("keeps timestamps only when they are strings", () => {
    expect(indexFields(parseLine('{"type":"user","timestamp":1770861120777}')).timestamp).toBeNull()
    expect(indexFields(parseLine('{"type":"user","timestamp":"<TIMESTAMP>"}')).timestamp).toBe("<TIMESTAMP>")
  })

  it("flags errors: api_error, isApiErrorMessage, tool_result is_error", () => {
    expect(indexFields(parseLine(systemLine("s1", "a1", "api_error"))).isError).toBe(true)
    expect(indexFields(parseLine(systemLine("s1", "a1", "turn_duration"))).isError).toBe(false)
    const apiError = assistantLine("a1", "u1", text("API Error: 500"), undefined, {
      model: "<synthetic>",
      requestId: null,
      extra: { isApiErrorMessage: true },
    })
    expect(indexFields(parseLine(apiError)).isError).toBe(true)
    expect(indexFields(parseLine(userLine("u2", "a1", [toolResult("t1", "Exit code 1", true)]))).isError).toBe(true)
    expect(indexFields(parseLine(userLine("u2", "a1", [toolResult("t1", "ok")]))).isError).toBe(false)
  })

  it("sets firstPromptText only for human-typed prompts", () => {
    const prompt = (content: unknown, extra: Record<string, unknown> = {}) =>
      indexFields(parseLine(userLine("u", null, content, undefined, extra))).firstPromptText
    expect(prompt("  refactor the parser  ")).toBe("refactor the parser")
    expect(prompt([text("look at this"), { type: "image", source: { type: "base64", data: "AAA" } }])).toBe(
      "look at this",
    )
    expect(prompt("x", { isMeta: true })).toBeNull()
    expect(
      prompt("This session is being continued from a previous conversation", { isCompactSummary: true }),
    ).toBeNull()
    expect(prompt([toolResult("t1", "out")])).toBeNull()
    expect(prompt("<command-name>/clear</command-name>\n<command-message>clear</command-message>")).toBeNull()
    expect(prompt("<local-command-stdout></local-command-stdout>")).toBeNull()
    expect(prompt("<local-command-caveat>Caveat: The messages below were generated</local-command-caveat>")).toBeNull()
    expect(prompt("[Request interrupted by user]")).toBeNull()
    expect(prompt("<task-notification><task-id>x</task-id></task-notification>")).toBeNull()
    expect(prompt("Warmup", { isSidechain: true })).toBeNull()
    expect(prompt("agent finished", { origin: { kind: "task-notification" } })).toBeNull()
    expect(prompt("typed", { origin: { kind: "human" } })).toBe("typed")
    expect(prompt("   ")).toBeNull()
    expect(prompt("x".repeat(5000))?.length).toBe(2000)
  })
})

describe("searchText", () => {
  it("collects the human-meaningful text of each kind", () => {
    expect(searchText(parseLine(userLine("u", null, "find the leak")))).toBe("find the leak")
    expect(
      searchText(parseLine(assistantLine("a", "u", { type: "thinking", thinking: "ponder", signature: "s" }))),
    ).toBe("ponder")
    expect(searchText(parseLine(assistantLine("a", "u", toolUse("t1", "Grep", { pattern: "TODO" }))))).toBe(
      'Grep\n{"pattern":"TODO"}',
    )
    expect(searchText(parseLine(userLine("u", "a", [toolResult("t1", [text("match in a.ts")])])))).toBe("match in a.ts")
    expect(searchText(parseLine(line({ type: "summary", summary: "Login fix" })))).toBe("Login fix")
    expect(searchText(parseLine(line({ type: "custom-title", customTitle: "My title" })))).toBe("My title")
    expect(searchText(parseLine(systemLine("s", "a", "local_command", { content: "<local-command-stdout>hi" })))).toBe(
      "<local-command-stdout>hi",
    )
    expect(searchText(parseLine("{bad"))).toBe("")
    expect(searchText(parseLine(line({ type: "progress", data: { type: "bash_progress", output: "noise" } })))).toBe("")
  })

  it("never includes base64 image data", () => {
    const data = "iVBORw0KGgoAAAANSUhEUgAA".repeat(1000)
    const image = { type: "image", source: { type: "base64", media_type: "image/png", data } }
    const t = searchText(
      parseLine(userLine("u", "a", [text("screenshot"), toolResult("t1", [image, text("saved")]), image])),
    )
    expect(t).toBe("screenshot\nsaved")
    expect(t).not.toContain("iVBOR")
  })

  it("caps the text at 64 KiB without splitting a surrogate pair", () => {
    const huge = `${"a".repeat(SEARCH_TEXT_MAX - 1)}🍣${"b".repeat(1000)}`
    const t = searchText(parseLine(userLine("u", null, huge)))
    expect(t.length).toBeLessThanOrEqual(SEARCH_TEXT_MAX)
    expect(t.endsWith("a")).toBe(true)
    const many = searchText(parseLine(assistantLine("a", "u", toolUse("t", "Write", { content: "z".repeat(200_000) }))))
    expect(many.length).toBe(SEARCH_TEXT_MAX)
  })

  it("replaces lone surrogates so the text is valid UTF-16", () => {
    const t = searchText(parseLine('{"type":"user","message":{"content":"emoji cut \\ud83c here"}}'))
    expect(t).toBe("emoji cut \uFFFD here")
  })
})
