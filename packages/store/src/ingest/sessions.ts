/**
 * Session facts (title, cwd, times, models, errors, main-file line count): what a group adds to a
 * session's row, and rebuilding them from the session's live lines after lines were superseded or a flat
 * agent file joined it (rare).
 */
import { isUtf8 } from "node:buffer"
import { analyzeLine } from "@overlord/transcript"
import { emptyDelta, mergeDelta, type SessionDelta, type UsageAmounts } from "../line-facts.ts"
import type { IngestTx, SessionRow, SessionWrite, WritePlan } from "./dialect.ts"
import { type Ingest, step } from "./steps.ts"

export type SessionFacts = NonNullable<SessionWrite["facts"]>

const minIso = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : a < b ? a : b)
const maxIso = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : a > b ? a : b)

/**
 * The row's facts with a delta applied: the first cwd and prompt stay, the latest titles win (metadata
 * records are re-appended at exit), times widen, models join, lines add up.
 */
export function applyDelta(row: SessionFacts, delta: SessionDelta): SessionFacts {
  const models = new Set<string>(JSON.parse(row.models) as string[])
  for (const m of delta.models) models.add(m)
  return {
    cwd: row.cwd ?? delta.cwd,
    custom_title: delta.customTitle ?? row.custom_title,
    ai_title: delta.aiTitle ?? row.ai_title,
    summary_title: delta.summaryTitle ?? row.summary_title,
    first_prompt: row.first_prompt ?? delta.firstPrompt,
    first_at: minIso(row.first_at, delta.firstAt),
    last_at: maxIso(row.last_at, delta.lastAt),
    entry_count: row.entry_count + delta.mainEntries,
    has_errors: row.has_errors || delta.hasErrors ? 1 : 0,
    models: JSON.stringify([...models].sort()),
  }
}

export const noFacts: SessionFacts = {
  cwd: null,
  custom_title: null,
  ai_title: null,
  summary_title: null,
  first_prompt: null,
  first_at: null,
  last_at: null,
  entry_count: 0,
  has_errors: 0,
  models: "[]",
}

export const factsOfRow = (row: SessionRow): SessionFacts => ({
  cwd: row.cwd,
  custom_title: row.custom_title,
  ai_title: row.ai_title,
  summary_title: row.summary_title,
  first_prompt: row.first_prompt,
  first_at: row.first_at,
  last_at: row.last_at,
  entry_count: row.entry_count,
  has_errors: row.has_errors,
  models: row.models,
})

const noUsage = { input: 0, output: 0, cacheWrite: 0, cacheRead: 0, costUsd: 0 }

/** Rebuilds each session's facts from its live lines (usage totals are kept apart and stay). */
export function* recomputeSessions(tx: IngestTx, sessionIds: Iterable<number>): Ingest<void> {
  const sessions: SessionWrite[] = []
  for (const id of sessionIds) {
    const lines = yield* step(tx.loadSessionLines(id))
    const delta = emptyDelta()
    for (const line of lines) mergeDelta(delta, analyzeLine(line.bytes, isUtf8), line.seq, line.main)
    sessions.push({ id, facts: applyDelta(noFacts, delta), last_seq: delta.lastSeq, usage: noUsage })
  }
  if (sessions.length > 0) yield* step(tx.write({ ...emptyPlan(), sessions }))
}

export const emptyPlan = (): WritePlan => ({
  supersede: [],
  continued: [],
  entries: [],
  attach: [],
  usageMoves: [],
  usage: [],
  sessions: [],
  files: [],
  searchDrops: [],
})

/** Each touched session's row: facts with the group's delta (unless rebuilt later), last seq, usage moved. */
export function planSessions(
  sessions: ReadonlyMap<number, SessionRow>,
  deltas: ReadonlyMap<number, SessionDelta>,
  totals: ReadonlyMap<number, UsageAmounts>,
  recompute: ReadonlySet<number>,
): SessionWrite[] {
  const out: SessionWrite[] = []
  const none: UsageAmounts = { input: 0, output: 0, cacheWrite: 0, cacheRead: 0, costUsd: 0 }
  for (const id of new Set([...deltas.keys(), ...totals.keys()])) {
    const delta = deltas.get(id)
    const row = sessions.get(id)
    if (delta && !row) throw new Error(`ingest: session ${id} was not loaded`)
    out.push({
      id,
      facts: delta && row && !recompute.has(id) ? applyDelta(factsOfRow(row), delta) : null,
      last_seq: delta?.lastSeq ?? 0,
      usage: totals.get(id) ?? none,
    })
  }
  return out
}
