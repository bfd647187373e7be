import { describe, expect, it } from "vitest"
import { pairTools, usageLineSeqs } from "../src/pairing.ts"
import { imageSourceOf, readLine as parseLine } from "../src/records.ts"

const assistantToolUse = (id: string, name: string) =>
  JSON.stringify({
    type: "assistant",
    uuid: `u-${id}`,
    message: { id: "msg_1", role: "assistant", content: [{ type: "tool_use", id, name, input: { command: "ls" } }] },
  })

const userToolResult = (id: string, text: string, extra: object = {}) =>
  JSON.stringify({
    type: "user",
    message: { role: "user", content: [{ type: "tool_result", tool_use_id: id, content: text }] },
    ...extra,
  })

describe("pairTools", () => {
  it("pairs parallel calls with results in other entries, in any order", () => {
    const items = [
      { seq: 1, record: parseLine(assistantToolUse("toolu_a", "Bash")) },
      { seq: 2, record: parseLine(assistantToolUse("toolu_b", "Read")) },
      { seq: 3, record: parseLine(userToolResult("toolu_b", "file body")) },
      {
        seq: 4,
        record: parseLine(userToolResult("toolu_a", "listing", { toolUseResult: { stdout: "x", stderr: "" } })),
      },
    ]
    const pairs = pairTools(items)
    expect(pairs.calls.get("toolu_a")?.seq).toBe(1)
    expect(pairs.results.get("toolu_a")?.seq).toBe(4)
    expect(pairs.results.get("toolu_a")?.toolUseResult).toEqual({ stdout: "x", stderr: "" })
    expect(pairs.results.get("toolu_b")?.seq).toBe(3)
    expect(pairs.results.get("toolu_b")?.result.content).toBe("file body")
  })

  it("leaves calls without results unpaired and ignores malformed lines", () => {
    const pairs = pairTools([
      { seq: 1, record: parseLine(assistantToolUse("toolu_x", "Bash")) },
      { seq: 2, record: parseLine("{not json") },
    ])
    expect(pairs.calls.has("toolu_x")).toBe(true)
    expect(pairs.results.has("toolu_x")).toBe(false)
  })

  it("keeps the first result when a copy appears again (resume copies)", () => {
    const pairs = pairTools([
      { seq: 5, record: parseLine(userToolResult("toolu_c", "first")) },
      { seq: 9, record: parseLine(userToolResult("toolu_c", "copy")) },
    ])
    expect(pairs.results.get("toolu_c")?.seq).toBe(5)
  })

  it("reads is_error and array content with images", () => {
    const line = JSON.stringify({
      type: "user",
      message: {
        content: [
          {
            type: "tool_result",
            tool_use_id: "toolu_i",
            is_error: true,
            content: [
              { type: "text", text: "shot" },
              { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
            ],
          },
        ],
      },
    })
    const r = pairTools([{ seq: 1, record: parseLine(line) }]).results.get("toolu_i")
    expect(r?.result.isError).toBe(true)
    const content = r?.result.content
    const image = typeof content === "string" ? undefined : content?.[1]
    expect(image?.type === "image" ? imageSourceOf(image) : null).toEqual({
      mediaType: "image/png",
      data: "iVBORw0KGgo=",
    })
  })
})

describe("usageLineSeqs", () => {
  const block = (seq: number, id: string, requestId: string | null, output: number) => ({
    seq,
    record: parseLine(
      JSON.stringify({
        type: "assistant",
        uuid: `u${seq}`,
        ...(requestId ? { requestId } : {}),
        message: {
          id,
          model: "claude-opus-4-6",
          content: [{ type: "text", text: "x" }],
          usage: { input_tokens: 10, output_tokens: output },
        },
      }),
    ),
  })
  it("puts one usage line on the last block of each response", () => {
    const seqs = usageLineSeqs([
      block(1, "msg_a", "req_a", 1),
      block(2, "msg_a", "req_a", 1),
      block(3, "msg_a", "req_a", 17),
      block(4, "msg_b", "req_b", 5),
      { seq: 5, record: parseLine("{bad") },
    ])
    expect([...seqs].sort()).toEqual([3, 4])
  })
})
