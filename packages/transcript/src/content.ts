/**
 * Typed views of `message.content[]` blocks (reference §4). Every block keeps its raw object, and
 * block types the parser does not model come back as `{type: "unknown"}` instead of being dropped.
 */
import type { JsonObject } from "./records.ts"

export interface TextBlock {
  readonly type: "text"
  readonly text: string
  readonly raw: JsonObject
}

export interface ThinkingBlock {
  readonly type: "thinking"
  readonly thinking: string
  readonly signature: string | null
  readonly raw: JsonObject
}

export interface RedactedThinkingBlock {
  readonly type: "redacted_thinking"
  readonly data: string
  readonly raw: JsonObject
}

export interface ToolUseBlock {
  readonly type: "tool_use"
  readonly id: string
  readonly name: string
  readonly input: unknown
  readonly raw: JsonObject
}

export interface ToolResultBlock {
  readonly type: "tool_result"
  readonly toolUseId: string
  /** A string, or blocks (text and images; Task/Agent results and MCP screenshots). */
  readonly content: string | readonly ContentBlock[]
  /** `is_error` is often omitted when false. */
  readonly isError: boolean
  readonly raw: JsonObject
}

export interface ImageBlock {
  readonly type: "image"
  /** `source.type`, normally `base64`. */
  readonly sourceType: string | null
  readonly mediaType: string | null
  /** Base64 payload; can be ~1 MB. Never put it in search text. */
  readonly data: string | null
  readonly raw: JsonObject
}

export interface DocumentBlock {
  readonly type: "document"
  readonly title: string | null
  readonly mediaType: string | null
  readonly raw: JsonObject
}

export interface UnknownBlock {
  readonly type: "unknown"
  /** The block's own `type`, if it had a string one. */
  readonly blockType: string | null
  readonly raw: unknown
}

export type ContentBlock =
  | TextBlock
  | ThinkingBlock
  | RedactedThinkingBlock
  | ToolUseBlock
  | ToolResultBlock
  | ImageBlock
  | DocumentBlock
  | UnknownBlock

/** `message.content` as a string or typed blocks; anything else (absent, number, object) -> `[]`. */
export function parseContent(content: unknown): string | readonly ContentBlock[] {
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return []
  return content.map(parseContentBlock)
}

export function parseContentBlock(raw: unknown): ContentBlock {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return { type: "unknown", blockType: null, raw }
  }
  const b = raw as JsonObject
  switch (b.type) {
    case "text":
      if (typeof b.text === "string") return { type: "text", text: b.text, raw: b }
      break
    case "thinking":
      if (typeof b.thinking === "string") {
        return { type: "thinking", thinking: b.thinking, signature: strOrNull(b.signature), raw: b }
      }
      break
    case "redacted_thinking":
      if (typeof b.data === "string") return { type: "redacted_thinking", data: b.data, raw: b }
      break
    case "tool_use":
      if (typeof b.id === "string" && typeof b.name === "string") {
        return { type: "tool_use", id: b.id, name: b.name, input: b.input, raw: b }
      }
      break
    case "tool_result":
      if (typeof b.tool_use_id === "string") {
        return {
          type: "tool_result",
          toolUseId: b.tool_use_id,
          content: b.content === undefined || b.content === null ? "" : parseContent(b.content),
          isError: b.is_error === true,
          raw: b,
        }
      }
      break
    case "image": {
      const source = objOrNull(b.source)
      return {
        type: "image",
        sourceType: strOrNull(source?.type),
        mediaType: strOrNull(source?.media_type),
        data: strOrNull(source?.data),
        raw: b,
      }
    }
    case "document": {
      const source = objOrNull(b.source)
      return { type: "document", title: strOrNull(b.title), mediaType: strOrNull(source?.media_type), raw: b }
    }
  }
  return { type: "unknown", blockType: strOrNull(b.type), raw: b }
}

/** The text of a tool_result's content: the string, or its text blocks joined by newlines. */
export function toolResultText(block: ToolResultBlock): string {
  if (typeof block.content === "string") return block.content
  const parts: string[] = []
  for (const inner of block.content) if (inner.type === "text") parts.push(inner.text)
  return parts.join("\n")
}

function strOrNull(value: unknown): string | null {
  return typeof value === "string" ? value : null
}

function objOrNull(value: unknown): JsonObject | null {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as JsonObject) : null
}
