/**
 * The flat, scalar view of a record that a store indexes and filters on. Everything here is derived
 * from `parseLine`'s output, so the server and the dashboard agree on what a line means.
 */
import { contentBlocks, obj, str, type TranscriptRecord } from "./records.ts"
import { truncate } from "./text.ts"

export interface IndexFields {
  /**
   * The entry kind: the record's own `type` (`user`, `system`, `custom-title`, `progress`, ...), or
   * `history-entry`, `unknown`, `malformed`, `blank` for lines without a usable type.
   */
  readonly kind: string
  /**
   * The qualifier the corpus uses (`SOURCES.tsv`): `system` subtype, `attachment.type`,
   * `progress` `data.type`, `queue-operation` operation. Null elsewhere.
   */
  readonly subtype: string | null
  readonly uuid: string | null
  readonly parentUuid: string | null
  readonly logicalParentUuid: string | null
  readonly sessionId: string | null
  /** As found in the line, only when it is a string (not validated: sanitised files hold placeholders). */
  readonly timestamp: string | null
  readonly isSidechain: boolean
  readonly agentId: string | null
  readonly cwd: string | null
  readonly model: string | null
  /** `system/api_error`, `isApiErrorMessage` assistants, and tool results with `is_error`. */
  readonly isError: boolean
  readonly customTitle: string | null
  readonly aiTitle: string | null
  readonly summaryText: string | null
  /** Set only on a human-typed prompt; see `promptText`. */
  readonly firstPromptText: string | null
}

const NULL_FIELDS = {
  subtype: null,
  uuid: null,
  parentUuid: null,
  logicalParentUuid: null,
  sessionId: null,
  timestamp: null,
  isSidechain: false,
  agentId: null,
  cwd: null,
  model: null,
  isError: false,
  customTitle: null,
  aiTitle: null,
  summaryText: null,
  firstPromptText: null,
} as const

export function indexFields(record: TranscriptRecord): IndexFields {
  if (record.kind === "blank" || record.kind === "malformed") return { kind: record.kind, ...NULL_FIELDS }
  const j = record.json
  let kind: string = record.kind
  let subtype: string | null = null
  switch (record.kind) {
    case "metadata":
      kind = record.type
      break
    case "system":
      subtype = record.subtype
      break
    case "attachment":
      subtype = record.attachmentType
      break
    case "progress":
      subtype = record.dataType
      break
    case "queue-operation":
      subtype = record.operation
      break
  }
  const message = obj(j.message)
  return {
    kind,
    subtype,
    uuid: str(j.uuid),
    parentUuid: str(j.parentUuid),
    logicalParentUuid: str(j.logicalParentUuid),
    sessionId: str(j.sessionId),
    timestamp: str(j.timestamp),
    isSidechain: j.isSidechain === true,
    agentId: str(j.agentId),
    cwd: str(j.cwd),
    model: record.kind === "assistant" ? str(message?.model) : null,
    isError: isErrorRecord(record),
    customTitle: record.kind === "metadata" && record.type === "custom-title" ? str(j.customTitle) : null,
    aiTitle: record.kind === "metadata" && record.type === "ai-title" ? str(j.aiTitle) : null,
    summaryText: record.kind === "summary" ? record.summary : null,
    firstPromptText: promptText(record),
  }
}

export function isErrorRecord(record: TranscriptRecord): boolean {
  switch (record.kind) {
    case "system":
      return record.subtype === "api_error"
    case "assistant":
      return record.json.isApiErrorMessage === true
    case "user":
      return contentBlocks(record).some((b) => b.type === "tool_result" && b.isError)
    default:
      return false
  }
}

/** Longest prompt text kept in the index; titles only need the start. */
export const PROMPT_TEXT_MAX = 2000

// Text Claude Code writes into user records on the user's behalf (reference §3.2): slash-command XML,
// local-command output, shell mode, reminders, notifications, caveats, interrupts, compaction summaries.
const GENERATED_PREFIXES = [
  "<command-",
  "<local-command-",
  "<bash-input>",
  "<bash-stdout>",
  "<bash-stderr>",
  "<system-reminder>",
  "<task-notification>",
  "<user-prompt-submit-hook>",
  "Caveat: The messages below were generated",
  "[Request interrupted",
  "This session is being continued from a previous conversation",
]

/**
 * The text of a prompt a human typed, or null: string content or text blocks of a main-chain user
 * record that is not meta, not a tool result, not a compaction summary and not generated noise.
 */
export function promptText(record: TranscriptRecord): string | null {
  if (record.kind !== "user") return null
  const j = record.json
  if (j.isMeta === true || j.isCompactSummary === true || j.isVisibleInTranscriptOnly === true) return null
  // Sidechain "prompts" are the Task tool's input, written by the model.
  if (j.isSidechain === true) return null
  // `origin` marks prompts Claude Code injected: async-agent completions, messages from teammates.
  const origin = obj(j.origin)
  if (origin !== null && (origin.kind === "task-notification" || "senderTaskId" in origin)) return null
  let text: string
  if (typeof record.content === "string") {
    text = record.content
  } else {
    const parts: string[] = []
    for (const block of record.content) {
      if (block.type === "tool_result") return null
      if (block.type === "text") parts.push(block.text)
    }
    text = parts.join("\n")
  }
  text = text.trim()
  if (text === "") return null
  if (text.startsWith("<command-message>")) return promptCommand(text)
  if (GENERATED_PREFIXES.some((p) => text.startsWith(p))) return null
  return truncate(text, PROMPT_TEXT_MAX)
}

/**
 * A prompt command the user typed (`/review 42`, a plugin's skill, `/init`): Claude Code writes its name
 * and arguments as XML that opens with `<command-message>`, and the expanded prompt in a meta record
 * after it. Sessions started that way had no title at all ("untitled a5c478e1": 5 of erk's 7 in the
 * corpus, walkthrough 3). Local commands (`/clear`, `/model`: `<command-name>` first) stay untitled.
 */
function promptCommand(text: string): string | null {
  const name = /<command-name>([^<]*)<\/command-name>/.exec(text)?.[1]?.trim()
  if (!name) return null
  const args = /<command-args>([^<]*)<\/command-args>/.exec(text)?.[1]?.trim() ?? ""
  return truncate(args ? `${name} ${args}` : name, PROMPT_TEXT_MAX)
}
