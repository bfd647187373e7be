/**
 * Usage dedup, pure: each API response is kept once per user, its largest copy (`shouldReplace`), and
 * the session totals move with the kept copy. Run after the lines pass (`decide.ts`), over the events it
 * recorded in order, with the stored rows of the group's dedup keys.
 */
import { costOf, shouldReplace, usageTotal } from "@overlord/transcript"
import type { UsageAmounts } from "../line-facts.ts"
import type { UsageEvent } from "./decide.ts"
import type { KeptUsageRow, UsageWrite, WritePlan } from "./dialect.ts"

/** A kept copy as the usage pass tracks it. */
interface Kept {
  row: KeptUsageRow
  /** The file whose line it is, when the pass knows it (orphans of attaching files, the group's own). */
  fileId: number | null
  /** Stored before the group: a new copy rewrites its row instead of inserting one. */
  stored: boolean
}

export interface UsageInput {
  readonly userId: number
  readonly events: readonly UsageEvent[]
  /** Stored kept rows for the group's dedup keys. */
  readonly kept: readonly KeptUsageRow[]
  /** Stored kept rows of no session, per flat agent file that joins a session in this group. */
  readonly orphans: ReadonlyMap<number, readonly KeptUsageRow[]>
}

export interface UsageDecision {
  readonly usage: UsageWrite[]
  readonly usageMoves: WritePlan["usageMoves"]
  /** Added to each session's totals. */
  readonly totals: Map<number, UsageAmounts>
}

/** The dedup keys the usage pass will look up: load their stored rows first. */
export function usageKeys(events: readonly UsageEvent[]): string[] {
  const keys = new Set<string>()
  for (const e of events) {
    if (e.type === "line" && e.facts.usage) keys.add(e.facts.usage.dedupKey ?? `seq:${e.seq}`)
  }
  return [...keys]
}

/**
 * Keeps each message's usage if no copy of it is kept yet or this copy wins the dedup rule
 * (`shouldReplace`: largest total; on a tie the main chain over a sidechain), and moves the session
 * totals with it: a new message adds to its session; a copy that replaces another takes the old
 * copy's amounts from its session and adds its own to its own; a flat agent file's messages count once
 * a record names the session.
 */
export function decideUsage(input: UsageInput): UsageDecision {
  const kept = new Map<string, Kept>()
  for (const [fileId, rows] of input.orphans) {
    for (const row of rows) kept.set(row.dedup_key, { row, fileId, stored: true })
  }
  for (const row of input.kept)
    if (!kept.has(row.dedup_key)) kept.set(row.dedup_key, { row, fileId: null, stored: true })
  const writes = new Map<string, UsageWrite>()
  const moves = new Map<string, number>()
  const totals = new Map<number, UsageAmounts>()
  const totalOf = (sessionId: number) => {
    let t = totals.get(sessionId)
    if (!t) {
      t = { input: 0, output: 0, cacheWrite: 0, cacheRead: 0, costUsd: 0 }
      totals.set(sessionId, t)
    }
    return t
  }
  const add = (sessionId: number, amounts: UsageAmounts, sign: 1 | -1) => {
    const t = totalOf(sessionId)
    t.input += sign * amounts.input
    t.output += sign * amounts.output
    t.cacheWrite += sign * amounts.cacheWrite
    t.cacheRead += sign * amounts.cacheRead
    t.costUsd += sign * amounts.costUsd
  }
  for (const event of input.events) {
    if (event.type === "attach") {
      // The file's messages kept so far belonged to no session: they now count in this one.
      for (const [key, k] of kept) {
        if (k.row.session_id !== null || k.fileId !== event.fileId) continue
        k.row.session_id = event.sessionId
        add(event.sessionId, k.row, 1)
        const write = writes.get(key)
        if (write) write.session_id = event.sessionId
        else moves.set(key, event.sessionId)
      }
      continue
    }
    const usage = event.facts.usage
    if (!usage) continue
    const key = usage.dedupKey ?? `seq:${event.seq}`
    const total = usageTotal(usage)
    const k = kept.get(key)
    if (
      k &&
      !shouldReplace(
        { total: k.row.total, isSidechain: k.row.is_sidechain === 1 },
        { total, isSidechain: usage.isSidechain === true },
      )
    ) {
      continue
    }
    const amounts: UsageAmounts = {
      input: usage.input,
      output: usage.output,
      cacheWrite: usage.cacheWrite,
      cacheRead: usage.cacheRead,
      costUsd: costOf(usage).usd,
    }
    const stored = k?.stored ?? false
    writes.set(key, {
      replace: stored,
      user_id: input.userId,
      dedup_key: key,
      session_id: event.sessionId,
      project_dir: event.projectDir,
      entry_seq: event.seq,
      model: usage.model,
      day: event.facts.timestamp ? event.facts.timestamp.slice(0, 10) : null,
      input: amounts.input,
      output: amounts.output,
      cache_write: amounts.cacheWrite,
      cache_read: amounts.cacheRead,
      total,
      is_sidechain: usage.isSidechain ? 1 : 0,
      cost_usd: amounts.costUsd,
    })
    moves.delete(key)
    if (k && k.row.session_id !== null) add(k.row.session_id, k.row, -1)
    if (event.sessionId !== null) add(event.sessionId, amounts, 1)
    kept.set(key, {
      row: {
        dedup_key: key,
        session_id: event.sessionId,
        entry_seq: event.seq,
        ...amounts,
        total,
        is_sidechain: usage.isSidechain ? 1 : 0,
      },
      fileId: event.fileId,
      stored,
    })
  }
  return {
    usage: [...writes.values()],
    usageMoves: [...moves].map(([dedupKey, sessionId]) => ({ userId: input.userId, dedupKey, sessionId })),
    totals,
  }
}
