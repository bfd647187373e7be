/**
 * The dashboard's view of one stored line. Parsing and meaning come from `@overlord/transcript`, the
 * parser the server indexes with, so the browser and the server read every line the same way. What
 * lives here is only what the page needs on top: the raw line, the `data-kind` name, bookkeeping
 * classification, and small readers for untyped JSON.
 */
import {
  type ContentBlock,
  type ImageBlock,
  indexFields,
  type JsonObject,
  parseLine,
  sessionTitleWithSource,
  type TranscriptRecord,
} from "@overlord/transcript"

export type { ContentBlock, JsonObject, TranscriptRecord } from "@overlord/transcript"

/** One stored line as the page renders it. */
export type LineRecord = {
  readonly record: TranscriptRecord
  /**
   * The line's own `type` (`user`, `custom-title`, `api-request`, ...), a new type's own name for
   * records the parser does not know, or `malformed` / `blank`. Rendered as `data-kind`.
   */
  readonly kind: string
  /** System subtype, attachment type, progress data type or queue operation (`indexFields`). */
  readonly subtype: string | null
  /** The parsed object; null for malformed and blank lines. */
  readonly json: JsonObject | null
  readonly raw: string
}

/** Parses a stored line. Never throws: bad lines become `malformed` so they are shown, not dropped. */
export const readLine = (line: string): LineRecord => {
  const record = parseLine(line)
  const fields = indexFields(record)
  const kind = record.kind === "unknown" ? (record.type ?? "unknown") : fields.kind
  const json = record.kind === "blank" || record.kind === "malformed" ? null : record.json
  return { record, kind, subtype: fields.subtype, json, raw: line }
}

/** Records shown raw and flagged: lines that are not JSON objects, and types nobody knows yet. */
export const isUnrecognised = (r: LineRecord): boolean =>
  r.record.kind === "malformed" || r.record.kind === "blank" || r.record.kind === "unknown"

// Readers for untyped JSON (tool inputs, `toolUseResult`, record fields the parser does not model).
export const str = (value: unknown): string | null => (typeof value === "string" ? value : null)
export const num = (value: unknown): number | null => (typeof value === "number" ? value : null)
export const obj = (value: unknown): JsonObject | null =>
  value !== null && typeof value === "object" && !Array.isArray(value) ? (value as JsonObject) : null
export const arr = (value: unknown): readonly unknown[] | null => (Array.isArray(value) ? value : null)

export type ImageSource = { readonly mediaType: string; readonly data: string }

/** A base64 image block's payload, or null when it has none (URL sources, missing data). */
export const imageSourceOf = (block: ImageBlock): ImageSource | null =>
  block.data && (block.sourceType === null || block.sourceType === "base64")
    ? { mediaType: block.mediaType ?? "image/png", data: block.data }
    : null

/** Text blocks joined, for records whose content is prose (compact summaries, API errors). */
export const blocksText = (blocks: readonly ContentBlock[], separator = "\n"): string =>
  blocks.flatMap((b) => (b.type === "text" ? [b.text] : [])).join(separator)

/**
 * A title record in the loaded entries (`/rename`, AI title) wins, as on the server, so a rename shows
 * live; otherwise the server's title, since a loaded window may not hold the session's first prompt.
 */
export const sessionTitle = (records: readonly LineRecord[], fallback: string | null): string | null => {
  const found = sessionTitleWithSource(records.map((r) => r.record))
  return found && (found.source === "custom-title" || found.source === "ai-title") ? found.title : fallback
}

/**
 * Bookkeeping: records Claude Code writes for itself (request logs, snapshots, injected context,
 * latches) rather than conversation. The page folds runs of them into one collapsed row; they are
 * never hidden. Anything not listed here, including every type nobody knows yet, stays a full row.
 */
const VISIBLE_METADATA = new Set(["custom-title", "ai-title", "pr-link", "tag"])

/** Attachment types that are context injected for the model, not something a person typed or saw. */
const BOOKKEEPING_ATTACHMENTS = new Set([
  "prompt_snapshot",
  "skill_listing",
  "environment",
  "model",
  "date",
  "date_change",
  "deferred_tools_delta",
  "deferred_tools_record",
  "mcp_instructions_delta",
  "agent_listing_delta",
  "session_context",
  "command_permissions",
  "todo_reminder",
  "task_reminder",
  "total_tokens_reminder",
  "budget_usd",
  "auto_mode",
  "nested_memory",
  "invoked_skills",
  "dynamic_skill",
  "compact_file_reference",
  "opened_file_in_ide",
  "plan_mode",
  "plan_mode_reentry",
])

const BOOKKEEPING_SYSTEM = new Set(["turn_duration", "api_metrics"])

export const isBookkeeping = (r: LineRecord): boolean => {
  const { record } = r
  switch (record.kind) {
    case "metadata":
      return !VISIBLE_METADATA.has(record.type)
    case "file-history-snapshot":
    case "queue-operation":
    case "progress":
      return true
    case "attachment":
      return record.attachmentType !== null && BOOKKEEPING_ATTACHMENTS.has(record.attachmentType)
    case "system":
      return record.subtype !== null && BOOKKEEPING_SYSTEM.has(record.subtype)
    default:
      return false
  }
}

/** Short name of a bookkeeping record for the group summary: `api-request`, `skill_listing`, ... */
export const bookkeepingName = (r: LineRecord): string =>
  r.record.kind === "attachment" || r.record.kind === "system" ? (r.subtype ?? r.kind) : r.kind

const TAG = /<([a-z][a-z-]*)>([\s\S]*?)<\/\1>/g

/** Claude Code wraps slash commands, shell mode and reminders in pseudo-XML tags inside user text. */
export const taggedSections = (text: string): { tag: string; body: string }[] => {
  const out: { tag: string; body: string }[] = []
  for (const match of text.matchAll(TAG)) out.push({ tag: match[1] ?? "", body: match[2] ?? "" })
  return out
}

export const KNOWN_TAGS = new Set([
  "command-name",
  "command-message",
  "command-args",
  "local-command-stdout",
  "local-command-stderr",
  "local-command-caveat",
  "bash-input",
  "bash-stdout",
  "bash-stderr",
  "system-reminder",
  "task-notification",
  "user-prompt-submit-hook",
])

/** True when the whole text is made of Claude Code's own tags (so it is a command, not a prompt). */
export const isTaggedOnly = (text: string): boolean => {
  const sections = taggedSections(text)
  if (sections.length === 0 || !sections.every((s) => KNOWN_TAGS.has(s.tag))) return false
  return text.replace(TAG, "").trim() === ""
}

export const isInterrupt = (text: string): boolean => /^\[Request interrupted by user[^\]]*\]$/.test(text.trim())
