import { isUtf8 } from "node:buffer"
import { describe, expect, it } from "vitest"
import { elideLongStrings } from "../src/line-elision.ts"
import { LineElisionStream, SEARCH_KEPT_BYTES, SEARCH_STRING_BYTES } from "../src/line-elision-stream.ts"
import { analyzeLine, LineFactsStream } from "../src/line-facts.ts"
import { parseLine } from "../src/records.ts"
import { SEARCH_TEXT_MAX, searchText } from "../src/search-text.ts"
import { long, longLines } from "./long-lines.ts"

const enc = new TextEncoder()
const dec = new TextDecoder()

/** Feeds `line` in pieces cut at `cuts` (sorted offsets). */
function streamed(policy: "facts" | "search", line: Uint8Array, cuts: readonly number[]): string | null {
  const s = new LineElisionStream(policy, isUtf8)
  let from = 0
  for (const at of [...cuts, line.length]) {
    s.feed(line.subarray(from, at))
    from = at
  }
  return s.finish()
}

function factsStreamed(line: Uint8Array, cuts: readonly number[]) {
  const s = new LineFactsStream(isUtf8)
  let from = 0
  for (const at of [...cuts, line.length]) {
    s.feed(line.subarray(from, at))
    from = at
  }
  return s.finish()
}

function seeded(seed: number) {
  let state = seed
  return (n: number) => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return (state >>> 0) % n
  }
}

describe("a long line's elision, fed in chunks", () => {
  it("is elideLongStrings's text whatever the cuts, and gives up where it does", () => {
    const random = seeded(0x1234567)
    for (const text of longLines()) {
      const line = enc.encode(text)
      const whole = elideLongStrings(line)
      expect(whole).not.toBeNull()
      // One chunk, every cut at a single byte near the strings' edges, and random cuts.
      expect(streamed("facts", line, [])).toBe(whole)
      for (let at = 1; at < Math.min(line.length, 400); at++) expect(streamed("facts", line, [at])).toBe(whole)
      for (let round = 0; round < 50; round++) {
        const cuts = [...new Set(Array.from({ length: 1 + random(20) }, () => random(line.length)))].sort(
          (a, b) => a - b,
        )
        expect(streamed("facts", line, cuts), `cuts ${cuts.join(",")}`).toBe(whole)
      }
      // A cut at every byte: escapes and UTF-8 sequences split everywhere.
      expect(
        streamed(
          "facts",
          line,
          Array.from({ length: line.length - 1 }, (_, i) => i + 1),
        ),
      ).toBe(whole)
    }
  })

  it("gives the facts analyzeLine gives, or null, on thousands of damaged lines cut at random", () => {
    const random = seeded(0x2545f491)
    const damage = [0x00, 0x09, 0x0a, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x75, 0xff, 0xc3, 0xed, 0x80]
    const lines = longLines().map((l) => enc.encode(l))
    let streamedFacts = 0
    for (let round = 0; round < 3000; round++) {
      let line: Uint8Array = lines[random(lines.length)]!.slice()
      for (let e = 1 + random(3); e > 0; e--) {
        const at = random(line.length)
        switch (random(3)) {
          case 0:
            line[at] = damage[random(damage.length)]!
            break
          case 1:
            line = Uint8Array.of(...line.subarray(0, at), ...line.subarray(at + 1))
            break
          default:
            line = Uint8Array.of(...line.subarray(0, at), 0x7d)
        }
      }
      const cuts = [...new Set(Array.from({ length: random(8) }, () => random(line.length)))].sort((a, b) => a - b)
      const facts = factsStreamed(line, cuts)
      const where = `round ${round}: ${dec.decode(line.subarray(0, 80))}`
      if (facts !== null) {
        streamedFacts++
        expect(facts, where).toEqual(analyzeLine(line, isUtf8))
      } else {
        // Null only where analyzeLine parses the whole line too: a short line, one the one-piece scan
        // gives up on, or whose elided text is no record.
        const whole = elideLongStrings(line)
        if (line.length >= 4096 && whole !== null && isUtf8(line))
          expect(parseLine(whole).kind, where).toBe("malformed")
      }
    }
    expect(streamedFacts).toBeGreaterThan(300)
  })

  it("keeps what the search text reads: the same text as the whole line's", () => {
    const random = seeded(0x5eed)
    const huge = long("huge result ", SEARCH_STRING_BYTES * 2)
    const escapes = "\\u00e9\\ud83d\\ude00\\n\\\\".repeat(SEARCH_STRING_BYTES / 10)
    const lines = [
      ...longLines(),
      JSON.stringify({
        type: "user",
        message: { role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: huge }] },
      }),
      JSON.stringify({
        type: "assistant",
        message: { content: [{ type: "tool_use", name: "Write", input: { c: huge } }] },
      }),
      `{"type":"user","message":{"role":"user","content":[{"type":"text","text":"${escapes}"}]}}`,
      JSON.stringify({
        type: "user",
        message: { content: [{ type: "text", text: "é✓😀".repeat(SEARCH_STRING_BYTES) }] },
      }),
    ]
    for (const text of lines) {
      const line = enc.encode(text)
      const expected = searchText(parseLine(dec.decode(line)))
      for (let round = 0; round < 5; round++) {
        const cuts = [...new Set(Array.from({ length: random(30) }, () => random(line.length)))].sort((a, b) => a - b)
        const elided = streamed("search", line, cuts)
        expect(elided).not.toBeNull()
        expect(elided!.length).toBeLessThan(4 * SEARCH_STRING_BYTES)
        expect(searchText(parseLine(elided!)), text.slice(0, 60)).toBe(expected)
      }
    }
    expect(searchText(parseLine(dec.decode(enc.encode(lines.at(-4)!)))).length).toBe(SEARCH_TEXT_MAX)
  })

  it("holds the kept text, not the line: a 40 MB image in 1 MiB chunks keeps a few hundred bytes", () => {
    const image = Buffer.alloc(30 * 1024 * 1024, 7).toString("base64")
    const line = enc.encode(
      JSON.stringify({
        type: "user",
        uuid: "img",
        sessionId: "s",
        timestamp: "2026-11-01T10:00:00.000Z",
        message: { role: "user", content: [{ type: "image", source: { type: "base64", data: image } }] },
      }),
    )
    const facts = new LineFactsStream(isUtf8)
    const search = new LineElisionStream("search", isUtf8)
    for (let at = 0; at < line.length; at += 1024 * 1024) {
      facts.feed(line.subarray(at, at + 1024 * 1024))
      search.feed(line.subarray(at, at + 1024 * 1024))
    }
    expect(facts.finish()).toEqual(analyzeLine(line, isUtf8))
    const kept = search.finish()!
    expect(kept.length).toBeLessThan(SEARCH_STRING_BYTES + 1000)
    expect(searchText(parseLine(kept))).toBe(searchText(parseLine(dec.decode(line))))
    expect(SEARCH_KEPT_BYTES).toBeGreaterThan(SEARCH_STRING_BYTES)
  })
})
