import { describe, expect, it } from "vitest"
import { analyzeLine, factsOfLines, usageTotal } from "../src/line-facts.ts"

const enc = new TextEncoder()
const facts = (line: string) => analyzeLine(enc.encode(line))

describe("line facts", () => {
  it("names what a store indexes and leaves absent facts out", () => {
    const f = facts(
      JSON.stringify({
        type: "assistant",
        uuid: "a1",
        parentUuid: "u1",
        sessionId: "s1",
        cwd: "/w",
        timestamp: "2026-11-01T10:00:00.000Z",
        requestId: "req_1",
        message: {
          id: "msg_1",
          model: "claude-opus-5-5",
          content: [{ type: "text", text: "hi" }],
          usage: { input_tokens: 3, output_tokens: 7, cache_creation_input_tokens: 11, cache_read_input_tokens: 13 },
        },
      }),
    )
    expect(f).toEqual({
      kind: "assistant",
      uuid: "a1",
      parentUuid: "u1",
      sessionId: "s1",
      cwd: "/w",
      timestamp: "2026-11-01T10:00:00.000Z",
      model: "claude-opus-5-5",
      usage: {
        dedupKey: "msg_1:req_1",
        model: "claude-opus-5-5",
        input: 3,
        output: 7,
        cacheWrite: 11,
        cacheWrite1h: 0,
        cacheRead: 13,
      },
    })
    expect(usageTotal(f.usage!)).toBe(34)
  })

  it("keeps placeholder timestamps out and says why a line is not a record", () => {
    expect(facts(JSON.stringify({ type: "user", timestamp: "<ts>" })).timestamp).toBeUndefined()
    expect(facts("{not json").notice).toMatch(/^malformed JSON/)
    expect(facts("[1,2]").notice).toMatch(/not an object/)
    expect(facts(JSON.stringify({ type: "brand-new" })).notice).toBe('unknown record type "brand-new" (kept raw)')
    expect(analyzeLine(new Uint8Array([0x7b, 0xff, 0x7d])).notice).toBe("invalid UTF-8 (kept byte for byte)")
    // A real U+FFFD in valid UTF-8 is text, not damage.
    expect(facts(JSON.stringify({ type: "user", message: { content: "\uFFFD" } })).notice).toBeUndefined()
  })

  it("gives one element per line of a payload, null for an unterminated tail", () => {
    const payload = enc.encode('{"type":"user"}\n\n{"type":"summary","summary":"s"}\n{"type":"us')
    expect(factsOfLines(payload).map((f) => f?.kind ?? null)).toEqual(["user", "blank", "summary", null])
    expect(factsOfLines(new Uint8Array())).toEqual([])
  })
})
