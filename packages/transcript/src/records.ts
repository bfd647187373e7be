/**
 * One line of a Claude Code session file -> one `TranscriptRecord`.
 *
 * Claude Code has no published schema and adds record types often, so the parser dispatches on
 * `type`, keeps the whole parsed object on every record (`json`) and never throws: a bad line must
 * not cost the rest of the file. See `shared/reference/claude-code-jsonl.md` §2, §3 and §10.
 */
import { type ContentBlock, parseContent } from "./content.ts"
import { LONE_SURROGATE } from "./text.ts"

export type JsonObject = { readonly [key: string]: unknown }

/**
 * Session-metadata record types (reference §3.10): no `uuid`, keyed by `sessionId`, re-appended at
 * exit, last wins. Listed so they are recognised rather than reported as `unknown`.
 */
export const METADATA_TYPES: ReadonlySet<string> = new Set([
  // S88 src/types/logs.ts
  "custom-title",
  "ai-title",
  "last-prompt",
  "tag",
  "agent-name",
  "agent-color",
  "agent-setting",
  "mode",
  "pr-link",
  "worktree-state",
  "task-summary",
  "content-replacement",
  "attribution-snapshot",
  "speculation-accept",
  "marble-origami-commit",
  "marble-origami-snapshot",
  // BIN330 policy tables (semantics partly unconfirmed)
  "permission-mode",
  "relocated",
  "ended-by-model",
  "frame-link",
  "bridge-session",
  "atis-latch",
  "isolation-latch",
  "session-owner",
  "dev-mods",
  "memory-mode",
  "tools-used",
  "cost-state",
  "data-flow-records",
  "data-flow-incomplete",
  "derived-from",
  "history-suppression",
  "continued-in",
  "resume-head-vouch",
  "fork-context-ref",
  "observer-ref",
  "artifact-comment-monitor",
  "artifact-autoreact-ledger",
  "api-request",
  "api-request-resumed",
  "api-request-shape",
  "api-request-blob",
  "file-history-delta",
  "repl-mode",
  "hybrid-organization",
  "host-row",
  // 2.0.0 only
  "checkpoint",
])

interface ObjectRecord {
  /** The parsed line, untouched: nothing the parser does not model is ever lost. */
  readonly json: JsonObject
  /**
   * True when some string in the line holds an unpaired UTF-16 surrogate (reference §10: strings cut
   * mid-emoji). JSON.parse accepts them; UTF-8 encoders may not, so callers can sanitise first.
   */
  readonly hasLoneSurrogates: boolean
}

export interface BlankRecord {
  readonly kind: "blank"
}

/**
 * `reason: "invalid-json"` for text JSON.parse rejects (truncated lines, comments, glued records);
 * `reason: "non-object"` for valid JSON that is not an object (`42`, `[1]`, `"x"`, `null`), which
 * Claude Code also skips. Both are one kind so a store needs one rule: keep the line, index nothing.
 */
export interface MalformedRecord {
  readonly kind: "malformed"
  readonly reason: "invalid-json" | "non-object"
  readonly error: string
}

/** An object whose `type` the parser does not know, or that has no string `type`. */
export interface UnknownRecord extends ObjectRecord {
  readonly kind: "unknown"
  readonly type: string | null
}

export interface UserRecord extends ObjectRecord {
  readonly kind: "user"
  /** `message.content`: a string for typed prompts, blocks otherwise; `[]` when absent. */
  readonly content: string | readonly ContentBlock[]
}

export interface AssistantRecord extends ObjectRecord {
  readonly kind: "assistant"
  readonly content: string | readonly ContentBlock[]
}

export interface SystemRecord extends ObjectRecord {
  readonly kind: "system"
  /** `null` on the subtype-less 1.0.x hook notices. */
  readonly subtype: string | null
}

export interface SummaryRecord extends ObjectRecord {
  readonly kind: "summary"
  readonly summary: string | null
  readonly leafUuid: string | null
}

export interface AttachmentRecord extends ObjectRecord {
  readonly kind: "attachment"
  readonly attachmentType: string | null
}

export interface ProgressRecord extends ObjectRecord {
  readonly kind: "progress"
  readonly dataType: string | null
}

export interface FileHistorySnapshotRecord extends ObjectRecord {
  readonly kind: "file-history-snapshot"
  readonly messageId: string | null
}

export interface QueueOperationRecord extends ObjectRecord {
  readonly kind: "queue-operation"
  readonly operation: string | null
}

export interface MetadataRecord extends ObjectRecord {
  readonly kind: "metadata"
  /** The record's `type`, one of `METADATA_TYPES`. */
  readonly type: string
}

/**
 * A line of `~/.claude/history.jsonl` (reference §1.4): the one file whose objects have no `type`.
 * Recognised by shape (`display` string + numeric `timestamp`) so it is not reported as unknown.
 */
export interface HistoryEntryRecord extends ObjectRecord {
  readonly kind: "history-entry"
  readonly display: string
}

