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

/** The key of the groupings that are one GROUP BY over the messages (project: below). */
const KEY_EXPR = {
  session: "coalesce(s.session_uid, '(unattributed)')",
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
  // Only a session key or filter needs the session's row.
  const join = "LEFT JOIN sessions s ON s.id = u.session_id"
  const rowsJoin = query.groupBy === "session" || query.sessionId ? join : ""
  const totalsJoin = query.sessionId ? join : ""
  const filter = `WHERE ${where.join(" AND ")}`
  const limit = query.limit === undefined ? null : Math.max(1, Math.floor(query.limit))
  const sums = `sum(u.input) AS input, sum(u.output) AS output, sum(u.cache_write) AS cacheWrite,
       sum(u.cache_read) AS cacheRead, sum(u.cost_usd) AS costUsd, count(*) AS messages`
  const order = `ORDER BY ${query.groupBy === "day" ? "`key` DESC" : "costUsd DESC, `key`"} ${limit === null ? "" : "LIMIT ?"}`
  // By project: grouped by the bare column first, which MySQL's `usage_by_project` index gives in
  // order (no temporary table keyed by a 600-character path: 14.7–15.4 → 3.3 ms on MariaDB, 10,000
  // messages in 200 projects), then by the report's key, which only merges a NULL project with ''.
  const grouped =
    query.groupBy === "project"
      ? `SELECT coalesce(g.project_dir, '') AS \`key\`, sum(g.input) AS input, sum(g.output) AS output,
       sum(g.cacheWrite) AS cacheWrite, sum(g.cacheRead) AS cacheRead, sum(g.costUsd) AS costUsd,
       sum(g.messages) AS messages
       FROM (SELECT u.project_dir, ${sums} FROM usage_messages u ${rowsJoin} ${filter} GROUP BY u.project_dir) g
       GROUP BY \`key\``
      : `SELECT ${KEY_EXPR[query.groupBy]} AS \`key\`, ${sums} FROM usage_messages u ${rowsJoin} ${filter} GROUP BY \`key\``
  const rows = {
    sql: `${grouped} ${order}`,
    params: limit === null ? params : [...params, limit + 1],
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
