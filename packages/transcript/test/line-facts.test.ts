import { isUtf8 } from "node:buffer"
import { describe, expect, it } from "vitest"
import { elideLongStrings } from "../src/line-elision.ts"
import { analyzeLine, analyzeWholeLine, factsOfLines, usageTotal } from "../src/line-facts.ts"
import { longLines } from "./long-lines.ts"

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

describe("line facts of long lines", () => {
  it("are the whole line's facts, though long deep strings were emptied first", () => {
    for (const line of longLines()) {
      const bytes = enc.encode(line)
      const elided = elideLongStrings(bytes)
      expect(elided, line.slice(0, 60)).not.toBeNull()
      expect(JSON.parse(elided!)).toBeTypeOf("object")
      expect(analyzeLine(bytes)).toEqual(analyzeWholeLine(bytes))
      expect(analyzeLine(bytes, isUtf8)).toEqual(analyzeWholeLine(bytes))
    }
    // The work it saves: most of a tool result's bytes never reach JSON.parse.
    const result = enc.encode(longLines()[3]!)
    expect(elideLongStrings(result)!.length).toBeLessThan(result.length / 10)
    // A prompt is kept whole.
    const prompt = analyzeLine(enc.encode(longLines()[0]!)).firstPromptText
    expect(prompt?.startsWith('fix this p "quoted" \\ back\tslash\n line é ✓ 😀 p')).toBe(true)
    expect(prompt?.length).toBeGreaterThan(1900)
  })

  it("leave to the whole parse what the scan is unsure of", () => {
    const deep = (s: string) => `{"type":"x","a":{"b":{"c":"${s}"}}}`
    expect(elideLongStrings(enc.encode(deep("a".repeat(300))))).toBe(deep(""))
    const a300 = "a".repeat(300)
    expect(elideLongStrings(enc.encode(deep(`${a300}\\u12`)))).toBeNull() // a \u escape without 4 hex digits
    expect(elideLongStrings(enc.encode(deep(`${a300}\\x`)))).toBeNull() // not an escape
    expect(elideLongStrings(enc.encode(deep(`${a300}\\t\\u00e9`)))).toBe(deep(""))
    expect(elideLongStrings(enc.encode(deep(`${a300}\t`)))).toBeNull() // a raw tab
    expect(elideLongStrings(enc.encode(`{"\\u0074ype":"user"}`))).toBeNull() // an escaped key
    expect(elideLongStrings(enc.encode(`{"type":"a","type":"user"}`))).toBeNull() // a second root type
    expect(elideLongStrings(enc.encode(deep("a".repeat(300)).slice(0, -4)))).toBeNull() // unterminated
    expect(elideLongStrings(enc.encode(` ${deep("a")}`))).toBeNull() // not starting with {
  })

  it("match the whole parse on thousands of damaged lines", () => {
    // Seeded, so a failure names a line that can be replayed.
    let state = 0x2545f491
    const random = (n: number) => {
      state ^= state << 13
      state ^= state >>> 17
      state ^= state << 5
      return (state >>> 0) % n
    }
    const damage = [0x00, 0x09, 0x0a, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x75, 0xff, 0xc3, 0xed, 0x80]
    const lines = longLines().map((l) => enc.encode(l))
    let tried = 0
    let fastPathTaken = 0
    for (let round = 0; round < 3000; round++) {
      const original = lines[random(lines.length)]!
      const bytes = original.slice()
      const edits = 1 + random(3)
      let line: Uint8Array = bytes
      for (let e = 0; e < edits; e++) {
        const at = random(line.length)
        switch (random(3)) {
          case 0: // overwrite a byte
            line[at] = damage[random(damage.length)]!
            break
          case 1: // drop a byte
            line = Uint8Array.of(...line.subarray(0, at), ...line.subarray(at + 1))
            break
          default: // cut the line short, keeping its closing brace
            line = Uint8Array.of(...line.subarray(0, at), 0x7d)
        }
      }
      tried++
      if (elideLongStrings(line) !== null) fastPathTaken++
      const where = `round ${round}: ${new TextDecoder().decode(line.subarray(0, 80))}`
      expect(analyzeLine(line), where).toEqual(analyzeWholeLine(line))
      expect(analyzeLine(line, isUtf8), where).toEqual(analyzeWholeLine(line))
    }
    expect(tried).toBe(3000)
    // Damage inside an emptied string still takes the fast path; the comparison above covers both.
    expect(fastPathTaken).toBeGreaterThan(500)
  })
})
