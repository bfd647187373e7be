/**
 * What the store does with a line's facts (`LineFacts`, from `@overlord/transcript`: the one parser):
 * where a file belongs, what an append contributes to its session, and the text search indexes.
 */

import { isUtf8 } from "node:buffer"
import {
  classifyFileKey,
  decodeLine,
  LineElisionStream,
  type LineFacts,
  PRICING_DATE,
  PRICING_SOURCE,
  parseLine,
  searchText,
} from "@overlord/transcript"

/** The text the search index holds for a stored line. */
export const searchTextOf = (raw: Uint8Array): string => searchText(parseLine(decodeLine(raw)))

/** Stored lines from this long are read for search a chunk at a time, never whole. */
export const SEARCH_STREAM_FROM = 1024 * 1024

/**
 * The search text of a long stored line fed a chunk at a time (at most `SEARCH_STREAM_FROM` each),
 * keeping only what the search text can read (`LineElisionStream`, "search"); reading a 100 MB image
 * line whole took ~3 times the line (issue #14, finding 4). `finish` gives null when the line must be
 * read whole after all (invalid UTF-8, malformed).
 */
export class SearchTextStream {
  private readonly elision = new LineElisionStream("search", isUtf8)

  feed(chunk: Uint8Array): void {
    this.elision.feed(chunk)
  }

  finish(): string | null {
    const text = this.elision.finish()
    if (text === null) return null
    const record = parseLine(text)
    return record.kind === "malformed" ? null : searchText(record)
  }
}

/**
 * `searchTextOf` for a stored line `length` bytes long, read through `read(from, length)`. Only for a
 * line whose newline is stored: the indexers give a line still open no text and do not read it (a JSON
 * value cut short has none, and its whole read once took the embedded server from ~180 to ~360 MB on a
 * 100 MB line still arriving); the append that ends it sends the search cursor back to it.
 */
export function searchTextOfStored(length: number, read: (from: number, length: number) => Uint8Array): string {
  if (length >= SEARCH_STREAM_FROM) {
    const stream = new SearchTextStream()
    for (let at = 0; at < length; at += SEARCH_STREAM_FROM)
      stream.feed(read(at, Math.min(SEARCH_STREAM_FROM, length - at)))
    const text = stream.finish()
    if (text !== null) return text
  }
  return searchTextOf(read(0, length))
}

/** `searchTextOfStored` for a store whose reads are asynchronous. */
export async function searchTextOfStoredAsync(
  length: number,
  read: (from: number, length: number) => Promise<Uint8Array>,
): Promise<string> {
  if (length >= SEARCH_STREAM_FROM) {
    const stream = new SearchTextStream()
    for (let at = 0; at < length; at += SEARCH_STREAM_FROM) {
      stream.feed(await read(at, Math.min(SEARCH_STREAM_FROM, length - at)))
    }
    const text = stream.finish()
    if (text !== null) return text
  }
  return searchTextOf(await read(0, length))
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

/** Token usage as the session totals count it: what a kept message adds, or takes away when replaced. */
export interface UsageAmounts {
  input: number
  output: number
  cacheWrite: number
  cacheRead: number
  costUsd: number
}

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
  /** Added to the session's usage totals (negative parts when a kept message moved elsewhere). */
  usage: UsageAmounts
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
  usage: { input: 0, output: 0, cacheWrite: 0, cacheRead: 0, costUsd: 0 },
})

/** `sign` 1 counts a kept message into the delta, -1 takes back one that another copy replaced. */
export function addUsage(delta: SessionDelta, amounts: UsageAmounts, sign: 1 | -1): void {
  delta.usage.input += sign * amounts.input
  delta.usage.output += sign * amounts.output
  delta.usage.cacheWrite += sign * amounts.cacheWrite
  delta.usage.cacheRead += sign * amounts.cacheRead
  delta.usage.costUsd += sign * amounts.costUsd
}

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
    delta.cwd ??= facts.cwd ?? null
    delta.firstPrompt ??= facts.firstPromptText ?? null
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

/** A long line not yet complete: nothing to index until its newline arrives. */
export const partialLineFacts: LineFacts = { kind: "partial" }
