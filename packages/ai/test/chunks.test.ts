import { describe, expect, it } from "vitest"
import { sessionChunks, splitText } from "../src/chunks.ts"
import { digestItems, parseSessionLines } from "../src/session-digest.ts"
import { numbered, uploadSession } from "./session-fixture.ts"

describe("sessionChunks", () => {
  it("makes one chunk per prompt and assistant text, and groups consecutive tool calls", () => {
    const chunks = sessionChunks(digestItems(parseSessionLines(numbered(uploadSession(), 500))))
    expect(chunks.map((c) => [c.seq, c.role])).toEqual([
      [500, "user"],
      [501, "assistant"],
      [501, "tool"],
      [503, "assistant"],
      [503, "tool"],
      [505, "assistant"],
    ])
    expect(chunks[4]?.text).toBe("Edit: test/upload.test.ts; Bash: bun test test/upload.test.ts --repeat 50")
  })

  it("bounds every chunk and the number of chunks, keeping the start and the end", () => {
    const long = Array.from({ length: 600 }, (_, i) => `word${i}`).join(" ")
    const items = [
      { seq: 1, role: "user" as const, text: long },
      ...Array.from({ length: 50 }, (_, i) => ({ seq: 10 + i, role: "assistant" as const, text: `answer ${i}` })),
    ]
    const chunks = sessionChunks(items, { maxChars: 200, maxChunks: 20 })
    expect(chunks).toHaveLength(20)
    for (const c of chunks) expect(c.text.length).toBeLessThanOrEqual(200)
    expect(chunks[0]?.text.startsWith("word0 word1")).toBe(true)
    expect(chunks[0]?.seq).toBe(1)
    expect(chunks.at(-1)?.text).toBe("answer 49")
  })

  it("splits text at spaces, or hard when there is none", () => {
    expect(splitText("aaa bbb ccc", 7)).toEqual(["aaa bbb", "ccc"])
    expect(splitText("x".repeat(25), 10)).toEqual(["x".repeat(10), "x".repeat(10), "x".repeat(5)])
  })
})
