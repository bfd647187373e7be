/**
 * What the store derives from one stored line, through `@overlord/transcript` (the one parser):
 * the indexed columns, the session facts it contributes, and its deduplicable usage.
 */

import { isUtf8 } from "node:buffer"
import {
  classifyFileKey,
  costOf,
  indexFields,
  PRICING_DATE,
  PRICING_SOURCE,
  parseLine,
  searchText,
  usageOf,
} from "@overlord/transcript"
import { decodeLine } from "./lines.ts"

export interface LineUsage {
  readonly dedupKey: string | null
  readonly model: string
  readonly input: number
  readonly output: number
  readonly cacheWrite: number
  readonly cacheRead: number
  readonly total: number
  readonly isSidechain: boolean
  readonly costUsd: number
}

export interface LineFacts {
  readonly kind: string
  readonly subtype: string | null
  readonly uuid: string | null
  readonly parentUuid: string | null
  /** Only a plausible ISO timestamp: sanitised files carry placeholders. */
  readonly timestamp: string | null
  readonly sessionId: string | null
  readonly cwd: string | null
  readonly model: string | null
  readonly isError: boolean
  readonly customTitle: string | null
  readonly aiTitle: string | null
  readonly summaryText: string | null
  readonly firstPromptText: string | null
  readonly usage: LineUsage | null
  readonly searchText: string
  /** Why this line is not a readable record, for the daemon's status; null when it is. */
  readonly notice: string | null
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/

export function analyzeLine(bytes: Uint8Array): LineFacts {
  const line = decodeLine(bytes)
  const record = parseLine(line)
  const f = indexFields(record)
  const u = usageOf(record)
  let text: string | undefined
  return {
    kind: f.kind,
    subtype: f.subtype,
    uuid: f.uuid,
    parentUuid: f.parentUuid,
    timestamp: f.timestamp !== null && ISO.test(f.timestamp) ? f.timestamp : null,
    sessionId: f.sessionId,
    cwd: f.cwd,
    model: f.model,
    isError: f.isError,
    customTitle: f.customTitle,
    aiTitle: f.aiTitle,
    summaryText: f.summaryText,
    firstPromptText: f.firstPromptText,
    usage: u
      ? {
          dedupKey: u.dedupKey,
          model: u.model ?? "unknown",
          input: u.input,
          output: u.output,
          cacheWrite: u.cacheWrite,
          cacheRead: u.cacheRead,
          total: u.total,
          isSidechain: u.isSidechain,
          costUsd: costOf(u).usd,
        }
      : null,
    notice: noticeOf(record, line, bytes),
    get searchText() {
      text ??= searchText(record)
      return text
    },
  }
}

export interface FilePlace {
  readonly projectDir: string
  readonly sessionUid: string | null
  readonly agentId: string | null
  readonly layout: string
}

const places = new Map<string, FilePlace>()

export function projectOf(fileKey: string): FilePlace {
  let place = places.get(fileKey)
  if (!place) {
    const c = classifyFileKey(fileKey)
    place = { projectDir: c.projectDir, sessionUid: c.sessionId, agentId: c.agentId, layout: c.layout }
    if (places.size > 50_000) places.clear()
    places.set(fileKey, place)
  }
  return place
}

export const pricingSource = () => `${PRICING_SOURCE} (${PRICING_DATE})`

/** Session facts accumulated over one append, applied with one UPDATE. */
export interface SessionDelta {
  cwd: string | null
  customTitle: string | null
  aiTitle: string | null
  summaryTitle: string | null
  firstPrompt: string | null
  firstAt: string | null
  lastAt: string | null
  mainEntries: number
  hasErrors: boolean
  models: Set<string>
  lastSeq: number
}

export const emptyDelta = (): SessionDelta => ({
  cwd: null,
  customTitle: null,
  aiTitle: null,
  summaryTitle: null,
  firstPrompt: null,
  firstAt: null,
  lastAt: null,
  mainEntries: 0,
  hasErrors: false,
  models: new Set(),
  lastSeq: 0,
})

/** `newLine` is false when the facts belong to a line already counted (a continued open line). */
export function mergeDelta(
  delta: SessionDelta,
  facts: LineFacts | null,
  seq: number,
  inMainFile: boolean,
  newLine = true,
): void {
  delta.lastSeq = Math.max(delta.lastSeq, seq)
  if (inMainFile && newLine) delta.mainEntries += 1
  if (!facts) return
  if (inMainFile) {
    delta.cwd ??= facts.cwd
    delta.firstPrompt ??= facts.firstPromptText
    // Metadata records are re-appended at exit: the last one wins.
    if (facts.customTitle) delta.customTitle = facts.customTitle
    if (facts.aiTitle) delta.aiTitle = facts.aiTitle
    if (facts.summaryText) delta.summaryTitle = facts.summaryText
  }
  if (facts.timestamp) {
    if (delta.firstAt === null || facts.timestamp < delta.firstAt) delta.firstAt = facts.timestamp
    if (delta.lastAt === null || facts.timestamp > delta.lastAt) delta.lastAt = facts.timestamp
  }
  if (facts.isError) delta.hasErrors = true
  if (facts.model && facts.model !== "<synthetic>") delta.models.add(facts.model)
}

function noticeOf(record: ReturnType<typeof parseLine>, line: string, bytes: Uint8Array): string | null {
  // U+FFFD appears only if the decoder replaced something, or the text really contains it.
  if (line.includes("\uFFFD") && !isUtf8(bytes)) return "invalid UTF-8 (kept byte for byte)"
  if (record.kind === "malformed") {
    return record.reason === "non-object"
      ? "a JSON value that is not an object (kept raw)"
      : `malformed JSON (kept raw): ${record.error}`
  }
  if (record.kind === "unknown") return `unknown record type ${JSON.stringify(record.type)} (kept raw)`
  return null
}

/** A long line not yet complete: nothing to index until its newline arrives. */
export const partialLineFacts: LineFacts = {
  kind: "partial",
  subtype: null,
  uuid: null,
  parentUuid: null,
  timestamp: null,
  sessionId: null,
  cwd: null,
  model: null,
  isError: false,
  customTitle: null,
  aiTitle: null,
  summaryText: null,
  firstPromptText: null,
  usage: null,
  searchText: "",
  notice: null,
}
