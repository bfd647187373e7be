/**
 * Token usage per API response, deduplicated the way ccusage does it (reference §8).
 *
 * One response is written as one record per content block, all with the same `message.id` and
 * `requestId`, and before Claude Code 2.1.97 only the last block had the final `output_tokens`.
 * The same response can also sit in several files (resume and fork copies, sidechain replays). So
 * usage is keyed by (message.id, requestId) across all files, keeping the largest total.
 */
import { costOf } from "./pricing.ts"
import { obj, str, type TranscriptRecord } from "./records.ts"

export interface MessageUsage {
  /** `message.id:requestId`, `message.id` alone, or null (then the record is counted on its own). */
  readonly dedupKey: string | null
  readonly model: string | null
  readonly input: number
  readonly output: number
  readonly cacheWrite5m: number
  readonly cacheWrite1h: number
  /** max(cache_creation_input_tokens, 5m + 1h): some versions put the value only in the breakdown. */
  readonly cacheWrite: number
  readonly cacheRead: number
  /** input + output + cacheWrite + cacheRead: the dedup criterion. */
  readonly total: number
  readonly isSidechain: boolean
  readonly timestamp: string | null
  readonly uuid: string | null
}

/** Usage of an assistant record; null for other records, synthetic/API-error messages and no usage. */
export function usageOf(record: TranscriptRecord): MessageUsage | null {
  if (record.kind !== "assistant") return null
  const j = record.json
  if (j.isApiErrorMessage === true) return null
  const message = obj(j.message)
  const usage = obj(message?.usage)
  if (message === null || usage === null) return null
  const model = str(message.model)
  if (model === "<synthetic>") return null
  const breakdown = obj(usage.cache_creation)
  const input = count(usage.input_tokens)
  const output = count(usage.output_tokens)
  const cacheWrite5m = count(breakdown?.ephemeral_5m_input_tokens)
  const cacheWrite1h = count(breakdown?.ephemeral_1h_input_tokens)
  const cacheWrite = Math.max(count(usage.cache_creation_input_tokens), cacheWrite5m + cacheWrite1h)
  const cacheRead = count(usage.cache_read_input_tokens)
  const id = str(message.id)
  const requestId = str(j.requestId)
  return {
    dedupKey: id === null || id === "" ? null : requestId ? `${id}:${requestId}` : id,
    model,
    input,
    output,
    cacheWrite5m,
    cacheWrite1h,
    cacheWrite,
    cacheRead,
    total: input + output + cacheWrite + cacheRead,
    isSidechain: j.isSidechain === true,
    timestamp: str(j.timestamp),
    uuid: str(j.uuid),
  }
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0
}

/**
 * The dedup rule as a pure function, so a database can apply it row by row: replace the kept entry
 * when the candidate has a larger total, or the same total and the kept one is a sidechain copy.
 */
export function shouldReplace(
  existing: Pick<MessageUsage, "total" | "isSidechain">,
  candidate: Pick<MessageUsage, "total" | "isSidechain">,
): boolean {
  if (candidate.total !== existing.total) return candidate.total > existing.total
  return existing.isSidechain && !candidate.isSidechain
}

export interface UsageTotals {
  input: number
  output: number
  cacheWrite: number
  cacheWrite5m: number
  cacheWrite1h: number
  cacheRead: number
  total: number
  costUsd: number
  /** Deduplicated responses counted. */
  messages: number
  /** Responses whose model has no price (counted in tokens, 0 in cost). */
  unpricedMessages: number
}

export function emptyTotals(): UsageTotals {
  return {
    input: 0,
    output: 0,
    cacheWrite: 0,
    cacheWrite5m: 0,
    cacheWrite1h: 0,
    cacheRead: 0,
    total: 0,
    costUsd: 0,
    messages: 0,
    unpricedMessages: 0,
  }
}

export function addToTotals(totals: UsageTotals, usage: MessageUsage): void {
  const cost = costOf(usage)
  totals.input += usage.input
  totals.output += usage.output
  totals.cacheWrite += usage.cacheWrite
  totals.cacheWrite5m += usage.cacheWrite5m
  totals.cacheWrite1h += usage.cacheWrite1h
  totals.cacheRead += usage.cacheRead
  totals.total += usage.total
  totals.costUsd += cost.usd
  totals.messages += 1
  if (!cost.priced) totals.unpricedMessages += 1
}

export interface LedgerEntry {
  /** Caller-chosen grouping id (a session id, file key, project...) of the kept copy. */
  readonly scope: string
  readonly usage: MessageUsage
}

/** The key the ledger files entries under when there is none (`day` of a usage without timestamp). */
export const UNKNOWN_DAY = "unknown"

/**
 * Keeps one entry per dedup key across everything added, in any order. Plain and synchronous so the
 * daemon, the server and tests share it; a database can reproduce it with `shouldReplace`.
 */
export class UsageLedger {
  private readonly kept = new Map<string, LedgerEntry>()
  private unkeyed = 0

  /** Adds one response; returns true when it became (or replaced) the kept entry for its key. */
  add(scope: string, usage: MessageUsage): boolean {
    // A null key means "cannot be deduplicated": each such record counts once, under a private key.
    const key = usage.dedupKey ?? `\0unkeyed:${this.unkeyed++}`
    const existing = this.kept.get(key)
    if (existing !== undefined && !shouldReplace(existing.usage, usage)) return false
    this.kept.set(key, { scope, usage })
    return true
  }

  /** `usageOf` + `add`; false for records without usage. */
  addRecord(scope: string, record: TranscriptRecord): boolean {
    const usage = usageOf(record)
    return usage === null ? false : this.add(scope, usage)
  }

  get size(): number {
    return this.kept.size
  }

  entries(): IterableIterator<LedgerEntry> {
    return this.kept.values()
  }

  totals(): UsageTotals {
    const t = emptyTotals()
    for (const e of this.kept.values()) addToTotals(t, e.usage)
    return t
  }

  totalsByScope(): Map<string, UsageTotals> {
    return this.groupBy((e) => e.scope)
  }

  /** Unknown/absent models group under `"unknown"`. */
  totalsByModel(): Map<string, UsageTotals> {
    return this.groupBy((e) => e.usage.model ?? "unknown")
  }

  /** UTC calendar day (`YYYY-MM-DD`) of the response timestamp; `UNKNOWN_DAY` when it has none. */
  totalsByDay(): Map<string, UsageTotals> {
    return this.groupBy((e) => utcDay(e.usage.timestamp))
  }

  private groupBy(keyOf: (e: LedgerEntry) => string): Map<string, UsageTotals> {
    const out = new Map<string, UsageTotals>()
    for (const e of this.kept.values()) {
      const k = keyOf(e)
      let t = out.get(k)
      if (t === undefined) {
        t = emptyTotals()
        out.set(k, t)
      }
      addToTotals(t, e.usage)
    }
    return out
  }
}

/** `YYYY-MM-DD` in UTC, or `UNKNOWN_DAY` for a missing or unparseable timestamp. */
export function utcDay(timestamp: string | null): string {
  if (timestamp === null) return UNKNOWN_DAY
  const ms = Date.parse(timestamp)
  return Number.isNaN(ms) ? UNKNOWN_DAY : new Date(ms).toISOString().slice(0, 10)
}
