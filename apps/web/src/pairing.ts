/**
 * Pairs each tool_use with its tool_result across entries (they live on different records, often
 * far apart with parallel calls), so a call renders with its result and the result record only
 * points back to it.
 */
import { type Block, hasJson, type Json, messageBlocks, type ParsedRecord } from "./records.ts"

export type ToolUse = Extract<Block, { type: "tool_use" }>
export type ToolResult = Extract<Block, { type: "tool_result" }>

export type PairedCall = { readonly seq: number; readonly call: ToolUse }
export type PairedResult = {
  readonly seq: number
  readonly result: ToolResult
  readonly toolUseResult: Json | undefined
}

export type ToolPairs = {
  readonly calls: ReadonlyMap<string, PairedCall>
  readonly results: ReadonlyMap<string, PairedResult>
}

export type SeqRecord = { readonly seq: number; readonly record: ParsedRecord }

export const pairTools = (items: Iterable<SeqRecord>): ToolPairs => {
  const calls = new Map<string, PairedCall>()
  const results = new Map<string, PairedResult>()
  for (const { seq, record } of items) {
    if (!hasJson(record) || (record.kind !== "assistant" && record.kind !== "user")) continue
    for (const block of messageBlocks(record.json)) {
      if (block.type === "tool_use" && block.id) calls.set(block.id, { seq, call: block })
      else if (block.type === "tool_result" && block.toolUseId && !results.has(block.toolUseId)) {
        results.set(block.toolUseId, { seq, result: block, toolUseResult: record.json.toolUseResult })
      }
    }
  }
  return { calls, results }
}

export const emptyPairs: ToolPairs = { calls: new Map(), results: new Map() }
