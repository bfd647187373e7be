/**
 * One session's transcript. Opens on the last page (or around a deep-linked entry), loads earlier
 * pages as the reader scrolls up, follows the live tail while the reader is at the bottom, and
 * virtualizes rows so a 100,000-entry session costs what is on screen.
 */
import { type Api, sessionEntriesLabel } from "@overlord/protocol"
import { useVirtualizer } from "@tanstack/react-virtual"
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react"
import { api, END_SEQ, exportUrl, FIRST_PAGE_SIZE, PAGE_SIZE } from "../api.ts"
import { offThreadSeqs } from "../branches.ts"
import { errorText, formatBytes, formatCost, formatTime, isActive, projectLabel, untitledLabel } from "../format.ts"
import { expandForSeq, groupRows, indexOfSeq, isGroupOpen, type TranscriptItem, toggleGroup } from "../grouping.ts"
import { useNow } from "../hooks.ts"
import { getLiveClient } from "../live.ts"
import { machineLabel, useMachineNames } from "../machines.ts"
import { pairTools, usageLineSeqs } from "../pairing.ts"
import { sessionTitle } from "../records.ts"
import { hrefWith } from "../router.ts"
import {
  emptyWindow,
  initialTail,
  parseCached,
  type TranscriptWindow,
  withEarlierPage,
  withLaterPage,
  withLiveEntries,
} from "../transcript-window.ts"
import { CommandHistory } from "./CommandHistory.tsx"
import { ContinueLink } from "./ContinueLink.tsx"
import { EntryView } from "./EntryView.tsx"
import { GeneratedSummary } from "./GeneratedTitle.tsx"
import { RecordGroup } from "./RecordGroup.tsx"
import { KeptBadge } from "./SessionList.tsx"
import { ShareControl } from "./SharePanel.tsx"
import { Subagent } from "./Subagent.tsx"
import { TOOL_QUIET_MS, TranscriptContext, type TranscriptContextValue } from "./transcript-context.ts"

type Load = "idle" | "earlier" | "later"

const lastSeqOf = (w: TranscriptWindow): number => w.entries.at(-1)?.seq ?? 0

const BOOKKEEPING_KEY = "overlord.showBookkeeping"
const readShowBookkeeping = (): boolean => {
  try {
    return window.localStorage.getItem(BOOKKEEPING_KEY) === "1"
  } catch {
    return false
  }
}

