/**
 * @overlord/transcript: reads Claude Code session files (`~/.claude/projects/**\/*.jsonl`).
 * Pure TypeScript, no dependencies, runs in the browser and on the server alike.
 * Format reference: shared/reference/claude-code-jsonl.md.
 */
export * from "./content.ts"
export * from "./conversation.ts"
export * from "./index-fields.ts"
export * from "./paths.ts"
export * from "./pricing.ts"
export * from "./records.ts"
export * from "./search-text.ts"
export * from "./text.ts"
export * from "./usage.ts"
