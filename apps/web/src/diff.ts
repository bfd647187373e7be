/**
 * Diff rows for Edit/MultiEdit/Write results: from the tool's own `structuredPatch` when present
 * (exactly what Claude Code applied), else from a line diff of the old and new strings.
 */
import { arr, num, obj, str } from "./records.ts"

export type DiffRow =
  | { readonly type: "hunk"; readonly header: string }
  | {
      readonly type: "context" | "add" | "del"
      readonly text: string
      readonly oldNo: number | null
      readonly newNo: number | null
    }
  | { readonly type: "note"; readonly text: string }

export type Hunk = {
  readonly oldStart: number
  readonly oldLines: number
  readonly newStart: number
  readonly newLines: number
  readonly lines: readonly string[]
}

export const parseStructuredPatch = (value: unknown): Hunk[] | null => {
  const list = arr(value)
  if (!list) return null
  const hunks: Hunk[] = []
  for (const item of list) {
    const h = obj(item)
    const lines = arr(h?.lines)
    if (!h || !lines) continue
    hunks.push({
      oldStart: num(h.oldStart) ?? 1,
      oldLines: num(h.oldLines) ?? 0,
      newStart: num(h.newStart) ?? 1,
      newLines: num(h.newLines) ?? 0,
      lines: lines.map((l) => str(l) ?? ""),
    })
  }
  return hunks
}

export const rowsFromHunks = (hunks: readonly Hunk[]): DiffRow[] => {
  const rows: DiffRow[] = []
  for (const h of hunks) {
    rows.push({ type: "hunk", header: `@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@` })
    let oldNo = h.oldStart
    let newNo = h.newStart
    for (const line of h.lines) {
      const mark = line[0]
      const text = line.slice(1)
      if (mark === "+") rows.push({ type: "add", text, oldNo: null, newNo: newNo++ })
      else if (mark === "-") rows.push({ type: "del", text, oldNo: oldNo++, newNo: null })
      else if (mark === "\\") rows.push({ type: "note", text: line.slice(2) })
      else rows.push({ type: "context", text: mark === " " ? text : line, oldNo: oldNo++, newNo: newNo++ })
    }
  }
  return rows
}

const splitLines = (s: string): string[] => (s === "" ? [] : s.replace(/\n$/, "").split("\n"))

/** Above this many cells the LCS table is too costly for the browser; show delete-then-add instead. */
const MAX_CELLS = 4_000_000

/** Line-level LCS diff, deletions before additions; Edit strings are small, so the simple table is fine. */
export const rowsFromStrings = (oldText: string, newText: string, startLine = 1): DiffRow[] => {
  const a = splitLines(oldText)
  const b = splitLines(newText)
  const rows: DiffRow[] = [{ type: "hunk", header: `@@ -${startLine},${a.length} +${startLine},${b.length} @@` }]
  if (a.length * b.length > MAX_CELLS) {
    for (const [i, text] of a.entries()) rows.push({ type: "del", text, oldNo: startLine + i, newNo: null })
    for (const [i, text] of b.entries()) rows.push({ type: "add", text, oldNo: null, newNo: startLine + i })
    return rows
  }
  const w = b.length + 1
  const lcs = new Uint32Array((a.length + 1) * w)
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i * w + j] =
        a[i] === b[j]
          ? (lcs[(i + 1) * w + j + 1] ?? 0) + 1
          : Math.max(lcs[(i + 1) * w + j] ?? 0, lcs[i * w + j + 1] ?? 0)
    }
  }
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      rows.push({ type: "context", text: a[i] ?? "", oldNo: startLine + i, newNo: startLine + j })
      i++
      j++
    } else if (j < b.length && (i >= a.length || (lcs[i * w + j + 1] ?? 0) > (lcs[(i + 1) * w + j] ?? 0))) {
      rows.push({ type: "add", text: b[j] ?? "", oldNo: null, newNo: startLine + j })
      j++
    } else {
      rows.push({ type: "del", text: a[i] ?? "", oldNo: startLine + i, newNo: null })
      i++
    }
  }
  return rows
}

export type EditSpec = { readonly oldString: string; readonly newString: string }

/**
 * Rows for an Edit-like call: the result's patch wins; otherwise the call's own old/new strings
 * (MultiEdit: one hunk per edit).
 */
export const diffRowsFor = (input: unknown, toolUseResult: unknown): DiffRow[] => {
  const patch = parseStructuredPatch(obj(toolUseResult)?.structuredPatch)
  if (patch && patch.length > 0) return rowsFromHunks(patch)
  const i = obj(input)
  if (!i) return []
  const edits = arr(i.edits)
  const specs: EditSpec[] = edits
    ? edits.map((e) => ({ oldString: str(obj(e)?.old_string) ?? "", newString: str(obj(e)?.new_string) ?? "" }))
    : [{ oldString: str(i.old_string) ?? "", newString: str(i.new_string) ?? "" }]
  return specs.flatMap((s) => rowsFromStrings(s.oldString, s.newString))
}

export const diffStats = (rows: readonly DiffRow[]): { added: number; removed: number } => {
  let added = 0
  let removed = 0
  for (const r of rows) {
    if (r.type === "add") added++
    else if (r.type === "del") removed++
  }
  return { added, removed }
}
