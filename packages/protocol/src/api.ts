/**
 * The read API (`/api/v1/...`) served to the dashboard and to scripts. Schema-only.
 *
 * Entries carry the raw line as the file held it (`line`), decoded as UTF-8; clients parse it with
 * `@overlord/transcript`, the same parser the server indexes with, so there is one interpretation.
 */
import { Schema } from "effect"

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Iso = Schema.String

export const TokenTotals = Schema.Struct({
  input: Count,
  output: Count,
  cacheWrite: Count,
  cacheRead: Count,
  costUsd: Schema.Number,
})
export type TokenTotals = typeof TokenTotals.Type

export const Machine = Schema.Struct({
  machineId: Schema.String,
  name: Schema.String,
  online: Schema.Boolean,
  lastSeenAt: Schema.NullOr(Iso),
  filesTracked: Count,
  bytesPending: Count,
  lastError: Schema.NullOr(Schema.String),
})
export type Machine = typeof Machine.Type

export const Project = Schema.Struct({
  /** Encoded directory name under `projects/` (lossy; display `cwd`). */
  projectDir: Schema.String,
  cwd: Schema.NullOr(Schema.String),
  sessionCount: Count,
  lastActivityAt: Schema.NullOr(Iso),
})
export type Project = typeof Project.Type

export const SessionSummary = Schema.Struct({
  sessionId: Schema.String,
  machineId: Schema.String,
  projectDir: Schema.String,
  cwd: Schema.NullOr(Schema.String),
  /** custom title over AI title over first prompt. */
  title: Schema.NullOr(Schema.String),
  firstAt: Schema.NullOr(Iso),
  lastAt: Schema.NullOr(Iso),
  entryCount: Count,
  subagentCount: Count,
  models: Schema.Array(Schema.String),
  hasErrors: Schema.Boolean,
  usage: TokenTotals,
})
export type SessionSummary = typeof SessionSummary.Type

export const SessionList = Schema.Struct({
  sessions: Schema.Array(SessionSummary),
  /** Opaque; pass back as `cursor` for the next page. Null on the last page. */
  nextCursor: Schema.NullOr(Schema.String),
})
export type SessionList = typeof SessionList.Type

export const SourceFile = Schema.Struct({
  fileKey: Schema.String,
  /** null for the main transcript; the agent id for a subagent file. */
  agentId: Schema.NullOr(Schema.String),
  bytes: Count,
  entryCount: Count,
})
export type SourceFile = typeof SourceFile.Type

export const SessionDetail = Schema.Struct({
  session: SessionSummary,
  files: Schema.Array(SourceFile),
})
export type SessionDetail = typeof SessionDetail.Type

export const Entry = Schema.Struct({
  /** Global, monotonically increasing store sequence: the live feed's resume point and deep-link id. */
  seq: Count,
  fileKey: Schema.String,
  agentId: Schema.NullOr(Schema.String),
  /** 0-based line number within its file. */
  lineNo: Count,
  byteOffset: Count,
  /** Record type (`user`, `assistant`, `system`, ..., `malformed`, `unknown`). */
  kind: Schema.String,
  line: Schema.String,
})
export type Entry = typeof Entry.Type

export const EntryPage = Schema.Struct({
  entries: Schema.Array(Entry),
  nextCursor: Schema.NullOr(Schema.String),
})
export type EntryPage = typeof EntryPage.Type

export const ApiError = Schema.Struct({
  error: Schema.Struct({ code: Schema.String, message: Schema.String }),
})
export type ApiError = typeof ApiError.Type

export const SearchHit = Schema.Struct({
  sessionId: Schema.String,
  seq: Count,
  kind: Schema.String,
  /** Plain text with the matched terms wrapped in `«` and `»`. */
  snippet: Schema.String,
  score: Schema.Number,
  timestamp: Schema.NullOr(Iso),
  title: Schema.NullOr(Schema.String),
})
export type SearchHit = typeof SearchHit.Type

export const SearchResult = Schema.Struct({
  hits: Schema.Array(SearchHit),
  /** Entries stored but not yet indexed: the index catches up in the background. */
  indexLag: Count,
})
export type SearchResult = typeof SearchResult.Type

export const UsageGroup = Schema.Literals(["session", "project", "day", "model"])
export type UsageGroup = typeof UsageGroup.Type

export const UsageRow = Schema.Struct({
  key: Schema.String,
  input: Count,
  output: Count,
  cacheWrite: Count,
  cacheRead: Count,
  costUsd: Schema.Number,
  messages: Count,
})
export type UsageRow = typeof UsageRow.Type

export const UsageReport = Schema.Struct({
  groupBy: UsageGroup,
  rows: Schema.Array(UsageRow),
  totals: UsageRow,
  /** Where the prices come from, and their date. */
  pricingSource: Schema.String,
})
export type UsageReport = typeof UsageReport.Type