export type TranscriptRecord =
  | BlankRecord
  | MalformedRecord
  | UnknownRecord
  | UserRecord
  | AssistantRecord
  | SystemRecord
  | SummaryRecord
  | AttachmentRecord
  | ProgressRecord
  | FileHistorySnapshotRecord
  | QueueOperationRecord
  | MetadataRecord
  | HistoryEntryRecord

export type RecordKind = TranscriptRecord["kind"]

/** Records that carry their parsed object (everything except blank and malformed). */
export type ParsedRecord = Exclude<TranscriptRecord, BlankRecord | MalformedRecord>

const BLANK: BlankRecord = { kind: "blank" }

/** Parses one line (without its `\n`). Never throws, whatever the input. */
export function parseLine(line: string): TranscriptRecord {
  let text = typeof line === "string" ? line : String(line)
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  if (text.endsWith("\r")) text = text.slice(0, -1)
  // NUL runs come from crashes with delayed allocation (reference §10): treat as blank, not malformed.
  if (/^[\s\0]*$/.test(text)) return BLANK
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return { kind: "malformed", reason: "invalid-json", error: error instanceof Error ? error.message : String(error) }
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const shape = value === null ? "null" : Array.isArray(value) ? "array" : typeof value
    return { kind: "malformed", reason: "non-object", error: `expected a JSON object, got ${shape}` }
  }
  return classify(value as JsonObject, mayHaveLoneSurrogates(text) && containsLoneSurrogate(value))
}

function classify(json: JsonObject, hasLoneSurrogates: boolean): TranscriptRecord {
  const type = json.type
  if (typeof type !== "string") {
    if (typeof json.display === "string" && typeof json.timestamp === "number") {
      return { kind: "history-entry", json, hasLoneSurrogates, display: json.display }
    }
    return { kind: "unknown", json, hasLoneSurrogates, type: null }
  }
  switch (type) {
    case "user":
      return { kind: "user", json, hasLoneSurrogates, content: messageContent(json) }
    case "assistant":
      return { kind: "assistant", json, hasLoneSurrogates, content: messageContent(json) }
    case "system":
      return { kind: "system", json, hasLoneSurrogates, subtype: str(json.subtype) }
    case "summary":
      return { kind: "summary", json, hasLoneSurrogates, summary: str(json.summary), leafUuid: str(json.leafUuid) }
    case "attachment":
      return { kind: "attachment", json, hasLoneSurrogates, attachmentType: str(obj(json.attachment)?.type) }
    case "progress":
      return { kind: "progress", json, hasLoneSurrogates, dataType: str(obj(json.data)?.type) }
    case "file-history-snapshot":
      return { kind: "file-history-snapshot", json, hasLoneSurrogates, messageId: str(json.messageId) }
    case "queue-operation":
      return { kind: "queue-operation", json, hasLoneSurrogates, operation: str(json.operation) }
    default:
      if (METADATA_TYPES.has(type)) return { kind: "metadata", json, hasLoneSurrogates, type }
      return { kind: "unknown", json, hasLoneSurrogates, type }
  }
}

function messageContent(json: JsonObject): string | readonly ContentBlock[] {
  return parseContent(obj(json.message)?.content)
}

/** True for every record that carries its parsed object. */
export function isParsed(record: TranscriptRecord): record is ParsedRecord {
  return record.kind !== "blank" && record.kind !== "malformed"
}

/** `record.json` or `null` for blank/malformed lines. */
export function jsonOf(record: TranscriptRecord): JsonObject | null {
  return isParsed(record) ? record.json : null
}

/** Content blocks of a user/assistant record (a string prompt becomes one text block); `[]` otherwise. */
export function contentBlocks(record: TranscriptRecord): readonly ContentBlock[] {
  if (record.kind !== "user" && record.kind !== "assistant") return []
  const { content } = record
  return typeof content === "string" ? [{ type: "text", text: content, raw: { type: "text", text: content } }] : content
}

// Cheap pre-check: a lone surrogate can only come from a `\uD8xx`-`\uDFxx` escape or from a raw
// lone surrogate in the input string, so most lines skip the walk over the parsed value. Raw
// surrogate *pairs* (every emoji) are well formed and must not trigger the walk.
function mayHaveLoneSurrogates(text: string): boolean {
  // indexOf first: most lines have no `\u` escape at all, and the search is far cheaper than the regex.
  return (text.includes("\\u") && /\\u[dD][89a-fA-F]/.test(text)) || !text.isWellFormed()
}

function containsLoneSurrogate(value: unknown): boolean {
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    if (typeof v === "string") {
      if (LONE_SURROGATE.test(v)) return true
    } else if (Array.isArray(v)) {
      for (const item of v) stack.push(item)
    } else if (v !== null && typeof v === "object") {
      for (const [k, item] of Object.entries(v)) {
        if (LONE_SURROGATE.test(k)) return true
        stack.push(item)
      }
    }
  }
  return false
}

/** The value if it is a string, else null. */
export function str(value: unknown): string | null {
  return typeof value === "string" ? value : null
}

/** The value if it is a plain object (not an array), else null. */
export function obj(value: unknown): JsonObject | null {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as JsonObject) : null
}
