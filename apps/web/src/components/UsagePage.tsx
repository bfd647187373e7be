/** Token and cost usage grouped by session, project, day or model, with inline SVG bars and CSV export. */
import type { Api } from "@overlord/protocol"
import { pricingFor } from "@overlord/transcript"
import { api, apiUrl, type Query } from "../api.ts"
import { formatCost, formatInt, formatTokens, shortId } from "../format.ts"
import { useAsync } from "../hooks.ts"
import { hrefWith, navigate, sessionHref } from "../router.ts"
import { useSessionTitles } from "../session-titles.ts"

const GROUPS: readonly Api.UsageGroup[] = ["day", "project", "model", "session"]
/** The table's first heading, capitalised like the others beside it (it showed the raw group name). */
const GROUP_HEADING: Record<Api.UsageGroup, string> = {
  day: "Day",
  project: "Project",
  model: "Model",
  session: "Session",
}
const CLASSES = [
  { key: "input", label: "input" },
  { key: "output", label: "output" },
  { key: "cacheWrite", label: "cache write" },
  { key: "cacheRead", label: "cache read" },
] as const

const CHART_ROWS = 30
/**
 * Rows the page asks for: with 10,000 sessions, all of them took PlanetScale 77–94 ms to send and the
 * page a table of 10,000 rows; the totals still cover every row, and the CSV export has them all.
 */
export const USAGE_PAGE_ROWS = 200

const tail = (text: string, max: number): string => (text.length > max ? `…${text.slice(-(max - 1))}` : text)
const head = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text)
const sessionChartLabel = (id: string, title: string | null | undefined): string =>
  title ? head(title, 28) : shortId(id)

/**
 * A model with tokens but no list price (DeepSeek and other Anthropic-compatible backends, a retired or
 * newer model): its cost is not 0, it is unknown. By model, "$0.00" beside 887,026 input tokens read as
 * free, and the total as everything (walkthrough 3, the real-session corpus).
 */
const unpriced = (groupBy: Api.UsageGroup, r: Api.UsageRow): boolean =>
  groupBy === "model" && r.input + r.output + r.cacheWrite + r.cacheRead > 0 && pricingFor(r.key) === null
const NO_PRICE_TITLE = "not in the price table: its tokens are counted, its cost is not"

export const UsageChart = ({
  rows,
  groupBy,
  titles,
}: {
  rows: readonly Api.UsageRow[]
  groupBy: Api.UsageGroup
  titles?: ReadonlyMap<string, string | null>
}) => {
  // Rows come newest day first, otherwise largest cost first: the chart shows the first 30.
  const shown = rows.slice(0, CHART_ROWS)
  const maxCost = Math.max(...shown.map((r) => r.costUsd), 1e-9)
  const rowH = 18
  const labelW = 180
  const barW = 420
  return (
    <svg
      className="chart"
      width={labelW + barW + 90}
      height={shown.length * rowH + 4}
      role="img"
      aria-label={`Cost by ${groupBy}`}
    >
      {shown.map((r, i) => {
        const total = r.input + r.output + r.cacheWrite + r.cacheRead || 1
        const width = (r.costUsd / maxCost) * barW
        let x = labelW
        return (
          <g key={r.key} transform={`translate(0 ${i * rowH})`}>
            <text x={labelW - 6} y={rowH - 5} textAnchor="end" className="chart-label">
              {groupBy === "session" ? sessionChartLabel(r.key, titles?.get(r.key)) : tail(r.key, 28)}
            </text>
            {CLASSES.map((c) => {
              const w = (r[c.key] / total) * width
              const rect = (
                <rect key={c.key} x={x} y={3} width={Math.max(0, w)} height={rowH - 6} className={`bar-${c.key}`} />
              )
              x += w
              return rect
            })}
            <text x={labelW + width + 6} y={rowH - 5} className="chart-label">
              {unpriced(groupBy, r) ? "no price" : formatCost(r.costUsd)}
            </text>
          </g>
        )
      })}
    </svg>
  )
}

