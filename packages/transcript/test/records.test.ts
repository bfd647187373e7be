import { describe, expect, it } from "vitest"
import { contentBlocks, parseLine, replaceLoneSurrogates, toolResultText } from "../src/index.ts"
import { assistantLine, line, systemLine, text, toolResult, toolUse, userLine } from "./samples.ts"

describe("parseLine: bad input never throws", () => {
  it.each([
    ["", "blank"],
    ["   \t ", "blank"],
    ["\0\0\0\0\0", "blank"],
    ["\r", "blank"],
    ["\uFEFF", "blank"],
  ])("%j is blank", (input, kind) => {
    expect(parseLine(input).kind).toBe(kind)
  })

  it("reports invalid JSON as malformed with the parser's error", () => {
    for (const input of ["{not json", '{"type":"user","message":{"content":"cut mid-str', "// Source: gist", "{a:1}"]) {
      const r = parseLine(input)
      expect(r.kind).toBe("malformed")
      if (r.kind !== "malformed") throw new Error("unreachable")
      expect(r.reason).toBe("invalid-json")
      expect(r.error.length).toBeGreaterThan(0)
    }
  })

  it("reports glued records (truncated stub + next record) as invalid JSON", () => {
    const glued = `{"type":"pr-link","sessionId":"s","prNu${userLine("u1", null, "hi")}`
    expect(parseLine(glued)).toMatchObject({ kind: "malformed", reason: "invalid-json" })
  })

  it.each([
    ["42", "number"],
    ["[1]", "array"],
    ['"massive error"', "string"],
    ["null", "null"],
    ["true", "boolean"],
  ])("non-object %s is malformed/non-object", (input, shape) => {
    const r = parseLine(input)
    expect(r).toMatchObject({ kind: "malformed", reason: "non-object" })
    if (r.kind === "malformed") expect(r.error).toContain(shape)
  })

  it("strips a BOM and a trailing \\r before parsing", () => {
    const r = parseLine(`\uFEFF${userLine("u1", null, "hello")}\r`)
    expect(r.kind).toBe("user")
    if (r.kind === "user") expect(r.content).toBe("hello")
  })

  it("accepts lone surrogate escapes and flags them", () => {
    const r = parseLine('{"type":"user","message":{"role":"user","content":"cut \\ud83c"},"uuid":"u1"}')
    expect(r.kind).toBe("user")
    if (r.kind !== "user") throw new Error("unreachable")
    expect(r.hasLoneSurrogates).toBe(true)
    expect(replaceLoneSurrogates(r.content as string)).toBe("cut \uFFFD")
    // A raw unpaired surrogate in the input string (a lenient decoder upstream) is flagged too.
    const raw = parseLine(`{"type":"user","message":{"content":"x\uD83C"}}`)
    expect(raw.kind === "user" && raw.hasLoneSurrogates).toBe(true)
    // A proper pair is not flagged, whether escaped or raw.
    const pair = parseLine('{"type":"user","message":{"content":"ok \\ud83c\\udf63 🍣"}}')
    expect(pair.kind === "user" && pair.hasLoneSurrogates).toBe(false)
  })

  it("keeps objects with an unknown or missing type as unknown, with their JSON", () => {
    const unknown = parseLine('{"type":"brand-new-thing","x":1}')
    expect(unknown).toMatchObject({ kind: "unknown", type: "brand-new-thing", json: { x: 1 } })
    expect(parseLine('{"silly":"this"}')).toMatchObject({ kind: "unknown", type: null })
    expect(parseLine('{"type":7}')).toMatchObject({ kind: "unknown", type: null })
  })

  it("survives hostile shapes inside known types", () => {
    const weird = [
      '{"type":"user","message":null}',
      '{"type":"user","message":{"content":42}}',
      '{"type":"assistant","message":{"content":[null,7,"x",{"type":"tool_use"}]}}',
      '{"type":"attachment","attachment":[1]}',
      '{"type":"progress","data":"x"}',
      '{"type":"system","subtype":{"a":1}}',
      '{"__proto__":{"polluted":true},"type":"user"}',
    ]
    for (const input of weird) {
      const r = parseLine(input)
      expect(r.kind).not.toBe("malformed")
      expect(() => contentBlocks(r)).not.toThrow()
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    const blocks = contentBlocks(parseLine(weird[2] ?? ""))
    expect(blocks.map((b) => b.type)).toEqual(["unknown", "unknown", "unknown", "unknown"])
  })
})

describe("parseLine: record kinds", () => {
  it("parses user prompts (string) and tool results (blocks)", () => {
    const prompt = parseLine(userLine("u1", null, "fix the bug"))
    expect(prompt).toMatchObject({ kind: "user", content: "fix the bug" })
    expect(contentBlocks(prompt)).toMatchObject([{ type: "text", text: "fix the bug" }])

    const result = parseLine(
      userLine("u2", "a1", [
        toolResult("toolu_1", "plain output"),
        toolResult(
          "toolu_2",
          [text("line one"), { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0" } }],
          true,
        ),
      ]),
    )
    const blocks = contentBlocks(result)
    expect(blocks).toHaveLength(2)
    const [first, second] = blocks
    expect(first).toMatchObject({ type: "tool_result", toolUseId: "toolu_1", content: "plain output", isError: false })
    expect(second).toMatchObject({ type: "tool_result", toolUseId: "toolu_2", isError: true })
    if (second?.type !== "tool_result") throw new Error("unreachable")
    expect(toolResultText(second)).toBe("line one")
    expect(second.content[1]).toMatchObject({
      type: "image",
      sourceType: "base64",
      mediaType: "image/png",
      data: "iVBORw0",
    })
  })

  it("parses assistant blocks: text, thinking, redacted_thinking, tool_use, document, unknown", () => {
    const cases: [Record<string, unknown>, Record<string, unknown>][] = [
      [text("hi"), { type: "text", text: "hi" }],
      [
        { type: "thinking", thinking: "hmm", signature: "sig" },
        { type: "thinking", thinking: "hmm", signature: "sig" },
      ],
      [
        { type: "redacted_thinking", data: "xyz" },
        { type: "redacted_thinking", data: "xyz" },
      ],
      [
        toolUse("toolu_9", "Bash", { command: "ls" }),
        { type: "tool_use", id: "toolu_9", name: "Bash", input: { command: "ls" } },
      ],
      [
        {
          type: "document",
          title: "spec.pdf",
          source: { type: "base64", media_type: "application/pdf", data: "JVBE" },
        },
        { type: "document", title: "spec.pdf", mediaType: "application/pdf" },
      ],
      [
        { type: "server_tool_use", id: "s1" },
        { type: "unknown", blockType: "server_tool_use" },
      ],
    ]
    for (const [block, expected] of cases) {
      const r = parseLine(assistantLine("a1", "u1", block))
      expect(r.kind).toBe("assistant")
      const [parsed] = contentBlocks(r)
      expect(parsed).toMatchObject(expected)
      expect(parsed?.raw).toEqual(block)
    }
  })

  it("parses system records with and without subtype", () => {
    expect(parseLine(systemLine("s1", "u1", "compact_boundary"))).toMatchObject({
      kind: "system",
      subtype: "compact_boundary",
    })
    expect(parseLine(systemLine("s2", "u1", "api_error"))).toMatchObject({ kind: "system", subtype: "api_error" })
    expect(parseLine(systemLine("s3", "u1", null))).toMatchObject({ kind: "system", subtype: null })
  })

  it("parses the non-chain record types", () => {
    expect(parseLine(line({ type: "summary", summary: "Fix login", leafUuid: "u9" }))).toMatchObject({
      kind: "summary",
      summary: "Fix login",
      leafUuid: "u9",
    })
    expect(
      parseLine(line({ type: "attachment", attachment: { type: "hook_success", content: "" }, uuid: "x" })),
    ).toMatchObject({
      kind: "attachment",
      attachmentType: "hook_success",
    })
    expect(parseLine(line({ type: "progress", data: { type: "bash_progress" }, uuid: "p" }))).toMatchObject({
      kind: "progress",
      dataType: "bash_progress",
    })
    expect(
      parseLine(line({ type: "file-history-snapshot", messageId: "m1", snapshot: {}, isSnapshotUpdate: false })),
    ).toMatchObject({ kind: "file-history-snapshot", messageId: "m1" })
    expect(parseLine(line({ type: "queue-operation", operation: "enqueue", content: "next" }))).toMatchObject({
      kind: "queue-operation",
      operation: "enqueue",
    })
  })

  it.each([
    "custom-title",
    "ai-title",
    "last-prompt",
    "tag",
    "agent-name",
    "permission-mode",
    "pr-link",
    "worktree-state",
    "mode",
    "task-summary",
    "content-replacement",
  ])("parses the %s metadata record", (type) => {
    const r = parseLine(line({ type, sessionId: "s" }))
    expect(r).toMatchObject({ kind: "metadata", type, json: { type, sessionId: "s" } })
  })

  it("recognises history.jsonl lines (no type) by shape", () => {
    const r = parseLine(
      line({ display: "claude -c", pastedContents: {}, timestamp: 1770861120777, project: "/Users/a" }),
    )
    expect(r).toMatchObject({ kind: "history-entry", display: "claude -c" })
  })

  it("keeps every field of the original object", () => {
    const raw = userLine("u1", null, "x", "2026-02-01T10:00:00.000Z", { futureField: { nested: [1, 2] } })
    const r = parseLine(raw)
    if (r.kind !== "user") throw new Error("unreachable")
    expect(r.json).toEqual(JSON.parse(raw))
  })
})
