/**
 * @overlord/transcript: reads Claude Code session files (`~/.claude/projects/**\/*.jsonl`).
 * Pure TypeScript, no dependencies, runs in the browser and on the server alike.
 * Format reference: shared/reference/claude-code-jsonl.md.
 */
export * from "./content.ts"
export * from "./conversation.ts"
export * from "./index-fields.ts"
export * from "./line-elision-stream.ts"
export * from "./line-facts.ts"
export * from "./lines.ts"
export * from "./paths.ts"
export * from "./pricing.ts"
export {
  type AssistantRecord,
  type AttachmentRecord,
  type BlankRecord,
  contentBlocks,
  type FileHistorySnapshotRecord,
  type HistoryEntryRecord,
  isParsed,
  type JsonObject,
  jsonOf,
  type MalformedRecord,
  METADATA_TYPES,
  type MetadataRecord,
  type ParsedRecord,
  type ProgressRecord,
  parseLine,
  type QueueOperationRecord,
  type RecordKind,
  type SummaryRecord,
  type SystemRecord,
  type TranscriptRecord,
  type UnknownRecord,
  type UserRecord,
} from "./records.ts"
export * from "./search-text.ts"
export { hasLoneSurrogate, replaceLoneSurrogates } from "./text.ts"
export * from "./usage.ts"
