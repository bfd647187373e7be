/**
 * The usage report's queries, the same for every engine (SQLite, MySQL and MariaDB all accept
 * backquoted names).
 *
 * With a `limit`, the rows query returns the first rows in the report's order, one more than asked
 * to tell whether there are more (`truncated`), and a second, plain aggregate gives the `totals` over
 * every row; without one, or when nothing was cut, the totals are the rows' sums. Through PlanetScale's
 * HTTP driver (the bridge, 20 ms a request), usage by session over 10,000 sessions took 77–94 ms p50
 * when every row came back; the network engines send the two queries at once (two connections: one
 * round trip of waiting). Counting the rows too (`count(DISTINCT key)`) cost as much as it saved, and
 * both in one statement with window sums (`sum(sum(x)) OVER ()`) was slower than the two together
 * (SQLite 44 ms against 21.5 + 16, MariaDB 104 ms against 49 and 36; p50, 10,000 sessions, load 7).
 * Two reads, so rows and totals may differ by what was stored between them.
 */
import type { Api } from "@overlord/protocol"
import { pricingSource } from "./line-facts.ts"
import type { Actor, UsageQuery } from "./store.ts"

export interface SqlOf {
  readonly sql: string
  readonly params: (string | number)[]
}

/** The totals query's one row (sums are NULL over no rows). */
export interface UsageTotalsRow {
  readonly input: number | null
  readonly output: number | null
  readonly cacheWrite: number | null
  readonly cacheRead: number | null
  readonly costUsd: number | null
  readonly messages: number
}

/** The key of the groupings that are one GROUP BY over the messages (session and project: below). */
const KEY_EXPR = {
  day: "coalesce(u.day, '')",
  model: "u.model",
} as const

/**
 * The rows query, and with a `limit` the totals query (null without: the rows are all there is). The
 * rows query asks for `limit + 1` rows; when no more than `limit` come back, the totals query is not
 * needed, so an engine that runs them one after the other skips it.
 */
