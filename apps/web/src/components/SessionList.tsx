/** All sessions, newest activity first: filters in the URL, cursor pages loaded on scroll, virtualized rows. */
import { type Api, sessionEntriesLabel } from "@overlord/protocol"
import { useVirtualizer } from "@tanstack/react-virtual"
import { useCallback, useEffect, useMemo, useRef, useState } from "react"
import { api, type SessionFilters } from "../api.ts"
import {
  errorText,
  formatAgo,
  formatCost,
  isActive,
  projectLabel,
  projectOptionLabels,
  untitledLabel,
} from "../format.ts"
import { useAsync, useNow } from "../hooks.ts"
import { getLiveClient } from "../live.ts"
import { type MachineNames, machineLabel, useMachines } from "../machines.ts"
import { hrefWith, navigate, sessionHref } from "../router.ts"
import { GeneratedMark } from "./GeneratedTitle.tsx"
import { PairLaptopHint } from "./PairLaptopHint.tsx"
import { SharedWithMeSection, useSharedWithMe } from "./SharedSessions.tsx"

const LIST_PAGE = 100
const ROW_HEIGHT = 58

export const filtersFromParams = (p: URLSearchParams): SessionFilters => {
  const f: SessionFilters = {}
  for (const key of ["project", "machine", "model", "from", "to", "q"] as const) {
    const v = p.get(key)
    if (v) f[key] = v
  }
  if (p.get("hasErrors") === "1") f.hasErrors = true
  return f
}

const hasAnyFilter = (f: SessionFilters): boolean => Object.keys(f).length > 0

/** Insert or replace a live-updated session, keeping newest activity first. */
export const upsertSession = (
  list: readonly Api.SessionSummary[],
  s: Api.SessionSummary,
  insertNew: boolean,
): Api.SessionSummary[] => {
  const i = list.findIndex((x) => x.sessionId === s.sessionId)
  if (i < 0 && !insertNew) return [...list]
  const rest = i < 0 ? [...list] : [...list.slice(0, i), ...list.slice(i + 1)]
  const at = rest.findIndex((x) => (x.lastAt ?? "") <= (s.lastAt ?? ""))
  // The live feed does not carry generated titles (issue #13): a row keeps the one it was listed with.
  const old = i < 0 ? undefined : list[i]
  const row =
    old?.generatedTitle !== undefined && s.generatedTitle === undefined
      ? { ...s, generatedTitle: old.generatedTitle, summary: old.summary ?? "", titleModel: old.titleModel ?? "" }
      : s
  if (at < 0) rest.push(row)
  else rest.splice(at, 0, row)
  return rest
}

/** The session's file is gone from its machine (Claude Code's cleanup): what Overlord stored stays. */
export const KeptBadge = () => (
  <span
    className="badge"
    data-testid="kept-by-overlord"
    title="Claude Code deleted this session's file (cleanupPeriodDays); Overlord kept every line"
  >
    kept by Overlord
  </span>
)

export const SessionRow = ({ s, now, machines }: { s: Api.SessionSummary; now: number; machines: MachineNames }) => (
  <a className="session-row" data-testid="session-row" data-session-id={s.sessionId} href={sessionHref(s.sessionId)}>
    <div className="row-main">
      <span className="row-title">
        {s.generatedTitle ?? s.title ?? <span className="muted">{untitledLabel(s.sessionId)}</span>}
      </span>
      {s.generatedTitle && <GeneratedMark model={s.titleModel} />}
      {s.hasErrors && <span className="badge badge-error">errors</span>}
      {s.sourceGone && <KeptBadge />}
      {isActive(s.lastAt, now) && <span className="live-dot live-on">live</span>}
    </div>
    <div className="row-sub muted">
      <span>{projectLabel(s.cwd, s.projectDir)}</span>
      <span className="row-machine" title={`machine ${s.machineId}`}>
        {machineLabel(machines, s.machineId)}
      </span>
      <span>{s.models.map((m) => m.replace(/^claude-/, "")).join(", ")}</span>
      <span data-testid="session-entries">{sessionEntriesLabel(s)}</span>
      <span>{formatCost(s.usage.costUsd)}</span>
      <span title={s.lastAt ?? ""}>{formatAgo(s.lastAt, now)}</span>
    </div>
    {s.summary && (
      <div className="row-summary muted small" data-testid="generated-summary">
        {s.summary}
      </div>
    )}
  </a>
)

