/** The one rule for cutting file bytes into lines, and the count the server checks facts against. */
import { countPieces, splitPieces } from "@overlord/transcript"
import { describe, expect, it } from "vitest"

const enc = new TextEncoder()
const cases = ["", "a", "a\n", "a\nb", "a\nb\n", "\n", "\n\n", "a\n\nb\n", '{"x":1}\n{"y":2}\n{"z"']

describe("line pieces", () => {
  it("cuts at each newline, keeps a trailing fragment open, and counts what it cuts", () => {
    expect(splitPieces(enc.encode("a\nbc\nd"), 100)).toEqual([
      { byteOffset: 100, bytes: enc.encode("a"), terminated: true },
      { byteOffset: 102, bytes: enc.encode("bc"), terminated: true },
      { byteOffset: 105, bytes: enc.encode("d"), terminated: false },
    ])
    for (const text of cases) {
      const bytes = enc.encode(text)
      expect(countPieces(bytes), JSON.stringify(text)).toBe(splitPieces(bytes, 0).length)
    }
  })
})
