/**
 * Sharing in the session view. The owner shares the session read-only with another user of this
 * server by e-mail, sees whom it is shared with and withdraws a share; someone it was shared with
 * sees whose it is and that it is read-only. Which of the two the viewer is comes from
 * `/shared-sessions` (the sessions shared with me), so no other user's data is asked for.
 */
import { useState } from "react"
import { accountsApi } from "../accounts-api.ts"
import { errorText } from "../format.ts"
import { ConfirmButton, useLoaded } from "./AccountWidgets.tsx"

const OwnerShares = ({ sessionId, onClose }: { sessionId: string; onClose: () => void }) => {
  const [reload, setReload] = useState(0)
  const list = useLoaded((s) => accountsApi.shares(sessionId, s), [sessionId, reload])
  const [email, setEmail] = useState("")
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  return (
    <div className="share-panel" data-testid="share-panel">
      <div className="share-panel-head">
        <strong>Share read-only</strong>
        <button type="button" className="link-button" onClick={onClose} aria-label="Close sharing">
          ×
        </button>
      </div>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault()
          setBusy(true)
          setError(null)
          accountsApi.share(sessionId, email).then(
            () => {
              setEmail("")
              setBusy(false)
              setReload((n) => n + 1)
            },
            (err: unknown) => {
              setError(errorText(err))
              setBusy(false)
            },
          )
        }}
      >
        <input
          type="email"
          required
          maxLength={254}
          placeholder="user@example.com"
          aria-label="E-mail of a user of this server"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          data-testid="share-email"
        />
        <button type="submit" className="primary-button" disabled={busy} data-testid="share-submit">
          Share
        </button>
      </form>
      {error && (
        <div className="error small" role="alert" data-testid="share-error">
          {error}
        </div>
      )}
      {list.state === "error" && <div className="error small">{list.error}</div>}
      {list.state === "ok" && list.value.shares.length === 0 && (
        <div className="muted small" data-testid="no-shares">
          Only you can see this session.
        </div>
      )}
      {list.state === "ok" && list.value.shares.length > 0 && (
        <ul className="share-list" data-testid="share-list">
          {list.value.shares.map((s) => (
            <li key={s.userId} data-testid="share-row" data-email={s.email ?? ""}>
              <span>
                {s.name}
                {s.email ? <span className="muted"> · {s.email}</span> : null}
              </span>
              <ConfirmButton
                label="Withdraw"
                confirmLabel="Yes, withdraw"
                question={`Stop sharing with ${s.name}?`}
                testId="withdraw-share"
                onConfirm={async () => {
                  await accountsApi.unshare(sessionId, s.userId)
                  setReload((n) => n + 1)
                }}
              />
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}

export const ShareControl = ({ sessionId }: { sessionId: string }) => {
  const shared = useLoaded((s) => accountsApi.sharedWithMe(s), [sessionId])
  const [open, setOpen] = useState(false)
  if (shared.state !== "ok") return null
  const mine = shared.value.sessions.find((s) => s.sessionId === sessionId)
  if (mine) {
    return (
      <span className="badge shared-badge" data-testid="shared-readonly" title="Shared with you: read-only">
        read-only · shared by {mine.owner.name}
      </span>
    )
  }
  return (
    <span className="share-control">
      <button type="button" onClick={() => setOpen((o) => !o)} aria-expanded={open} data-testid="share-toggle">
        Share
      </button>
      {open && <OwnerShares sessionId={sessionId} onClose={() => setOpen(false)} />}
    </span>
  )
}