export const UsagePage = ({ params }: { params: URLSearchParams }) => {
  const groupBy = (GROUPS as readonly string[]).includes(params.get("groupBy") ?? "")
    ? (params.get("groupBy") as Api.UsageGroup)
    : "day"
  const query: Query = {
    groupBy,
    from: params.get("from"),
    to: params.get("to"),
    project: params.get("project"),
    session: params.get("session"),
  }
  const key = JSON.stringify(query)
  const report = useAsync((s) => api.usage({ ...(JSON.parse(key) as Query), limit: USAGE_PAGE_ROWS }, s), [key])
  const sessionIds = groupBy === "session" && report.state === "ok" ? report.value.rows.map((r) => r.key) : []
  const titles = useSessionTitles(sessionIds)
  const set = (name: string, value: string | undefined) => {
    const next: Record<string, string | undefined> = {}
    for (const [k, v] of params.entries()) next[k] = v
    next[name] = value
    navigate(hrefWith("/usage", next), true)
  }
  return (
    <div className="page usage-page">
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <span className="segmented" role="tablist">
          {GROUPS.map((g) => (
            <button
              key={g}
              type="button"
              role="tab"
              aria-selected={g === groupBy}
              className={g === groupBy ? "active" : ""}
              onClick={() => set("groupBy", g)}
            >
              by {g}
            </button>
          ))}
        </span>
        <label>
          from{" "}
          <input
            type="date"
            value={params.get("from") ?? ""}
            onChange={(e) => set("from", e.target.value || undefined)}
          />
        </label>
        <label>
          to{" "}
          <input type="date" value={params.get("to") ?? ""} onChange={(e) => set("to", e.target.value || undefined)} />
        </label>
        <a
          className="link-button"
          href={apiUrl("/usage", { ...query, format: "csv" })}
          download
          data-testid="usage-csv"
        >
          Export CSV
        </a>
      </form>
      {report.state === "loading" && <div className="muted">Loading…</div>}
      {report.state === "error" && <div className="error">{report.error}</div>}
      {report.state === "ok" && (
        <>
          <div className="totals">
            <Total
              label="Input"
              testid="usage-total-input"
              value={formatInt(report.value.totals.input)}
              hint={formatTokens(report.value.totals.input)}
            />
            <Total
              label="Output"
              testid="usage-total-output"
              value={formatInt(report.value.totals.output)}
              hint={formatTokens(report.value.totals.output)}
            />
            <Total
              label="Cache write"
              testid="usage-total-cache-write"
              value={formatInt(report.value.totals.cacheWrite)}
              hint={formatTokens(report.value.totals.cacheWrite)}
            />
            <Total
              label="Cache read"
              testid="usage-total-cache-read"
              value={formatInt(report.value.totals.cacheRead)}
              hint={formatTokens(report.value.totals.cacheRead)}
            />
            <Total label="Cost" testid="usage-total-cost" value={formatCost(report.value.totals.costUsd)} />
          </div>
          <div className="legend small">
            {CLASSES.map((c) => (
              <span key={c.key}>
                <span className={`swatch bar-${c.key}`} /> {c.label}
              </span>
            ))}
            <span className="muted"> · bar length = cost · prices: {report.value.pricingSource}</span>
          </div>
          <UnpricedNote rows={report.value.rows.filter((r) => unpriced(groupBy, r))} />
          {report.value.truncated && (
            <div className="muted small" data-testid="usage-truncated">
              The first {formatInt(report.value.rows.length)} rows; the totals count every row, and the CSV export has
              them all.
            </div>
          )}
          {report.value.rows.length > 0 && <UsageChart rows={report.value.rows} groupBy={groupBy} titles={titles} />}
          <table className="grid" data-testid="usage-table">
            <thead>
              <tr>
                <th>{GROUP_HEADING[groupBy]}</th>
                <th className="num">Messages</th>
                <th className="num">Input</th>
                <th className="num">Output</th>
                <th className="num">Cache write</th>
                <th className="num">Cache read</th>
                <th className="num">Cost</th>
              </tr>
            </thead>
            <tbody>
              {report.value.rows.map((r) => (
                <tr key={r.key} data-testid="usage-row">
                  <td>
                    {groupBy === "session" ? (
                      <SessionCell id={r.key} title={titles.get(r.key)} />
                    ) : groupBy === "project" ? (
                      <a href={hrefWith("/usage", { groupBy: "session", project: r.key })}>{r.key}</a>
                    ) : (
                      r.key
                    )}
                  </td>
                  <td className="num">{formatInt(r.messages)}</td>
                  <td className="num">{formatInt(r.input)}</td>
                  <td className="num">{formatInt(r.output)}</td>
                  <td className="num">{formatInt(r.cacheWrite)}</td>
                  <td className="num">{formatInt(r.cacheRead)}</td>
                  <td className="num">
                    {unpriced(groupBy, r) ? (
                      <span className="muted" title={NO_PRICE_TITLE} data-testid="usage-no-price">
                        no price
                      </span>
                    ) : (
                      formatCost(r.costUsd)
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {report.value.rows.length === 0 && (
            <div className="muted" data-testid="usage-empty">
              {params.get("from") || params.get("to")
                ? "No usage between these dates."
                : "No usage yet: token counts and cost appear as sessions sync."}
            </div>
          )}
        </>
      )}
    </div>
  )
}

const UnpricedNote = ({ rows }: { rows: readonly Api.UsageRow[] }) =>
  rows.length === 0 ? null : (
    <div className="muted small" data-testid="usage-unpriced">
      The cost leaves out {rows.length === 1 ? "1 model" : `${rows.length} models`} without a list price (
      {rows.map((r) => r.key).join(", ")}): their tokens are counted above, their cost is not.
    </div>
  )

/** The short id (stable, greppable) with the session's title as the link beside it. */
const SessionCell = ({ id, title }: { id: string; title: string | null | undefined }) => (
  <span className="session-cell" data-testid="usage-session">
    <code className="muted session-short-id" title={id}>
      {shortId(id)}
    </code>{" "}
    <a href={sessionHref(id)} title={title ?? id} data-testid="usage-session-title">
      {title ? head(title, 80) : title === null ? "untitled" : "…"}
    </a>
  </span>
)

/** Exact numbers: a usage page is read to reconcile bills, so totals are never rounded to "k" or "M". */
const Total = ({ label, value, testid, hint }: { label: string; value: string; testid: string; hint?: string }) => (
  <div className="total">
    <div className="muted small">{label}</div>
    <div className="total-value" data-testid={testid} title={hint && hint !== value ? `≈ ${hint}` : undefined}>
      {value}
    </div>
  </div>
)
