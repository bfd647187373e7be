import { describe, expect, it } from "vitest"
import { diffRowsFor, diffStats, parseStructuredPatch, rowsFromHunks, rowsFromStrings } from "../src/diff.ts"

describe("structuredPatch", () => {
  const patch = [
    {
      oldStart: 10,
      oldLines: 3,
      newStart: 10,
      newLines: 4,
      lines: [" keep", "-old line", "+new line", "+added", " tail"],
    },
  ]

  it("numbers old and new lines per hunk", () => {
    const rows = rowsFromHunks(parseStructuredPatch(patch) ?? [])
    expect(rows[0]).toEqual({ type: "hunk", header: "@@ -10,3 +10,4 @@" })
    expect(rows.slice(1)).toEqual([
      { type: "context", text: "keep", oldNo: 10, newNo: 10 },
      { type: "del", text: "old line", oldNo: 11, newNo: null },
      { type: "add", text: "new line", oldNo: null, newNo: 11 },
      { type: "add", text: "added", oldNo: null, newNo: 12 },
      { type: "context", text: "tail", oldNo: 12, newNo: 13 },
    ])
  })

  it("prefers the result's patch over the call's strings", () => {
    const rows = diffRowsFor({ old_string: "x", new_string: "y" }, { structuredPatch: patch })
    expect(diffStats(rows)).toEqual({ added: 2, removed: 1 })
  })

  it("keeps '\\ No newline' notes", () => {
    const rows = rowsFromHunks([
      { oldStart: 1, oldLines: 1, newStart: 1, newLines: 1, lines: ["-a", "\\ No newline at end of file", "+b"] },
    ])
    expect(rows.map((r) => r.type)).toEqual(["hunk", "del", "note", "add"])
  })

  it("ignores junk entries", () => {
    expect(parseStructuredPatch("nope")).toBeNull()
    expect(parseStructuredPatch([1, { lines: ["+a"] }])).toHaveLength(1)
  })
})

describe("string diff fallback", () => {
  it("diffs old/new strings by line", () => {
    const rows = rowsFromStrings("a\nb\nc", "a\nB\nc\nd")
    expect(rows.flatMap((r) => (r.type === "note" || r.type === "hunk" ? [] : [`${r.type}:${r.text}`]))).toEqual([
      "context:a",
      "del:b",
      "add:B",
      "context:c",
      "add:d",
    ])
  })

  it("builds one hunk per MultiEdit edit when there is no patch", () => {
    const rows = diffRowsFor(
      {
        file_path: "/x.ts",
        edits: [
          { old_string: "one", new_string: "uno" },
          { old_string: "two", new_string: "dos" },
        ],
      },
      "Error: String to replace not found in file.",
    )
    expect(rows.filter((r) => r.type === "hunk")).toHaveLength(2)
    expect(diffStats(rows)).toEqual({ added: 2, removed: 2 })
  })
})
