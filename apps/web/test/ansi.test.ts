import { describe, expect, it } from "vitest"
import { parseAnsi, stripAnsi, xterm256 } from "../src/ansi.ts"

describe("parseAnsi", () => {
  it("returns plain text as one unstyled segment", () => {
    expect(parseAnsi("hello")).toEqual([{ text: "hello", style: {} }])
  })

  it("applies and resets basic colours and bold", () => {
    const segs = parseAnsi("a\x1b[1;31mred\x1b[0m b")
    expect(segs).toEqual([
      { text: "a", style: {} },
      { text: "red", style: { bold: true, fg: "ansi-red" } },
      { text: " b", style: {} },
    ])
  })

  it("handles bright, background, 256 and truecolour", () => {
    expect(parseAnsi("\x1b[92mx")[0]?.style.fg).toBe("ansi-bright-green")
    expect(parseAnsi("\x1b[44mx")[0]?.style.bg).toBe("ansi-blue")
    expect(parseAnsi("\x1b[38;5;196mx")[0]?.style.fg).toBe("#ff0000")
    expect(parseAnsi("\x1b[48;2;1;2;255mx")[0]?.style.bg).toBe("#0102ff")
    expect(xterm256(232)).toBe("#080808")
  })

  it("resets single attributes (22, 39) without clearing the rest", () => {
    const segs = parseAnsi("\x1b[1;32mA\x1b[22mB\x1b[39mC")
    expect(segs.map((s) => [s.text, s.style])).toEqual([
      ["A", { bold: true, fg: "ansi-green" }],
      ["B", { fg: "ansi-green" }],
      ["C", {}],
    ])
  })

  it("drops non-SGR sequences (cursor moves, clears, OSC links)", () => {
    const input = "\x1b[2K\x1b[1Gdone \x1b]8;;https://x.test\x07link\x1b]8;;\x07"
    expect(parseAnsi(input)).toEqual([{ text: "done link", style: {} }])
    expect(stripAnsi("\x1b[31mred\x1b[m")).toBe("red")
  })

  it("treats ESC[m as a full reset and merges adjacent equal styles", () => {
    const segs = parseAnsi("\x1b[31ma\x1b[31mb\x1b[mc")
    expect(segs).toEqual([
      { text: "ab", style: { fg: "ansi-red" } },
      { text: "c", style: {} },
    ])
  })

  it("renders the hook notice from real transcripts", () => {
    const segs = parseAnsi("Running \u001b[1mPostToolUse:Bash\u001b[22m...")
    expect(segs.map((s) => s.text).join("")).toBe("Running PostToolUse:Bash...")
    expect(segs[1]).toEqual({ text: "PostToolUse:Bash", style: { bold: true } })
  })
})
