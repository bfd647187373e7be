/** Unified diff table with old/new line numbers. */
import { type DiffRow, diffStats } from "../diff.ts"

export const DiffView = ({ rows, path }: { rows: readonly DiffRow[]; path?: string | null }) => {
  const { added, removed } = diffStats(rows)
  return (
    <div className="diff" data-testid="diff">
      {path && (
        <div className="diff-head">
          <span className="path">{path}</span>
          <span className="diff-add-count">+{added}</span>
          <span className="diff-del-count">−{removed}</span>
        </div>
      )}
      <table>
        <tbody>
          {rows.map((row, i) =>
            row.type === "hunk" ? (
              // biome-ignore lint/suspicious/noArrayIndexKey: rows are positional
              <tr key={i} className="diff-hunk">
                <td colSpan={3}>{row.header}</td>
              </tr>
            ) : row.type === "note" ? (
              // biome-ignore lint/suspicious/noArrayIndexKey: rows are positional
              <tr key={i} className="diff-note">
                <td colSpan={3}>{row.text}</td>
              </tr>
            ) : (
              // biome-ignore lint/suspicious/noArrayIndexKey: rows are positional
              <tr key={i} className={`diff-${row.type}`}>
                <td className="ln">{row.oldNo ?? ""}</td>
                <td className="ln">{row.newNo ?? ""}</td>
                <td className="diff-text">
                  <span className="diff-mark">{row.type === "add" ? "+" : row.type === "del" ? "-" : " "}</span>
                  {row.text}
                </td>
              </tr>
            ),
          )}
        </tbody>
      </table>
    </div>
  )
}