export const SessionView = ({ sessionId, seq }: { sessionId: string; seq: number | null }) => {
  const [detail, setDetail] = useState<Api.SessionDetail | null>(null)
  const [win, setWin] = useState<TranscriptWindow>(emptyWindow)
  const [ready, setReady] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [load, setLoad] = useState<Load>("idle")
  const [target, setTarget] = useState<number | null>(seq)
  const [agentTarget, setAgentTarget] = useState<{ agentId: string; seq: number } | null>(null)
  const [unseen, setUnseen] = useState(0)
  const [stuck, setStuck] = useState(true)
  const [expanded, setExpanded] = useState<ReadonlySet<number>>(() => new Set())
  const [showBookkeeping, setShowBookkeeping] = useState(readShowBookkeeping)
  /** Another user shared this session with me and has withdrawn it: nothing more will arrive. */
  const [shareWithdrawn, setShareWithdrawn] = useState(false)
  const now = useNow()
  const machineNames = useMachineNames()

  const scrollRef = useRef<HTMLDivElement>(null)
  const stickRef = useRef(true)
  const anchorRef = useRef<{ top: number; total: number } | null>(null)
  const agentListeners = useRef(new Map<string, Set<(e: readonly Api.Entry[]) => void>>())
  const winRef = useRef(win)
  winRef.current = win

  // Initial load: detail plus the tail page, or the pages around a deep-linked entry.
  useEffect(() => {
    const ctrl = new AbortController()
    const { signal } = ctrl
    setDetail(null)
    setWin(emptyWindow)
    setReady(false)
    setError(null)
    setAgentTarget(null)
    setExpanded(new Set())
    setTarget(seq)
    stickRef.current = seq === null
    const run = async () => {
      const detailP = api.session(sessionId, signal)
      // Awaited below, after the entries: if those fail first (or the view is left and the requests
      // aborted), its rejection would otherwise surface as an unhandled one. `run`'s catch reports it.
      detailP.catch(() => {})
      let w: TranscriptWindow
      const linked = seq === null ? null : await api.entry(seq, signal).catch(() => null)
      if (linked && linked.entry.agentId === null) {
        const [before, after] = await Promise.all([
          api.entries(sessionId, { before: linked.entry.seq + 1 }, signal),
          api.entries(sessionId, { after: linked.entry.seq }, signal),
        ])
        w = withLaterPage(initialTail(before.entries, PAGE_SIZE), after.entries, PAGE_SIZE)
      } else {
        if (linked?.entry.agentId) setAgentTarget({ agentId: linked.entry.agentId, seq: linked.entry.seq })
        const tail = await api.entries(sessionId, { before: END_SEQ, limit: FIRST_PAGE_SIZE }, signal)
        w = initialTail(tail.entries, FIRST_PAGE_SIZE)
        stickRef.current = true
      }
      const d = await detailP
      if (signal.aborted) return
      setDetail(d)
      setWin(w)
      setReady(true)
    }
    run().catch((e: unknown) => {
      if (!signal.aborted) setError(errorText(e))
    })
    return () => ctrl.abort()
  }, [sessionId, seq])

  // Live tail: subscribe once the window reaches the end of the file.
  const atEnd = ready && !win.hasAfter
  useEffect(() => {
    if (!atEnd) return
    const client = getLiveClient()
    client.subscribe(sessionId, lastSeqOf(winRef.current))
    const offEntries = client.onEntries(({ sessionId: sid, entries }) => {
      if (sid !== sessionId) return
      const main = entries.filter((e) => e.agentId === null)
      const byAgent = new Map<string, Api.Entry[]>()
      for (const e of entries) if (e.agentId !== null) byAgent.set(e.agentId, [...(byAgent.get(e.agentId) ?? []), e])
      for (const [agentId, list] of byAgent) for (const fn of agentListeners.current.get(agentId) ?? []) fn(list)
      if (main.length === 0) return
      setWin((w) => withLiveEntries(w, main))
      if (!stickRef.current) setUnseen((n) => n + main.length)
    })
    const offSession = client.onSession((s) => {
      if (s.sessionId === sessionId) setDetail((d) => (d ? { ...d, session: s } : d))
    })
    const offWithdrawn = client.onShareWithdrawn((sid) => {
      if (sid === sessionId) setShareWithdrawn(true)
    })
    return () => {
      offEntries()
      offSession()
      offWithdrawn()
      client.subscribe(undefined, client.lastSeq)
    }
  }, [atEnd, sessionId])

  // After the live feed reconnects, entries are replayed but the header's counts are not: a session
  // that stopped growing during the outage would keep stale totals, so fetch them again.
  useEffect(() => {
    const client = getLiveClient()
    let wasDown = false
    let ctrl: AbortController | null = null
    const off = client.onStatus((status) => {
      if (status !== "open") {
        wasDown = true
        return
      }
      if (!wasDown) return
      wasDown = false
      ctrl?.abort()
      ctrl = new AbortController()
      api.session(sessionId, ctrl.signal).then(
        (d) => setDetail((prev) => (prev ? d : prev)),
        () => undefined,
      )
    })
    return () => {
      off()
      ctrl?.abort()
    }
  }, [sessionId])

  const onAgentEntries = useCallback((agentId: string, fn: (e: readonly Api.Entry[]) => void) => {
    const map = agentListeners.current
    const set = map.get(agentId) ?? new Set()
    set.add(fn)
    map.set(agentId, set)
    return () => set.delete(fn)
  }, [])

  const rows = useMemo(() => win.entries.map((entry) => ({ entry, record: parseCached(entry) })), [win.entries])
  const pairs = useMemo(() => pairTools(rows.map((r) => ({ seq: r.entry.seq, record: r.record }))), [rows])
  const usageSeqs = useMemo(() => usageLineSeqs(rows.map((r) => ({ seq: r.entry.seq, record: r.record }))), [rows])
  const title = useMemo(
    () =>
      sessionTitle(
        rows.map((r) => r.record),
        detail?.session.title ?? null,
      ),
    [rows, detail?.session.title],
  )
  const items = useMemo<TranscriptItem[]>(() => groupRows(rows), [rows])
  // Earlier branches of a rewound or edited conversation, marked rather than silently interleaved.
  const offThread = useMemo(() => offThreadSeqs(rows), [rows])
  const lastAt = detail?.session.lastAt
  const ended = lastAt ? now - new Date(lastAt).getTime() > TOOL_QUIET_MS : false
  const ctx = useMemo<TranscriptContextValue>(
    () => ({ sessionId, pairs, usageSeqs, onAgentEntries, depth: 0, showBookkeeping, ended }),
    [sessionId, pairs, usageSeqs, onAgentEntries, showBookkeeping, ended],
  )

  const virtualizer = useVirtualizer({
    count: items.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => 140,
    getItemKey: (i) => items[i]?.key ?? i,
    overscan: 6,
  })

  const loadEarlier = useCallback(() => {
    const first = winRef.current.entries[0]
    if (!first || !winRef.current.hasBefore || load !== "idle") return
    setLoad("earlier")
    api.entries(sessionId, { before: first.seq }).then(
      (page) => {
        const el = scrollRef.current
        if (el) anchorRef.current = { top: el.scrollTop, total: virtualizer.getTotalSize() }
        setWin((w) => withEarlierPage(w, page.entries, PAGE_SIZE))
        setLoad("idle")
      },
      (e: unknown) => {
        setError(errorText(e))
        setLoad("idle")
      },
    )
  }, [sessionId, load, virtualizer])

  const loadLater = useCallback(() => {
    const last = winRef.current.entries.at(-1)
    if (!last || !winRef.current.hasAfter || load !== "idle") return
    setLoad("later")
    api.entries(sessionId, { after: last.seq }).then(
      (page) => {
        setWin((w) => withLaterPage(w, page.entries, PAGE_SIZE))
        setLoad("idle")
      },
      (e: unknown) => {
        setError(errorText(e))
        setLoad("idle")
      },
    )
  }, [sessionId, load])

  // Keep the reader's place when earlier entries are inserted above it; follow the tail; bring a
  // deep-linked entry into view, opening its bookkeeping group first when it is folded into one.
  const lastItemsRef = useRef(items)
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs after the items or the expansion change
  useLayoutEffect(() => {
    const itemsChanged = lastItemsRef.current !== items
    lastItemsRef.current = items
    const anchor = anchorRef.current
    const el = scrollRef.current
    if (anchor && el) {
      anchorRef.current = null
      el.scrollTop = anchor.top + (virtualizer.getTotalSize() - anchor.total)
      return
    }
    if (!ready || items.length === 0) return
    if (target !== null) {
      const index = indexOfSeq(items, target)
      const item = items[index]
      if (item?.type === "group" && !isGroupOpen(item, expanded, showBookkeeping)) {
        setExpanded(expandForSeq(items, expanded, target))
        return
      }
      if (item) {
        virtualizer.scrollToIndex(index, { align: item.type === "group" ? "start" : "center" })
        if (item.type === "group") {
          // The group's rows are measured after this render: centre the record itself once they are.
          const seqToShow = target
          setTimeout(() => {
            document.getElementById(`entry-${seqToShow}`)?.scrollIntoView({ block: "center" })
          }, 120)
        }
      }
      setTarget(null)
      return
    }
    if (itemsChanged && stickRef.current) virtualizer.scrollToIndex(items.length - 1, { align: "end" })
  }, [items, ready, expanded, target])

  const highlightSeq = seq

  const onScroll = () => {
    const el = scrollRef.current
    if (!el) return
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 80
    stickRef.current = atBottom && !winRef.current.hasAfter
    setStuck(stickRef.current)
    if (stickRef.current) setUnseen(0)
    if (el.scrollTop < 600) loadEarlier()
    if (el.scrollHeight - el.scrollTop - el.clientHeight < 600) loadLater()
  }

  const jumpToLatest = () => {
    stickRef.current = true
    setStuck(true)
    setUnseen(0)
    if (winRef.current.hasAfter) {
      // The deep-link window does not reach the end; reopen at the tail.
      window.location.hash = `#/sessions/${encodeURIComponent(sessionId)}`
      return
    }
    virtualizer.scrollToIndex(items.length - 1, { align: "end" })
  }

  const onShowBookkeeping = (on: boolean) => {
    setShowBookkeeping(on)
    try {
      window.localStorage.setItem(BOOKKEEPING_KEY, on ? "1" : "0")
    } catch {
      // private mode: the toggle just does not persist
    }
  }

  const jumpRef = useRef(jumpToLatest)
  jumpRef.current = jumpToLatest
  useEffect(() => {
    // Ctrl/Cmd+End jumps to the live tail from anywhere on the page.
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "End" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault()
        jumpRef.current()
      }
    }
    window.addEventListener("keydown", onKey)
    return () => window.removeEventListener("keydown", onKey)
  }, [])

  if (error && !ready) return <div className="page error">Could not open session: {error}</div>

  const s = detail?.session
  // Subagent files whose main transcript is missing (never synced, or deleted before it was: LeoDChen
  // `019382a4` in the corpus) are otherwise reachable only from the Task call that the main file holds.
  const agentFiles = (detail?.files ?? []).flatMap((f) => (f.agentId === null ? [] : [{ ...f, agentId: f.agentId }]))
  const active = isActive(s?.lastAt, now)
  const virtualItems = virtualizer.getVirtualItems()

  return (
    <TranscriptContext.Provider value={ctx}>
      <div className="session-page">
        <header className="session-head">
          <div className="session-title-row">
            <h1 className="session-title" title={title ?? sessionId}>
              {title ?? <span className="muted">{untitledLabel(sessionId)}</span>}
            </h1>
            {detail?.session && <GeneratedSummary session={detail.session} />}
            <span
              className={`live-dot ${active ? "live-on" : "live-off"}`}
              data-testid="live-indicator"
              data-active={active ? "true" : "false"}
              title={active ? "Active: last entry under a minute ago" : "Idle"}
            >
              {active ? "live" : "idle"}
            </span>
            <span className="spacer" />
            <ShareControl sessionId={sessionId} />
            <label
              className="toggle small"
              title="Open every folded run of bookkeeping records (request logs, snapshots, injected context)"
            >
              <input
                type="checkbox"
                data-testid="show-bookkeeping"
                checked={showBookkeeping}
                onChange={(e) => onShowBookkeeping(e.target.checked)}
              />{" "}
              show bookkeeping
            </label>
          </div>
          {s && (
            <div className="session-meta">
              <a href={hrefWith("/sessions", { project: s.projectDir })}>{projectLabel(s.cwd, s.projectDir)}</a>
              <span title={s.machineId} data-testid="session-machine">
                {machineLabel(machineNames, s.machineId)}
              </span>
              <span>{s.models.join(", ")}</span>
              <span data-testid="session-entries">{sessionEntriesLabel(s)}</span>
              {s.subagentCount > 0 && (
                <span>
                  {s.subagentCount} {s.subagentCount === 1 ? "subagent" : "subagents"}
                </span>
              )}
              {s.sourceGone && <KeptBadge />}
              {offThread.size > 0 && (
                <span className="branch-note" title="Entries of earlier branches are dimmed and labelled">
                  branched: {offThread.size} entries on earlier branches
                </span>
              )}
              <span>{formatCost(s.usage.costUsd)}</span>
              <ContinueLink sessionId={sessionId} machineId={s.machineId} cwd={s.cwd} />
              <span>
                {formatTime(s.firstAt)} – {formatTime(s.lastAt)}
              </span>
              {detail.files.map((f) => (
                <a key={f.fileKey} href={exportUrl(sessionId, f.fileKey)} download title={f.fileKey}>
                  export {f.agentId ? `agent ${f.agentId.slice(0, 8)}` : "transcript"} ({formatBytes(f.bytes)})
                </a>
              ))}
            </div>
          )}
          {agentTarget && (
            <div className="notice">
              Entry #{agentTarget.seq} is in a subagent transcript:
              <Subagent agentId={agentTarget.agentId} label={agentTarget.agentId} />
            </div>
          )}
          {error && ready && <div className="error">{error}</div>}
          {shareWithdrawn && (
            <div className="notice" data-testid="share-withdrawn">
              This session is no longer shared with you: what is shown stays until you leave, and nothing new will
              arrive.
            </div>
          )}
          <details className="session-commands" data-testid="session-commands">
            <summary>Commands linked to this session</summary>
            <CommandHistory sessionId={sessionId} title="Commands" />
          </details>
        </header>
        {/* biome-ignore lint/a11y/noNoninteractiveTabindex: the transcript scrolls with the keyboard */}
        <div className="transcript-scroll" ref={scrollRef} onScroll={onScroll} tabIndex={0} data-testid="transcript">
          {!ready && <div className="muted pad">Loading transcript…</div>}
          {ready && items.length === 0 && agentFiles.length === 0 && (
            <div className="muted pad">This session has no entries yet.</div>
          )}
          {ready && items.length === 0 && agentFiles.length > 0 && (
            <div className="notice pad" data-testid="main-transcript-missing">
              {detail?.files.some((f) => f.agentId === null)
                ? "This session's main transcript has no entries yet."
                : `This session's main transcript is missing: its file (${sessionId}.jsonl) was never synced, or was deleted before it was.`}{" "}
              Its {agentFiles.length === 1 ? "subagent transcript is" : `${agentFiles.length} subagent transcripts are`}{" "}
              below.
              {agentFiles.map((f) => (
                <Subagent key={f.fileKey} agentId={f.agentId} label={f.agentId} />
              ))}
            </div>
          )}
          {win.hasBefore && load === "earlier" && <div className="muted pad loading-top">Loading earlier entries…</div>}
          <div className="transcript-inner" style={{ height: virtualizer.getTotalSize() }}>
            <div className="transcript-rows" style={{ transform: `translateY(${virtualItems[0]?.start ?? 0}px)` }}>
              {virtualItems.map((v) => {
                const item = items[v.index]
                if (!item) return null
                return (
                  <div key={v.key} data-index={v.index} ref={virtualizer.measureElement}>
                    {item.type === "entry" ? (
                      <EntryView
                        entry={item.row.entry}
                        record={item.row.record}
                        highlighted={item.row.entry.seq === highlightSeq}
                        offThread={offThread.has(item.row.entry.seq)}
                      />
                    ) : (
                      <RecordGroup
                        item={item}
                        open={isGroupOpen(item, expanded, showBookkeeping)}
                        onToggle={showBookkeeping ? undefined : () => setExpanded((x) => toggleGroup(item, x))}
                        highlightSeq={highlightSeq}
                      />
                    )}
                  </div>
                )
              })}
            </div>
          </div>
          {load === "later" && <div className="muted pad">Loading later entries…</div>}
        </div>
        {(!stuck || win.hasAfter) && ready && items.length > 0 && (
          <button type="button" className="jump-pill" onClick={jumpToLatest} data-testid="jump-to-latest">
            {unseen > 0 ? `${unseen} new · ` : ""}Jump to latest ↓
          </button>
        )}
      </div>
    </TranscriptContext.Provider>
  )
}
