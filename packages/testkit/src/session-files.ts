import { readdir, readFile } from "node:fs/promises"
import { join } from "node:path"
import type { TokenUsage } from "./fake-anthropic.ts"

export type JsonRecord = Readonly<Record<string, unknown>>

const isRecord = (v: unknown): v is JsonRecord => typeof v === "object" && v !== null && !Array.isArray(v)

/** Every `.jsonl` below `dir`, subagent files included, sorted for stable output. */
export async function findJsonlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(".jsonl"))
    .map((e) => join(e.parentPath, e.name))
    .sort()
}

/**
 * Object records of JSONL bytes, read leniently: invalid UTF-8 becomes U+FFFD; blank, NUL-only, unparseable and
 * non-object lines are skipped. A reference reader for tests, not the product's parser.
 */
export function parseJsonl(bytes: Uint8Array | string): JsonRecord[] {
  const text = typeof bytes === "string" ? bytes : new TextDecoder("utf-8", { fatal: false }).decode(bytes)
  const out: JsonRecord[] = []
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue
    try {
      const v: unknown = JSON.parse(line)
      if (isRecord(v)) out.push(v)
    } catch {
      // skip
    }
  }
  return out
}

export async function readJsonl(path: string): Promise<JsonRecord[]> {
  return parseJsonl(await readFile(path))
}

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0)

/** Token usage of one assistant record, or undefined if it has none. */
export function recordUsage(r: JsonRecord): TokenUsage | undefined {
  if (r.type !== "assistant" || !isRecord(r.message) || !isRecord(r.message.usage)) return undefined
  const u = r.message.usage
  const nested = isRecord(u.cache_creation)
    ? num(u.cache_creation.ephemeral_5m_input_tokens) + num(u.cache_creation.ephemeral_1h_input_tokens)
    : 0
  return {
    input: num(u.input_tokens),
    output: num(u.output_tokens),
    cacheWrite: Math.max(num(u.cache_creation_input_tokens), nested),
    cacheRead: num(u.cache_read_input_tokens),
  }
}

const total = (u: TokenUsage) => u.input + u.output + u.cacheWrite + u.cacheRead

/**
 * Deduplicated usage over records from any number of files: one API response is written as several records
 * sharing message.id + requestId, and the one with the largest total wins. `<synthetic>` messages are skipped.
 */
export function dedupUsage(records: Iterable<JsonRecord>): TokenUsage & { readonly responses: number } {
  const best = new Map<string, TokenUsage>()
  let anonymous = 0
  for (const r of records) {
    const usage = recordUsage(r)
    if (!usage || !isRecord(r.message) || r.message.model === "<synthetic>") continue
    const id = typeof r.message.id === "string" ? r.message.id : undefined
    const key =
      id === undefined ? `anon:${anonymous++}` : typeof r.requestId === "string" ? `${id}\u0000${r.requestId}` : id
    const prev = best.get(key)
    if (!prev || total(usage) > total(prev)) best.set(key, usage)
  }
  let acc = { input: 0, output: 0, cacheWrite: 0, cacheRead: 0 }
  for (const u of best.values())
    acc = {
      input: acc.input + u.input,
      output: acc.output + u.output,
      cacheWrite: acc.cacheWrite + u.cacheWrite,
      cacheRead: acc.cacheRead + u.cacheRead,
    }
  return { ...acc, responses: best.size }
}

/** Dedup totals across every session file under `dir` (e.g. a CLAUDE_CONFIG_DIR/projects folder). */
export async function dedupUsageInDir(dir: string): Promise<TokenUsage & { readonly responses: number }> {
  const records: JsonRecord[] = []
  for (const f of await findJsonlFiles(dir)) records.push(...(await readJsonl(f)))
  return dedupUsage(records)
}

/**
 * Content blocks of a user/assistant record's message, as objects. Other types are excluded on purpose: 2.1.330
 * also writes `api-request-blob` records whose `message` repeats request content.
 */
export function contentBlocks(r: JsonRecord): JsonRecord[] {
  if ((r.type !== "user" && r.type !== "assistant") || !isRecord(r.message)) return []
  const c = r.message.content
  return Array.isArray(c) ? c.filter(isRecord) : typeof c === "string" ? [{ type: "text", text: c }] : []
}
