/**
 * "Shared with me" on the Sessions page: the sessions other users of this server let me read. The
 * session list is the user's own sessions only (every query is scoped to its user), so a member told
 * "I shared my session with you" did not find it there, only under Account → Shared with me and in
 * search (walkthrough). The list comes from `/shared-sessions`, as on that account tab; each row's
 * project and last activity from the session route, which reads a shared session as its owner, read-only.
 */
import type { Api } from "@overlord/protocol"
import { accountsApi } from "../accounts-api.ts"
import { api } from "../api.ts"
import { formatAgo, projectLabel, untitledLabel } from "../format.ts"
import { type Async, useAsync } from "../hooks.ts"
import { sessionHref } from "../router.ts"

/** The sessions shared with me, loaded once per visit of the Sessions page (shares are few, and not live). */
export const useSharedWithMe = (): Async<Api.SharedSessionList> => useAsync((s) => accountsApi.sharedWithMe(s), [])

/** One shared session: its summary when the owner's session could be read, else what the share says. */
const SharedRow = ({
  share,
  summary,
  now,
}: {
  share: Api.SharedSession
  summary: Api.SessionSummary | null
  now: number
}) => (
  <a
    className="session-row"
    data-testid="shared-session-row"
    data-session-id={share.sessionId}
    href={sessionHref(share.sessionId)}
  >
    <div className="row-main">
      <span className="row-title">
        {summary?.generatedTitle ?? summary?.title ?? share.title ?? (
          <span className="muted">{untitledLabel(share.sessionId)}</span>
        )}
      </span>
      <span className="badge" data-testid="shared-by">
        shared by {share.owner.name}
      </span>
    </div>
    <div className="row-sub muted">
      {summary && <span>{projectLabel(summary.cwd, summary.projectDir)}</span>}
      {summary && <span title={summary.lastAt ?? ""}>{formatAgo(summary.lastAt, now)}</span>}
    </div>
  </a>
)

/** Shown above my own sessions when anything is shared with me; folded away with its summary line. */
export const SharedWithMeSection = ({ shares, now }: { shares: readonly Api.SharedSession[]; now: number }) => {
  const ids = shares.map((s) => s.sessionId).join(",")
  // One request per shared session, in parallel: a failed one (withdrawn meanwhile) leaves its row plain.
  const summaries = useAsync(
    (signal) =>
      Promise.all(
        shares.map((s) =>
          api.session(s.sessionId, signal).then(
            (d) => d.session,
            () => null,
          ),
        ),
      ),
    [ids],
  )
  return (
    <details className="shared-sessions" open data-testid="shared-with-me">
      <summary>
        Shared with me <span className="muted">· {shares.length} · read-only</span>
      </summary>
      <div className="shared-sessions-rows">
        {shares.map((share, i) => (
          <SharedRow
            key={share.sessionId}
            share={share}
            summary={summaries.state === "ok" ? (summaries.value[i] ?? null) : null}
            now={now}
          />
        ))}
      </div>
    </details>
  )
}
