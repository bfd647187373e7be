/** A subagent's own transcript (its agent file), expanded inline under the Task/Agent call. */
import type { Api } from "@overlord/protocol"
import { useCallback, useEffect, useMemo, useState } from "react"
import { api, PAGE_SIZE } from "../api.ts"
import { errorText, formatEntries } from "../format.ts"
import { groupRows, isGroupOpen, toggleGroup } from "../grouping.ts"
import { pairTools, usageLineSeqs } from "../pairing.ts"
import { parseCached } from "../transcript-window.ts"
import { EntryView } from "./EntryView.tsx"
import { RecordGroup } from "./RecordGroup.tsx"
import { TranscriptContext, useTranscript } from "./transcript-context.ts"

const mergeEntries = (a: readonly Api.Entry[], b: readonly Api.Entry[]): Api.Entry[] => {
  const bySeq = new Map<number, Api.Entry>()
  for (const e of a) bySeq.set(e.seq, e)
  for (const e of b) bySeq.set(e.seq, e)
  return [...bySeq.values()].sort((x, y) => x.seq - y.seq)
}

export const Subagent = ({ agentId, label }: { agentId: string; label: string }) => {
  const parent = useTranscript()
  const [open, setOpen] = useState(false)
  const [entries, setEntries] = useState<Api.Entry[]>([])
  const [state, setState] = useState<"idle" | "loading" | "more" | "done" | "error">("idle")
  const [error, setError] = useState<string | null>(null)
  const [expanded, setExpanded] = useState<ReadonlySet<number>>(() => new Set())

  const loadMore = useCallback(
    (after: number | undefined) => {
      setState("loading")
      api
        .entries(parent.sessionId, after === undefined ? { agent: agentId } : { agent: agentId, after })
        .then((page) => {
          setEntries((prev) => mergeEntries(prev, page.entries))
          setState(page.entries.length >= PAGE_SIZE ? "more" : "done")
        })
        .catch((e: unknown) => {
          setError(errorText(e))
          setState("error")
        })
    },
    [agentId, parent.sessionId],
  )

  useEffect(() => {
    if (open && state === "idle") loadMore(undefined)
  }, [open, state, loadMore])

  useEffect(() => {
    if (!open) return
    return parent.onAgentEntries(agentId, (fresh) => setEntries((prev) => mergeEntries(prev, fresh)))
  }, [open, agentId, parent])

  const records = useMemo(() => entries.map((e) => ({ entry: e, record: parseCached(e) })), [entries])
  const pairs = useMemo(() => pairTools(records.map((r) => ({ seq: r.entry.seq, record: r.record }))), [records])
  const items = useMemo(() => groupRows(records), [records])
  const usageSeqs = useMemo(
    () => usageLineSeqs(records.map((r) => ({ seq: r.entry.seq, record: r.record }))),
    [records],
  )
  const ctx = useMemo(() => ({ ...parent, pairs, usageSeqs, depth: parent.depth + 1 }), [parent, pairs, usageSeqs])

  return (
    <details
      className="subagent"
      data-testid="subagent"
      data-agent-id={agentId}
      onToggle={(e) => setOpen(e.currentTarget.open)}
    >
      <summary>
        Subagent transcript <span className="muted">{label}</span>
        {entries.length > 0 && <span className="muted"> · {formatEntries(entries.length)}</span>}
      </summary>
      {open && (
        <div className="subagent-body">
          <TranscriptContext.Provider value={ctx}>
            {items.map((item) =>
              item.type === "entry" ? (
                <EntryView key={item.key} entry={item.row.entry} record={item.row.record} />
              ) : (
                <RecordGroup
                  key={item.key}
                  item={item}
                  open={isGroupOpen(item, expanded, parent.showBookkeeping)}
                  onToggle={parent.showBookkeeping ? undefined : () => setExpanded((x) => toggleGroup(item, x))}
                />
              ),
            )}
          </TranscriptContext.Provider>
          {state === "loading" && <div className="muted">Loading…</div>}
          {state === "error" && <div className="error">{error}</div>}
          {state === "more" && (
            <button type="button" className="link-button" onClick={() => loadMore(entries.at(-1)?.seq)}>
              Load more
            </button>
          )}
        </div>
      )}
    </details>
  )
}
