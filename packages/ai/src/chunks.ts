/**
 * A session cut into the pieces semantic search embeds: each user prompt, each stretch of assistant
 * text, and runs of consecutive tool calls summarised together. Every chunk keeps the `seq` of the
 * line it starts at, so a search hit can open the session there.
 */
import type { DigestItem, DigestRole } from "./session-digest.ts"

export interface Chunk {
  /** The line the chunk starts at. */
  readonly seq: number
  readonly role: DigestRole
  readonly text: string
}

export interface ChunkOptions {
  /**
   * Longest chunk in characters (default 1,000, ~250 tokens): short enough that one topic dominates
   * a chunk's vector, within every embedding model's context (nomic-embed-text: 2,048 tokens).
   */
  readonly maxChars?: number
  /** Most chunks per call (default 400): the start and the end of a huge session are kept. */
  readonly maxChunks?: number
}

export function sessionChunks(items: readonly DigestItem[], options: ChunkOptions = {}): Chunk[] {
  const maxChars = options.maxChars ?? 1_000
  const maxChunks = options.maxChunks ?? 400
  const chunks: Chunk[] = []
  let tools: { seq: number; parts: string[]; length: number } | null = null
  const flushTools = () => {
    if (tools) chunks.push({ seq: tools.seq, role: "tool", text: tools.parts.join("; ") })
    tools = null
  }
  for (const item of items) {
    if (item.role === "tool") {
      const text = item.text.slice(0, maxChars)
      if (tools && tools.length + 2 + text.length > maxChars) flushTools()
      if (tools === null) tools = { seq: item.seq, parts: [], length: -2 }
      tools.parts.push(text)
      tools.length += 2 + text.length
      continue
    }
    flushTools()
    for (const piece of splitText(item.text, maxChars)) chunks.push({ seq: item.seq, role: item.role, text: piece })
  }
  flushTools()
  if (chunks.length <= maxChunks) return chunks
  const head = Math.ceil(maxChunks / 2)
  return [...chunks.slice(0, head), ...chunks.slice(chunks.length - (maxChunks - head))]
}

/** Pieces of at most `max` characters, cut at a space where there is one in the second half. */
export function splitText(text: string, max: number): string[] {
  const pieces: string[] = []
  let rest = text.trim()
  while (rest.length > max) {
    let at = rest.lastIndexOf(" ", max)
    if (at < max / 2) at = max
    const code = rest.charCodeAt(at - 1)
    if (at === max && code >= 0xd800 && code <= 0xdbff) at -= 1
    pieces.push(rest.slice(0, at).trim())
    rest = rest.slice(at).trim()
  }
  if (rest !== "") pieces.push(rest)
  return pieces
}