export function usageQueries(
  actor: Actor,
  query: UsageQuery,
): { rows: SqlOf; limit: number | null; totals: SqlOf | null } {
  const where = ["u.user_id = ?"]
  const params: (string | number)[] = [actor.userId]
  if (query.from) {
    where.push("u.day >= ?")
    params.push(query.from.slice(0, 10))
  }
  if (query.to) {
    where.push("u.day <= ?")
    params.push(query.to.slice(0, 10))
  }
  if (query.project) {
    where.push("u.project_dir = ?")
    params.push(query.project)
  }
  if (query.sessionId) {
    where.push("s.session_uid = ?")
    params.push(query.sessionId)
  }
  // Only a session filter needs the session's row (the session key looks it up per group, below).
  const join = "LEFT JOIN sessions s ON s.id = u.session_id"
  const rowsJoin = query.sessionId ? join : ""
  const totalsJoin = query.sessionId ? join : ""
  const filter = `WHERE ${where.join(" AND ")}`
  const limit = query.limit === undefined ? null : Math.max(1, Math.floor(query.limit))
  const sums = `sum(u.input) AS input, sum(u.output) AS output, sum(u.cache_write) AS cacheWrite,
       sum(u.cache_read) AS cacheRead, sum(u.cost_usd) AS costUsd, count(*) AS messages`
  const order = `ORDER BY ${query.groupBy === "day" ? "`key` DESC" : "costUsd DESC, `key`"} ${limit === null ? "" : "LIMIT ?"}`
  // By project: grouped by the bare column first, which MySQL's `usage_by_project` index gives in
  // order (no temporary table keyed by a 600-character path: 14.7–15.4 → 3.3 ms on MariaDB, 10,000
  // messages in 200 projects), then by the report's key, which only merges a NULL project with ''.
  // By session: grouped by an integer, each message's session row or, when the session id is also
  // another session row's (one session on two machines), the first of those rows; the session id string
  // is looked up once per group. Grouping by the string itself kept a temporary table keyed by a
  // 255-character column and joined every message to its session: MariaDB 18.6–19.3 → 5.6–5.8 ms, 10,000
  // one-message sessions. `dup` holds only the rows whose session id is shared, and one named
  // '(unattributed)', into which messages without a session fold, as grouping by the string did.
  const bySession = `SELECT coalesce(k.session_uid, '(unattributed)') AS \`key\`, g.input, g.output, g.cacheWrite,
       g.cacheRead, g.costUsd, g.messages
       FROM (SELECT coalesce(dup.first_id, u.session_id,
           (SELECT min(x.id) FROM sessions x WHERE x.user_id = ? AND x.session_uid = '(unattributed)')) AS group_id, ${sums}
         FROM usage_messages u ${rowsJoin}
         LEFT JOIN (SELECT DISTINCT s2.id, shared.first_id
           FROM (SELECT session_uid, min(id) AS first_id FROM sessions WHERE user_id = ? GROUP BY session_uid
             HAVING count(*) > 1 OR session_uid = '(unattributed)') shared
           JOIN sessions s2 ON s2.user_id = ? AND s2.session_uid = shared.session_uid) dup ON dup.id = u.session_id
         ${filter} GROUP BY group_id) g
       LEFT JOIN sessions k ON k.id = g.group_id`
  const grouped =
    query.groupBy === "session"
      ? bySession
      : query.groupBy === "project"
        ? `SELECT coalesce(g.project_dir, '') AS \`key\`, sum(g.input) AS input, sum(g.output) AS output,
       sum(g.cacheWrite) AS cacheWrite, sum(g.cacheRead) AS cacheRead, sum(g.costUsd) AS costUsd,
       sum(g.messages) AS messages
       FROM (SELECT u.project_dir, ${sums} FROM usage_messages u ${rowsJoin} ${filter} GROUP BY u.project_dir) g
       GROUP BY \`key\``
        : `SELECT ${KEY_EXPR[query.groupBy]} AS \`key\`, ${sums} FROM usage_messages u ${rowsJoin} ${filter} GROUP BY \`key\``
  const rowsParams = query.groupBy === "session" ? [actor.userId, actor.userId, actor.userId, ...params] : params
  const rows = {
    sql: `${grouped} ${order}`,
    params: limit === null ? rowsParams : [...rowsParams, limit + 1],
  }
  if (limit === null) return { rows, limit, totals: null }
  return {
    rows,
    limit,
    totals: {
      sql: `SELECT sum(u.input) AS input, sum(u.output) AS output, sum(u.cache_write) AS cacheWrite,
         sum(u.cache_read) AS cacheRead, sum(u.cost_usd) AS costUsd, count(*) AS messages
         FROM usage_messages u ${totalsJoin} ${filter}`,
      params,
    },
  }
}

/**
 * The report from the rows query's rows and, when they were cut by the limit, the totals query's row
 * (ignored, and may be null, when they were not).
 */
export function usageReport(
  query: UsageQuery,
  found: readonly Api.UsageRow[],
  limit: number | null,
  totalsRow: UsageTotalsRow | null,
): Api.UsageReport {
  const truncated = limit !== null && found.length > limit
  const rows = truncated ? found.slice(0, limit) : found
  let totals: Api.UsageRow
  if (truncated) {
    if (!totalsRow) throw new Error("usage: the rows were cut by the limit, and no totals came with them")
    totals = {
      key: "total",
      input: totalsRow.input ?? 0,
      output: totalsRow.output ?? 0,
      cacheWrite: totalsRow.cacheWrite ?? 0,
      cacheRead: totalsRow.cacheRead ?? 0,
      costUsd: totalsRow.costUsd ?? 0,
      messages: totalsRow.messages,
    }
  } else {
    const sum = { key: "total", input: 0, output: 0, cacheWrite: 0, cacheRead: 0, costUsd: 0, messages: 0 }
    for (const r of rows) {
      sum.input += r.input
      sum.output += r.output
      sum.cacheWrite += r.cacheWrite
      sum.cacheRead += r.cacheRead
      sum.costUsd += r.costUsd
      sum.messages += r.messages
    }
    totals = sum
  }
  return { groupBy: query.groupBy, rows, truncated, totals, pricingSource: pricingSource() }
}
