/**
 * The change feed on MySQL, MariaDB and PlanetScale (`ChangeFeed` in `../store.ts`): read from the
 * `seq` counter and the entries' primary key, so it costs the append path nothing. A poll with nothing
 * new is one statement (one primary-key row); with news, two.
 *
 * Each statement runs alone (autocommit), so each sees what is committed at that moment: the counter
 * row is locked from a group's seq allocation to its commit, so when it reads N, every seq up to N is
 * committed or was given up with a rolled-back group.
 */
import type { FeedChange, FeedPage } from "../store.ts"
import type { MysqlQueryable } from "./client.ts"

export async function feedPosition(q: MysqlQueryable): Promise<number> {
  const { rows } = await q.query<{ value: number }>("SELECT value FROM counters WHERE name = 'seq'")
  return rows[0]?.value ?? 0
}

export async function feedAfter(q: MysqlQueryable, after: number, span: number): Promise<FeedPage> {
  const upTo = Math.min(await feedPosition(q), after + Math.max(1, span))
  if (upTo <= after) return { changes: [], position: after }
  const { rows } = await q.query<FeedChange>(
    `SELECT e.user_id AS userId, s.session_uid AS sessionId, max(e.seq) AS lastSeq
     FROM entries e JOIN sessions s ON s.id = e.session_id
     WHERE e.seq > ? AND e.seq <= ? GROUP BY e.user_id, s.session_uid`,
    [after, upTo],
  )
  return { changes: rows, position: upTo }
}
