/**
 * What the transcript lists: conversation entries one per row, and each run of consecutive
 * bookkeeping records (request logs, snapshots, injected context) folded into one row that expands
 * to the records themselves. Pure, so grouping and deep links are tested without a browser.
 */
import type { Api } from "@overlord/protocol"
import { bookkeepingName, isBookkeeping, type LineRecord } from "./records.ts"

export type Row = { readonly entry: Api.Entry; readonly record: LineRecord }

export type TranscriptItem =
  | { readonly type: "entry"; readonly key: string; readonly row: Row }
  | {
      readonly type: "group"
      /** Stable while live records append to the run: the first member's seq. */
      readonly key: string
      readonly rows: readonly Row[]
      /** Distinct record names in order of first appearance, with how often each occurs. */
      readonly names: readonly { readonly name: string; readonly count: number }[]
    }

export const groupRows = (rows: readonly Row[]): TranscriptItem[] => {
  const items: TranscriptItem[] = []
  let run: Row[] = []
  const flush = () => {
    const first = run[0]
    if (!first) return
    const counts = new Map<string, number>()
    for (const r of run) {
      const name = bookkeepingName(r.record)
      counts.set(name, (counts.get(name) ?? 0) + 1)
    }
    items.push({
      type: "group",
      key: `g${first.entry.seq}`,
      rows: run,
      names: [...counts].map(([name, count]) => ({ name, count })),
    })
    run = []
  }
  for (const row of rows) {
    if (isBookkeeping(row.record)) {
      run.push(row)
      continue
    }
    flush()
    items.push({ type: "entry", key: `e${row.entry.seq}`, row })
  }
  flush()
  return items
}

export const itemSeqs = (item: TranscriptItem): number[] =>
  item.type === "entry" ? [item.row.entry.seq] : item.rows.map((r) => r.entry.seq)

/** Index of the item that holds `seq` (an entry, or a group with it as a member); -1 if none. */
export const indexOfSeq = (items: readonly TranscriptItem[], seq: number): number =>
  items.findIndex((item) =>
    item.type === "entry" ? item.row.entry.seq === seq : item.rows.some((r) => r.entry.seq === seq),
  )

/**
 * A group is open when the reader opened it (any member seq is in `expanded`, so a group that grows
 * live stays open) or when all bookkeeping is shown.
 */
export const isGroupOpen = (
  item: Extract<TranscriptItem, { type: "group" }>,
  expanded: ReadonlySet<number>,
  showAll: boolean,
): boolean => showAll || item.rows.some((r) => expanded.has(r.entry.seq))

/** `expanded` with the group holding `seq` opened (for deep links); the same set if nothing changes. */
export const expandForSeq = (
  items: readonly TranscriptItem[],
  expanded: ReadonlySet<number>,
  seq: number,
): ReadonlySet<number> => {
  const item = items[indexOfSeq(items, seq)]
  if (item?.type !== "group" || isGroupOpen(item, expanded, false)) return expanded
  return new Set([...expanded, ...itemSeqs(item)])
}

/** Opens or closes one group. */
export const toggleGroup = (
  item: Extract<TranscriptItem, { type: "group" }>,
  expanded: ReadonlySet<number>,
): ReadonlySet<number> => {
  const next = new Set(expanded)
  const open = isGroupOpen(item, expanded, false)
  for (const seq of itemSeqs(item)) {
    if (open) next.delete(seq)
    else next.add(seq)
  }
  return next
}

const SUMMARY_NAMES = 4

/** "7 bookkeeping records: api-request ×3, tools-used, …" */
export const groupSummary = (item: Extract<TranscriptItem, { type: "group" }>): string => {
  const n = item.rows.length
  const shown = item.names
    .slice(0, SUMMARY_NAMES)
    .map((x) => (x.count > 1 ? `${x.name} ×${x.count}` : x.name))
    .join(", ")
  const more = item.names.length > SUMMARY_NAMES ? ", …" : ""
  return `${n} bookkeeping record${n === 1 ? "" : "s"}: ${shown}${more}`
}
