/**
 * Titles for sessions stored before a prompt command counted as a prompt (dc5b7d4: a session started with
 * `/review 42`, a plugin's skill or `/init` is titled with the command as typed). Older Overlords left such
 * a session with no title at all ("untitled a5c478e1"), and nothing reads its lines again unless its file
 * is sent again. A numbered migration on each engine (SQLite 14, MySQL 12) runs this once, under the
 * engine's migration lock: on SQLite in the migration's transaction (10,000 sessions, 3,000 untitled:
 * 150-300 ms), on MySQL committing every 200 sessions (`batchDone`). Every write is `first_prompt IS
 * NULL`-guarded, so a migration cut short and run again only does what is left.
 *
 * Only sessions with no title of any kind are looked at (every title column NULL): the older rule differs
 * from today's only for lines that open with `<command-message>`, which it skipped, so a session whose
 * `first_prompt` is set got it from a typed prompt and keeps it. (One that began with a command and had a
 * typed prompt later is titled by that later prompt, not the command; telling it apart would mean reading
 * every stored session's first lines, and both are the user's own words.) For each untitled session the
 * main transcript's `user` lines are read in file order, a few at a time across all such sessions, until
 * one gives a prompt by today's rule (`analyzeLine`, as the ingest does), so a session started by a command
 * costs one read of its first user line, and only a session that stays untitled (local commands only, a
 * subagent-only session has no main lines at all) has all its user lines read.
 */
import { isUtf8 } from "node:buffer"
import { analyzeLine } from "@overlord/transcript"
import { type Ingest, type Step, step } from "./ingest/steps.ts"
import type { SqlValue } from "./query-dialect.ts"

/** A main-transcript user line of an untitled session, with whatever columns the engine reads bytes by. */
export interface UntitledSessionLine {
  readonly session_id: number
  readonly seq: number
  readonly raw_len: number
}

export interface PromptTitleBackfillDialect<L extends UntitledSessionLine> {
  all<T>(sql: string, params: readonly SqlValue[]): Step<T[]>
  run(sql: string, params: readonly SqlValue[]): Step<number>
  /** Entry columns (`e.…`) besides session, seq and length that `readLines` needs (SQLite: where in the log). */
  readonly lineColumns: string
  /** The lines' bytes, in order; null for a line the engine cannot read (past a line log cut short). */
  readLines(lines: readonly L[]): Step<(Uint8Array | null)[]>
  /**
   * Commits what the batch wrote (MySQL), so no transaction outlives PlanetScale's 20 s limit; a server
   * that dies between batches finds fewer untitled sessions next time, the titled ones being written.
   */
  readonly batchDone?: () => Step<void>
}

/** Sessions asked about per statement, and lines read per session per round. */
const SESSIONS_PER_BATCH = 200
const LINES_PER_ROUND = 4

/** Sets `first_prompt` of each untitled session whose main transcript holds a prompt; how many it titled. */
export function* backfillPromptTitles<L extends UntitledSessionLine>(d: PromptTitleBackfillDialect<L>): Ingest<number> {
  const untitled = yield* step(
    d.all<{ id: number }>(
      `SELECT id FROM sessions
       WHERE custom_title IS NULL AND ai_title IS NULL AND summary_title IS NULL AND first_prompt IS NULL`,
      [],
    ),
  )
  const ids = untitled.map((r) => Number(r.id))
  let titled = 0
  for (let b = 0; b < ids.length; b += SESSIONS_PER_BATCH) {
    const batch = ids.slice(b, b + SESSIONS_PER_BATCH)
    const rows = yield* step(
      d.all<L>(
        `SELECT e.session_id, e.seq, e.raw_len${d.lineColumns} FROM entries e JOIN files f ON f.id = e.file_id
         WHERE e.session_id IN (${batch.map(() => "?").join(", ")}) AND e.superseded = 0 AND e.kind = 'user'
           AND f.agent_id IS NULL
         ORDER BY e.session_id, e.seq`,
        batch,
      ),
    )
    const pending = new Map<number, L[]>()
    for (const row of rows) {
      const id = Number(row.session_id)
      const lines = pending.get(id)
      if (lines) lines.push(row)
      else pending.set(id, [row])
    }
    const next = new Map<number, number>()
    while (pending.size > 0) {
      const round: { id: number; line: L }[] = []
      for (const [id, lines] of pending) {
        const from = next.get(id) ?? 0
        for (const line of lines.slice(from, from + LINES_PER_ROUND)) round.push({ id, line })
        next.set(id, from + LINES_PER_ROUND)
      }
      const bytes = yield* step(d.readLines(round.map((r) => r.line)))
      const found = new Map<number, string>()
      round.forEach(({ id }, i) => {
        const line = bytes[i]
        if (found.has(id) || !line) return
        const prompt = analyzeLine(line, isUtf8)?.firstPromptText
        if (prompt) found.set(id, prompt)
      })
      if (found.size > 0) {
        // One statement a round (each is a round trip on PlanetScale: 2,000 sessions were 2,000 of them).
        // `first_prompt IS NULL`: written once, never over a prompt the ingest stored meanwhile.
        const ids = [...found.keys()]
        titled += yield* step(
          d.run(
            `UPDATE sessions SET first_prompt = CASE id ${ids.map(() => "WHEN ? THEN ?").join(" ")} END
             WHERE id IN (${ids.map(() => "?").join(", ")}) AND first_prompt IS NULL`,
            [...ids.flatMap((id) => [id, found.get(id)!]), ...ids],
          ),
        )
        for (const id of ids) pending.delete(id)
      }
      for (const [id, lines] of pending) if ((next.get(id) ?? 0) >= lines.length) pending.delete(id)
    }
    if (d.batchDone) yield* step(d.batchDone())
  }
  return titled
}
