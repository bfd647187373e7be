/** Full-text search across every transcript; a hit opens its session at the matching entry. */
import { api } from "../api.ts"
import { formatTime } from "../format.ts"
import { useAsync } from "../hooks.ts"
import { hrefWith, navigate, sessionHref } from "../router.ts"
import { Snippet } from "./TextViews.tsx"

export const SearchPage = ({ q }: { q: string }) => {
  const result = useAsync((s) => (q.trim() ? api.search(q, 100, s) : Promise.resolve(null)), [q])
  return (
    <div className="page search-page">
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault()
          const value = new FormData(e.currentTarget).get("q")
          navigate(hrefWith("/search", { q: typeof value === "string" ? value : undefined }))
        }}
      >
        <input
          name="q"
          type="search"
          defaultValue={q}
          key={q}
          placeholder="Search all transcripts…"
          aria-label="Search"
        />
        <button type="submit">Search</button>
      </form>
      {result.state === "loading" && q && <div className="muted">Searching…</div>}
      {result.state === "error" && <div className="error">{result.error}</div>}
      {result.state === "ok" && result.value && (
        <>
          <div className="muted small">
            {result.value.hits.length} hits
            {result.value.indexLag > 0 ? ` · ${result.value.indexLag} entries not indexed yet` : ""}
          </div>
          <ol className="hits">
            {result.value.hits.map((h) => (
              <li key={`${h.sessionId}-${h.seq}`}>
                <a className="search-hit" data-testid="search-hit" href={sessionHref(h.sessionId, h.seq)}>
                  <div className="hit-head">
                    <span className="row-title">{h.title ?? h.sessionId}</span>
                    <span className="badge">{h.kind}</span>
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
