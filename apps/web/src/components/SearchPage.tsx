/**
 * Search across every transcript, by words (the full-text index) and by meaning (the local model's
 * embeddings, issue #13), fused; each hit says which matched and opens its session at the entry.
 * When semantic features are off, the page says so and why, and searches by words.
 */
import type { Api } from "@overlord/protocol"
import { aiApi, isSearchMode, SEARCH_MODES } from "../ai-api.ts"
import { formatTime } from "../format.ts"
import { useAsync } from "../hooks.ts"
import { hrefWith, navigate, sessionHref } from "../router.ts"
import { Snippet } from "./TextViews.tsx"

const MATCHED_LABEL: Record<Api.MatchedBy, string> = { text: "matched by text", meaning: "matched by meaning" }

/** `#/search?q=…&mode=text|semantic` (the router passes only `q`). */
const modeFromLocation = (): string | null => new URLSearchParams(window.location.hash.split("?")[1] ?? "").get("mode")

export const SearchPage = ({ q }: { q: string }) => {
  const modeParam = modeFromLocation()
  const mode: Api.SearchMode = isSearchMode(modeParam) ? modeParam : "hybrid"
  const result = useAsync((s) => (q.trim() ? aiApi.search(q, mode, 50, s) : Promise.resolve(null)), [q, mode])
  const status = useAsync((s) => aiApi.status(s).catch(() => null), [])
  const off =
    result.state === "ok" && result.value && !result.value.semantic.available
      ? result.value.semantic.reason
      : status.state === "ok" && status.value && (!status.value.enabled || status.value.reason)
        ? status.value.reason
        : null
  return (
    <div className="page search-page">
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault()
          const form = new FormData(e.currentTarget)
          const value = form.get("q")
          const m = form.get("mode")
          navigate(
            hrefWith("/search", {
              q: typeof value === "string" ? value : undefined,
              mode: typeof m === "string" && m !== "hybrid" ? m : undefined,
            }),
          )
        }}
      >
        <input
          name="q"
          type="search"
          defaultValue={q}
          key={q}
          placeholder="Search all transcripts, by words or by meaning…"
          aria-label="Search"
        />
        <select name="mode" defaultValue={mode} key={mode} aria-label="Search by">
          {SEARCH_MODES.map((m) => (
            <option key={m.mode} value={m.mode}>
              {m.label}
            </option>
          ))}
        </select>
        <button type="submit">Search</button>
      </form>
      {status.state === "ok" && status.value?.warning && (
        <div className="notice" data-testid="ai-in-clear">
          {status.value.warning}.
        </div>
      )}
      {off && (
        <div className="notice" data-testid="semantic-off">
          Semantic search is off: {off} Searching by words only.
        </div>
      )}
      {result.state === "loading" && q && <div className="muted">Searching…</div>}
      {result.state === "error" && <div className="error">{result.error}</div>}
      {result.state === "ok" && result.value && (
        <>
          <div className="muted small" data-testid="search-count">
            {result.value.hits.length === 0
              ? `No session matches “${q.trim()}”. Try fewer or other words.`
              : `${result.value.hits.length} ${result.value.hits.length === 1 ? "session" : "sessions"}`}
            {result.value.indexLag > 0 ? ` · ${result.value.indexLag} entries not indexed yet` : ""}
          </div>
          <ol className="hits">
            {result.value.hits.map((h) => (
              <li key={`${h.sessionId}-${h.seq}`}>
                <a
                  className="search-hit"
                  data-testid="search-hit"
                  data-session-id={h.sessionId}
                  href={sessionHref(h.sessionId, h.seq)}
                >
                  <div className="hit-head">
                    <span className="row-title">{h.title ?? h.sessionId}</span>
                    <span className="badge">{h.kind}</span>
                    {h.sharedBy && (
                      <span
                        className="badge shared-badge"
                        data-testid="shared-by"
                        title={`Shared with you read-only by ${h.sharedBy.email ?? h.sharedBy.name}`}
                      >
                        shared by {h.sharedBy.name}
                      </span>
                    )}
                    {h.matched.map((m) => (
                      <span key={m} className="badge" data-testid="matched-by">
                        {MATCHED_LABEL[m]}
                      </span>
                    ))}
                    <span className="muted small">{formatTime(h.timestamp)}</span>
                  </div>
                  <div className="snippet">
                    <Snippet text={h.snippet} />
                  </div>
                </a>
              </li>
            ))}
          </ol>
        </>
      )}
    </div>
  )
}