export const SessionList = ({ params }: { params: URLSearchParams }) => {
  const filters = filtersFromParams(params)
  const key = JSON.stringify(filters)
  const [sessions, setSessions] = useState<Api.SessionSummary[]>([])
  const [cursor, setCursor] = useState<string | null>(null)
  const [done, setDone] = useState(false)
  const [loading, setLoading] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const scrollRef = useRef<HTMLDivElement>(null)
  const generation = useRef(0)
  const now = useNow()
  const projects = useAsync((s) => api.projects(s), [])
  const projectLabels = useMemo(
    () => (projects.state === "ok" ? projectOptionLabels(projects.value.projects) : null),
    [projects],
  )
  const machines = useMachines()
  const shared = useSharedWithMe()
  const sharedCount = shared.state === "ok" ? shared.value.sessions.length : 0

  const fetchPage = useCallback(
    (from: string | null, reset: boolean) => {
      const gen = generation.current
      setLoading(true)
      api.sessions(JSON.parse(key) as SessionFilters, from, LIST_PAGE).then(
        (page) => {
          if (gen !== generation.current) return
          setSessions((prev) => (reset ? [...page.sessions] : [...prev, ...page.sessions]))
          setCursor(page.nextCursor)
          setDone(page.nextCursor === null)
          setLoading(false)
        },
        (e: unknown) => {
          if (gen !== generation.current) return
          setError(errorText(e))
          setLoading(false)
        },
      )
    },
    [key],
  )

  useEffect(() => {
    generation.current++
    setSessions([])
    setCursor(null)
    setDone(false)
    setError(null)
    fetchPage(null, true)
  }, [fetchPage])

  useEffect(() => {
    const insertNew = !hasAnyFilter(JSON.parse(key) as SessionFilters)
    return getLiveClient().onSession((s) => setSessions((list) => upsertSession(list, s, insertNew)))
  }, [key])

  const virtualizer = useVirtualizer({
    // No "Loading…" row once a page failed: the error says why nothing more is coming.
    count: sessions.length + (done || error ? 0 : 1),
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 10,
  })
  const items = virtualizer.getVirtualItems()
  const lastItem = items.at(-1)

  useEffect(() => {
    if (lastItem && lastItem.index >= sessions.length - 1 && !done && !loading && !error && sessions.length > 0) {
      fetchPage(cursor, false)
    }
  }, [lastItem, sessions.length, done, loading, error, cursor, fetchPage])

  const setFilter = (name: string, value: string | undefined) => {
    const next: Record<string, string | undefined> = {}
    for (const [k, v] of params.entries()) next[k] = v
    next[name] = value
    navigate(hrefWith("/sessions", next), true)
  }

  return (
    <div className="list-page">
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <input
          type="search"
          placeholder="Search titles and prompts…"
          defaultValue={filters.q ?? ""}
          aria-label="Search sessions"
          onKeyDown={(e) => e.key === "Enter" && setFilter("q", e.currentTarget.value || undefined)}
          onBlur={(e) => setFilter("q", e.currentTarget.value || undefined)}
        />
        <select
          aria-label="Project"
          value={filters.project ?? ""}
          onChange={(e) => setFilter("project", e.target.value || undefined)}
        >
          <option value="">All projects</option>
          {projects.state === "ok" &&
            projects.value.projects.map((p) => (
              <option
                key={p.projectDir}
                value={p.projectDir}
                title={`${p.cwd ?? p.projectDir} (folder ${p.projectDir})`}
              >
                {projectLabels?.get(p.projectDir)}
              </option>
            ))}
        </select>
        <select
          aria-label="Machine"
          value={filters.machine ?? ""}
          onChange={(e) => setFilter("machine", e.target.value || undefined)}
        >
          <option value="">All machines</option>
          {machines.list?.map((m) => (
            <option key={m.machineId} value={m.machineId}>
              {m.name}
            </option>
          ))}
        </select>
        <input
          aria-label="Model"
          placeholder="model"
          defaultValue={filters.model ?? ""}
          onBlur={(e) => setFilter("model", e.currentTarget.value || undefined)}
          onKeyDown={(e) => e.key === "Enter" && setFilter("model", e.currentTarget.value || undefined)}
        />
        <label>
          from{" "}
          <input
            type="date"
            value={filters.from ?? ""}
            onChange={(e) => setFilter("from", e.target.value || undefined)}
          />
        </label>
        <label>
          to{" "}
          <input type="date" value={filters.to ?? ""} onChange={(e) => setFilter("to", e.target.value || undefined)} />
        </label>
        <label>
          <input
            type="checkbox"
            checked={filters.hasErrors === true}
            onChange={(e) => setFilter("hasErrors", e.target.checked ? "1" : undefined)}
          />{" "}
          has errors
        </label>
        {hasAnyFilter(filters) && (
          <a href="#/sessions" className="link-button">
            clear
          </a>
        )}
      </form>
      {error && <div className="error pad">{error}</div>}
      {/* Filters apply to my own sessions only: with one set, the shared ones are not shown unfiltered beside them. */}
      {!hasAnyFilter(filters) && shared.state === "ok" && sharedCount > 0 && (
        <SharedWithMeSection shares={shared.value.sessions} now={now} />
      )}
      {!hasAnyFilter(filters) && shared.state === "error" && (
        <div className="error pad">Sessions shared with you: {shared.error}</div>
      )}
      <div className="list-scroll" ref={scrollRef} data-testid="session-list">
        {!loading && sessions.length === 0 && !error && (
          <div className="muted pad" data-testid="no-sessions">
            {hasAnyFilter(filters) ? (
              "No sessions match these filters."
            ) : (
              <>
                {sharedCount > 0
                  ? "No sessions of your own yet (other users' are under Shared with me). "
                  : "No sessions yet. "}
                <PairLaptopHint />
              </>
            )}
          </div>
        )}
        <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {items.map((item) => {
            const s = sessions[item.index]
            return (
              <div
                key={s?.sessionId ?? "loader"}
                style={{
                  position: "absolute",
                  top: 0,
                  left: 0,
                  right: 0,
                  height: item.size,
                  transform: `translateY(${item.start}px)`,
                }}
              >
                {s ? (
                  <SessionRow s={s} now={now} machines={machines.names} />
                ) : (
                  <div className="muted pad">Loading…</div>
                )}
              </div>
            )
          })}
        </div>
      </div>
    </div>
  )
}
