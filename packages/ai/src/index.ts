/**
 * @overlord/ai: local AI through Ollama, independent of the storage engine. Titles and summaries
 * for sessions, chunk embeddings and hybrid (full-text + vector) ranking for semantic search, and
 * the background indexer that drives them through a narrow store port.
 */
export * from "./chunks.ts"
export * from "./indexer.ts"
export * from "./ollama-client.ts"
export * from "./session-digest.ts"
export * from "./titles.ts"
export * from "./vectors.ts"
