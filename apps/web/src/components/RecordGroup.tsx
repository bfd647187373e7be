/** A run of bookkeeping records folded into one row; opened, it lists each record, raw and collapsed. */
import { groupSummary, itemSeqs, type TranscriptItem } from "../grouping.ts"
import { EntryView } from "./EntryView.tsx"

export const RecordGroup = ({
  item,
  open,
  onToggle,
  highlightSeq = null,
}: {
  item: Extract<TranscriptItem, { type: "group" }>
  open: boolean
  /** Absent while "show bookkeeping" holds every group open. */
  onToggle?: (() => void) | undefined
  highlightSeq?: number | null
}) => {
  const seqs = itemSeqs(item)
  const first = seqs[0]
  const last = seqs.at(-1)
  const summary = groupSummary(item)
  const highlighted = highlightSeq !== null && seqs.includes(highlightSeq)
  return (
    <div
      className={`record-group${open ? " record-group-open" : ""}${highlighted ? " record-group-highlight" : ""}`}
      data-testid="record-group"
      data-seqs={seqs.join(" ")}
      data-open={open ? "true" : "false"}
    >
      <button
        type="button"
        className="record-group-toggle"
        aria-expanded={open}
        onClick={onToggle}
        disabled={!onToggle}
        title={open ? "Fold these records" : "Show each record"}
      >
        <span className="caret" aria-hidden="true">
          {open ? "▾" : "▸"}
        </span>
        <span className="record-group-summary">{summary}</span>
        <span className="spacer" />
        <span className="record-group-range">
          #{first}
          {last !== first ? `–${last}` : ""}
        </span>
      </button>
      {open && (
        <div className="record-group-body">
          {item.rows.map((r) => (
            <EntryView
              key={r.entry.seq}
              entry={r.entry}
              record={r.record}
              variant="bookkeeping"
              highlighted={r.entry.seq === highlightSeq}
            />
          ))}
        </div>
      )}
    </div>
  )
}
