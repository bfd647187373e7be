/**
 * Pairs each tool_use with its tool_result across entries (they live on different records, often
 * far apart with parallel calls), so a call renders with its result and the result record only
 * points back to it. Keyed by store seq for deep links; records need no uuid here, unlike
 * `buildConversation`'s pairing, because the loaded window may hold only part of the chain.
 */
import { contentBlocks, type ToolResultBlock, type ToolUseBlock, usageOf } from "@overlord/transcript"
import type { LineRecord } from "./records.ts"

export type ToolUse = ToolUseBlock
export type ToolResult = ToolResultBlock

export type PairedCall = { readonly seq: number; readonly call: ToolUse }
export type PairedResult = {
  readonly seq: number
  readonly result: ToolResult
  /** The record's `toolUseResult`: the tool's structured output. */
  readonly toolUseResult: unknown
}

export type ToolPairs = {
  readonly calls: ReadonlyMap<string, PairedCall>
  readonly results: ReadonlyMap<string, PairedResult>
}

export type SeqRecord = { readonly seq: number; readonly record: LineRecord }

export const pairTools = (items: Iterable<SeqRecord>): ToolPairs => {
  const calls = new Map<string, PairedCall>()
  const results = new Map<string, PairedResult>()
  for (const { seq, record } of items) {
    const r = record.record
    if (r.kind !== "assistant" && r.kind !== "user") continue
    for (const block of contentBlocks(r)) {
      if (block.type === "tool_use" && block.id) calls.set(block.id, { seq, call: block })
      else if (block.type === "tool_result" && block.toolUseId && !results.has(block.toolUseId)) {
        results.set(block.toolUseId, { seq, result: block, toolUseResult: r.json.toolUseResult })
      }
    }
  }
  return { calls, results }
}

export const emptyPairs: ToolPairs = { calls: new Map(), results: new Map() }

/**
 * Seqs that carry a response's usage line. Claude Code writes one record per content block, each with
 * the response's usage (before 2.1.97 only the last one final), so the line goes on the last block
 * of each response (`usageOf`'s dedup key) instead of repeating on every block.
 */
export const usageLineSeqs = (items: Iterable<SeqRecord>): ReadonlySet<number> => {
  const lastByKey = new Map<string, number>()
  const out = new Set<number>()
  for (const { seq, record } of items) {
    const usage = usageOf(record.record)
    if (!usage) continue
    if (usage.dedupKey === null) out.add(seq)
    else lastByKey.set(usage.dedupKey, seq)
  }
  for (const seq of lastByKey.values()) out.add(seq)
  return out
}
