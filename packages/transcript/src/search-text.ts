/**
 * The text of a record worth full-text searching: what a person would recognise, not envelope ids,
 * `toolUseResult` duplicates, progress mirrors or base64 payloads.
 */
import type { ContentBlock } from "./content.ts"
import { obj, type TranscriptRecord } from "./records.ts"
import { replaceLoneSurrogates, truncate } from "./text.ts"

/** Cap per record (UTF-16 units); Edit/Write inputs and tool outputs can be megabytes. */
export const SEARCH_TEXT_MAX = 64 * 1024

export function searchText(record: TranscriptRecord): string {
  const parts = new Parts()
  switch (record.kind) {
    case "user":
    case "assistant":
      if (typeof record.content === "string") parts.add(record.content)
      else addBlocks(parts, record.content)
      break
    case "system":
      parts.add(record.json.content)
      break
    case "summary":
      parts.add(record.summary)
      break
    case "attachment": {
      const a = obj(record.json.attachment)
      parts.add(a?.prompt)
      parts.add(a?.content)
      break
    }
    case "queue-operation":
      parts.add(record.json.content)
      break
    case "metadata": {
      const j = record.json
      for (const key of ["customTitle", "aiTitle", "lastPrompt", "tag", "agentName", "summary", "prUrl"]) {
        parts.add(j[key])
      }
      break
    }
    case "history-entry":
      parts.add(record.display)
      break
  }
  return replaceLoneSurrogates(parts.text())
}

function addBlocks(parts: Parts, blocks: readonly ContentBlock[]): void {
  for (const block of blocks) {
    if (parts.full) return
    switch (block.type) {
      case "text":
        parts.add(block.text)
        break
      case "thinking":
        parts.add(block.thinking)
        break
      case "tool_use":
        parts.add(block.name)
        parts.add(stringify(block.input))
        break
      case "tool_result":
        if (typeof block.content === "string") parts.add(block.content)
        else addBlocks(parts, block.content)
        break
      case "document":
        parts.add(block.title)
        break
      // image, redacted_thinking and unknown blocks carry nothing searchable (or only base64).
    }
  }
}

function stringify(value: unknown): string | null {
  if (value === undefined || value === null) return null
  if (typeof value === "string") return value
  try {
    return JSON.stringify(value)
  } catch {
    return null
  }
}

/** Collects strings up to `SEARCH_TEXT_MAX`, so huge records are never fully concatenated. */
class Parts {
  private readonly list: string[] = []
  private length = 0

  get full(): boolean {
    return this.length >= SEARCH_TEXT_MAX
  }

  add(value: unknown): void {
    if (typeof value !== "string" || value === "" || this.full) return
    const piece = truncate(value, SEARCH_TEXT_MAX - this.length)
    this.list.push(piece)
    this.length += piece.length + 1
  }

  text(): string {
    return truncate(this.list.join("\n"), SEARCH_TEXT_MAX)
  }
}
