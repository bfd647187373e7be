/**
 * What a model reads about a session: its user prompts, the assistant's text and the tools it used
 * (name and a short input), condensed into a token budget. Pure functions over records parsed by
 * `@overlord/transcript`; the same items feed `chunks.ts`.
 */
import { contentBlocks, parseLine, type TranscriptRecord } from "@overlord/transcript"

/** A stored line of a session file and its `seq` (the store's global line order and deep-link id). */
export interface SessionLine {
  readonly seq: number
  readonly line: string
}

export interface SessionRecord {
  readonly seq: number
  readonly record: TranscriptRecord
}

export type DigestRole = "user" | "assistant" | "tool"

/** One thing a person would recognise in the session, with the `seq` of the line it came from. */
export interface DigestItem {
  readonly seq: number
  readonly role: DigestRole
  readonly text: string
}

/** Longest text kept per item (UTF-16 units): Edit/Write inputs and pasted logs can be megabytes. */
export const ITEM_TEXT_MAX = 16 * 1024
/** Longest tool input shown after the tool's name. */
export const TOOL_INPUT_MAX = 100

export function parseSessionLines(lines: readonly SessionLine[]): SessionRecord[] {
  return lines.map(({ seq, line }) => ({ seq, record: parseLine(line) }))
}

/**
 * The session's items in file order. Left out: subagent (sidechain) and meta records, tool results
 * (what a tool printed is rarely what a session is about, and dwarfs everything else), thinking,
 * images, system reminders and local command output.
 */
export function digestItems(records: readonly SessionRecord[]): DigestItem[] {
  const items: DigestItem[] = []
  for (const { seq, record } of records) {
    if (record.kind !== "user" && record.kind !== "assistant") continue
    if (record.json.isSidechain === true || record.json.isMeta === true) continue
    const start = items.length
    const texts: string[] = []
    for (const block of contentBlocks(record)) {
      if (block.type === "text") texts.push(block.text)
      else if (block.type === "tool_use" && record.kind === "assistant") {
        items.push({ seq, role: "tool", text: toolSummary(block.name, block.input) })
      }
    }
    const text = cleanText(texts.join("\n"))
    if (text !== "") {
      // The message's text goes before its tool calls: it says why they were made.
      items.splice(start, 0, { seq, role: record.kind, text })
    }
  }
  return items
}

/** `Bash: npm test`, `Edit: src/upload.ts`: the name and the input field that says the most. */
export function toolSummary(name: string, input: unknown): string {
  let detail = ""
  if (input !== null && typeof input === "object" && !Array.isArray(input)) {
    const fields = input as Record<string, unknown>
    for (const key of ["command", "file_path", "pattern", "path", "url", "query", "description", "prompt", "skill"]) {
      const value = fields[key]
      if (typeof value === "string" && value.trim() !== "") {
        detail = value
        break
      }
    }
    if (detail === "") {
      try {
        detail = JSON.stringify(input)
      } catch {
        detail = ""
      }
      if (detail === "{}") detail = ""
    }
  } else if (typeof input === "string") detail = input
  detail = cut(collapse(detail), TOOL_INPUT_MAX)
  return detail === "" ? name : `${name}: ${detail}`
}

const SYSTEM_BLOCKS =
  /<(system-reminder|local-command-stdout|local-command-stderr|command-stdout|command-stderr)>[\s\S]*?<\/\1>/g

/** Claude Code's own markup (`<command-name>`, `<command-args>`, ...): hyphenated, unlike HTML's. */
const CLAUDE_TAGS = /<\/?[a-z]+(?:-[a-z]+)+>/g

/** Removes what Claude Code adds around a prompt and collapses whitespace. */
function cleanText(text: string): string {
  return cut(collapse(text.replace(SYSTEM_BLOCKS, " ").replace(CLAUDE_TAGS, " ")), ITEM_TEXT_MAX)
}

const collapse = (text: string): string => text.replace(/\s+/g, " ").trim()

/** At most `max` units, ending with "…" when cut, never splitting a surrogate pair. */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text
  let end = Math.max(0, max - 1)
  const last = text.charCodeAt(end - 1)
  if (last >= 0xd800 && last <= 0xdbff) end -= 1
  return `${text.slice(0, end)}…`
}

/** The usual estimate for English and code: about four characters per token. */
export const CHARS_PER_TOKEN = 4
export const estimateTokens = (text: string): number => Math.ceil(text.length / CHARS_PER_TOKEN)

export interface DigestOptions {
  /** Budget for the whole digest (default 3,000 tokens: fits a 4k context with the prompt and answer). */
  readonly maxTokens?: number
  /** Longest single item in the digest, in characters (default 600). */
  readonly maxItemChars?: number
  /** Share of the budget for the start of the session when it must be cut (default 0.35). */
  readonly headShare?: number
}

export interface SessionDigest {
  readonly text: string
  readonly tokens: number
  /** Items in the digest and items left out to fit the budget. */
  readonly included: number
  readonly omitted: number
}

const LABEL: Record<DigestRole, string> = { user: "User", assistant: "Assistant", tool: "Tool" }

/**
 * The items as `User: ...` / `Assistant: ...` / `Tool: ...` lines within the budget. When they do
 * not fit, the start (what was asked) and the latest part (how it ended) are kept, and one line says
 * how many items were left out between them.
 */
export function sessionDigest(items: readonly DigestItem[], options: DigestOptions = {}): SessionDigest {
  const budget = (options.maxTokens ?? 3_000) * CHARS_PER_TOKEN
  const maxItem = options.maxItemChars ?? 600
  const lines = items.map((item) => `${LABEL[item.role]}: ${cut(item.text, maxItem)}`)
  const size = (line: string) => line.length + 1
  const total = lines.reduce((n, line) => n + size(line), 0)
  if (total <= budget) return finish(lines, lines.length, 0)

  const marker = (n: number) => `[… ${n} ${n === 1 ? "entry" : "entries"} left out …]`
  const room = budget - size(marker(lines.length))
  const head: string[] = []
  let used = 0
  const headRoom = Math.floor(room * (options.headShare ?? 0.35))
  for (const line of lines) {
    if (used + size(line) > headRoom) break
    head.push(line)
    used += size(line)
  }
  const tail: string[] = []
  for (let i = lines.length - 1; i >= head.length; i--) {
    const line = lines[i] ?? ""
    if (used + size(line) > room) break
    tail.push(line)
    used += size(line)
  }
  tail.reverse()
  const omitted = lines.length - head.length - tail.length
  return finish([...head, marker(omitted), ...tail], head.length + tail.length, omitted)
}

function finish(lines: readonly string[], included: number, omitted: number): SessionDigest {
  const text = lines.join("\n")
  return { text, tokens: estimateTokens(text), included, omitted }
}
