/**
 * The one place that knows the raw JSONL record shape. Renderers ask this module, never the JSON
 * directly, so switching to `@overlord/transcript` later touches only this file.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
export type JsonObject = { [key: string]: Json }

export type ParsedRecord =
  | { readonly kind: "malformed"; readonly error: string; readonly raw: string }
  | { readonly kind: string; readonly json: JsonObject; readonly raw: string }

export type ImageSource = { readonly mediaType: string; readonly data: string }

export type Block =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "thinking"; readonly thinking: string; readonly redacted: boolean }
  | { readonly type: "tool_use"; readonly id: string; readonly name: string; readonly input: JsonObject }
  | {
      readonly type: "tool_result"
      readonly toolUseId: string
      readonly content: readonly Block[]
      readonly isError: boolean
    }
  | { readonly type: "image"; readonly source: ImageSource | null }
  | { readonly type: "other"; readonly blockType: string; readonly json: Json }

export const isObject = (value: Json | undefined): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value)

export const str = (value: Json | undefined): string | null => (typeof value === "string" ? value : null)
export const num = (value: Json | undefined): number | null => (typeof value === "number" ? value : null)
export const obj = (value: Json | undefined): JsonObject | null => (isObject(value) ? value : null)
export const arr = (value: Json | undefined): readonly Json[] | null => (Array.isArray(value) ? value : null)

/** Never throws: bad lines become `malformed` so they are shown raw rather than dropped. */
export const parseLine = (line: string): ParsedRecord => {
  const trimmed = line
    .replace(/^\uFEFF/, "")
    .replace(/\0+/g, "")
    .trim()
  let value: unknown
  try {
    value = JSON.parse(trimmed)
  } catch (error) {
    return { kind: "malformed", error: error instanceof Error ? error.message : "invalid JSON", raw: line }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { kind: "malformed", error: "not a JSON object", raw: line }
  }
  const json = value as JsonObject
  const type = str(json.type)
  return { kind: type ?? "unknown", json, raw: line }
}

export const hasJson = (record: ParsedRecord): record is Extract<ParsedRecord, { json: JsonObject }> => "json" in record

const imageSource = (source: Json | undefined): ImageSource | null => {
  const s = obj(source)
  if (!s) return null
  const data = str(s.data)
  const mediaType = str(s.media_type) ?? "image/png"
  if (!data || str(s.type) !== "base64") return null
  return { mediaType, data }
}

export const parseBlock = (raw: Json): Block => {
  if (typeof raw === "string") return { type: "text", text: raw }
  const b = obj(raw)
  if (!b) return { type: "other", blockType: typeof raw, json: raw }
  const type = str(b.type) ?? "unknown"
  switch (type) {
    case "text":
      return { type: "text", text: str(b.text) ?? "" }
    case "thinking":
      return { type: "thinking", thinking: str(b.thinking) ?? "", redacted: false }
    case "redacted_thinking":
      return { type: "thinking", thinking: "", redacted: true }
    case "tool_use":
    case "server_tool_use":
      return { type: "tool_use", id: str(b.id) ?? "", name: str(b.name) ?? "?", input: obj(b.input) ?? {} }
    case "tool_result": {
      const content = b.content
      const blocks = typeof content === "string" ? [parseBlock(content)] : (arr(content) ?? []).map(parseBlock)
      return { type: "tool_result", toolUseId: str(b.tool_use_id) ?? "", content: blocks, isError: b.is_error === true }
    }
    case "image":
      return { type: "image", source: imageSource(b.source) }
    default:
      return { type: "other", blockType: type, json: b }
  }
}

/** `message.content` of user/assistant records: a string or an array of blocks. */
export const messageBlocks = (json: JsonObject): readonly Block[] => {
  const message = obj(json.message)
  if (!message) return []
  const content = message.content
  if (typeof content === "string") return [{ type: "text", text: content }]
  return (arr(content) ?? []).map(parseBlock)
}

export const messageModel = (json: JsonObject): string | null => str(obj(json.message)?.model)
export const timestampOf = (json: JsonObject): string | null => str(json.timestamp)
export const subtypeOf = (json: JsonObject): string | null => str(json.subtype)

export type Usage = { input: number; output: number; cacheWrite: number; cacheRead: number }

export const messageUsage = (json: JsonObject): Usage | null => {
  const usage = obj(obj(json.message)?.usage)
  if (!usage) return null
  const nested = obj(usage.cache_creation)
  const nestedWrite = (num(nested?.ephemeral_5m_input_tokens) ?? 0) + (num(nested?.ephemeral_1h_input_tokens) ?? 0)
  return {
    input: num(usage.input_tokens) ?? 0,
    output: num(usage.output_tokens) ?? 0,
    cacheWrite: Math.max(num(usage.cache_creation_input_tokens) ?? 0, nestedWrite),
    cacheRead: num(usage.cache_read_input_tokens) ?? 0,
  }
}

/** The tool's structured output, beside the tool_result block on the same user record. */
export const toolUseResultOf = (json: JsonObject): Json | undefined => json.toolUseResult

export const agentIdOfResult = (toolUseResult: Json | undefined): string | null => {
  const r = obj(toolUseResult)
  return r ? str(r.agentId) : null
}

/** Metadata records that name the session; later records win, custom beats AI. */
export const titleOf = (record: ParsedRecord): { source: "custom" | "ai" | "summary"; title: string } | null => {
  if (!hasJson(record)) return null
  const j = record.json
  if (record.kind === "custom-title" && str(j.customTitle)) return { source: "custom", title: str(j.customTitle)! }
  if (record.kind === "ai-title" && str(j.aiTitle)) return { source: "ai", title: str(j.aiTitle)! }
  if (record.kind === "summary" && str(j.summary)) return { source: "summary", title: str(j.summary)! }
  return null
}

export const sessionTitle = (records: readonly ParsedRecord[], fallback: string | null): string | null => {
  let custom: string | null = null
  let ai: string | null = null
  for (const record of records) {
    const t = titleOf(record)
    if (t?.source === "custom") custom = t.title
    else if (t?.source === "ai") ai = t.title
  }
  return custom ?? ai ?? fallback
}

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
