/**
 * Turning a user's query into a safe FTS5 expression, and cutting snippets from entry text.
 * User input never reaches FTS5 syntax unquoted: each term becomes a quoted string.
 */
export interface FtsQuery {
  readonly expression: string
  readonly terms: readonly string[]
}

export function ftsQuery(q: string): FtsQuery | null {
  const terms: string[] = []
  const parts: string[] = []
  const re = /"([^"]+)"|(\S+)/g
  for (const m of q.matchAll(re)) {
    const raw = (m[1] ?? m[2] ?? "").trim()
    const words = raw.split(/[^\p{L}\p{N}_]+/u).filter((w) => w.length > 0)
    if (words.length === 0) continue
    terms.push(...words)
    parts.push(`"${words.join(" ")}"`)
  }
  return parts.length === 0 ? null : { expression: parts.join(" "), terms }
}

const SNIPPET_RADIUS = 80

/** A window of `text` around the first matched term, matches wrapped in « ». */
export function buildSnippet(text: string, terms: readonly string[]): string {
  const flat = text.replace(/\s+/g, " ")
  const lower = flat.toLowerCase()
  let first = -1
  for (const t of terms) {
    const i = lower.indexOf(t.toLowerCase())
    if (i >= 0 && (first < 0 || i < first)) first = i
  }
  const start = Math.max(0, first - SNIPPET_RADIUS)
  const end = Math.min(flat.length, Math.max(first, 0) + SNIPPET_RADIUS * 2)
  let window = flat.slice(start, end)
  const escaped = terms.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).filter(Boolean)
  if (escaped.length > 0) window = window.replace(new RegExp(`(${escaped.join("|")})`, "gi"), "«$1»")
  return `${start > 0 ? "…" : ""}${window}${end < flat.length ? "…" : ""}`
}
