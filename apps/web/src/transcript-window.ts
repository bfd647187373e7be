/**
 * The loaded slice of a long transcript: pages fetched around the viewport, merged by seq. Pure,
 * so paging and dedup are tested without a browser.
 */
import type { Api } from "@overlord/protocol"
import { type LineRecord, readLine } from "./records.ts"

const parsed = new WeakMap<Api.Entry, LineRecord>()

/** Entry objects are immutable once fetched, so each line is parsed once however often it renders. */
export const parseCached = (entry: Api.Entry): LineRecord => {
  let record = parsed.get(entry)
  if (!record) {
    record = readLine(entry.line)
    parsed.set(entry, record)
  }
  return record
}

export type TranscriptWindow = {
  readonly entries: readonly Api.Entry[]
  /** Earlier entries exist that are not loaded yet. */
  readonly hasBefore: boolean
  /** Later entries exist that are not loaded yet (only after opening a deep link mid-file). */
  readonly hasAfter: boolean
}

export const emptyWindow: TranscriptWindow = { entries: [], hasBefore: false, hasAfter: false }

/** Merge by seq, dropping duplicates; input order does not matter. */
export const mergeEntries = (a: readonly Api.Entry[], b: readonly Api.Entry[]): Api.Entry[] => {
  if (b.length === 0) return [...a]
  const lastA = a.at(-1)
  const firstB = b[0]
  // Fast paths: live appends and earlier pages are the common cases.
  if (lastA && firstB && firstB.seq > lastA.seq && isSorted(b)) return [...a, ...b]
  const firstA = a[0]
  const lastB = b.at(-1)
  if (firstA && lastB && lastB.seq < firstA.seq && isSorted(b)) return [...b, ...a]
  const bySeq = new Map<number, Api.Entry>()
  for (const e of a) bySeq.set(e.seq, e)
  for (const e of b) bySeq.set(e.seq, e)
  return [...bySeq.values()].sort((x, y) => x.seq - y.seq)
}

const isSorted = (list: readonly Api.Entry[]): boolean => {
  for (let i = 1; i < list.length; i++) if ((list[i]?.seq ?? 0) <= (list[i - 1]?.seq ?? 0)) return false
  return true
}

/** A page reaching line 0 of the file is the start, whatever its size. */
export const reachesStart = (page: readonly Api.Entry[], limit: number): boolean =>
  page.length === 0 || page.some((e) => e.lineNo === 0) || page.length < limit

export const withEarlierPage = (w: TranscriptWindow, page: readonly Api.Entry[], limit: number): TranscriptWindow => ({
  entries: mergeEntries(w.entries, page),
  hasBefore: !reachesStart(page, limit),
  hasAfter: w.hasAfter,
})

export const withLaterPage = (w: TranscriptWindow, page: readonly Api.Entry[], limit: number): TranscriptWindow => ({
  entries: mergeEntries(w.entries, page),
  hasBefore: w.hasBefore,
  hasAfter: page.length >= limit,
})

/** Live entries only extend a window that already reaches the end of the file. */
export const withLiveEntries = (w: TranscriptWindow, fresh: readonly Api.Entry[]): TranscriptWindow =>
  w.hasAfter || fresh.length === 0 ? w : { ...w, entries: mergeEntries(w.entries, fresh) }

export const initialTail = (page: readonly Api.Entry[], limit: number): TranscriptWindow => ({
  entries: mergeEntries([], page),
  hasBefore: !reachesStart(page, limit),
  hasAfter: false,
})
