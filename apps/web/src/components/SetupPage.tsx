/**
 * The pages a one-time link opens, before anyone is signed in: `/setup/<token>` (printed by
 * `overlord serve` while the server has no admin: creates the first admin) and `/invite/<token>`
 * (an admin's invite: creates a user). Both ask for an e-mail and a name; the server sets the
 * session cookie in its answer, so the new user lands in the dashboard signed in.
 */
import type { Api } from "@overlord/protocol"
import { useState } from "react"
import { accountsApi } from "../accounts-api.ts"
import { errorText, formatTime } from "../format.ts"
import { useAsync } from "../hooks.ts"

const COPY = {
  setup: {
    title: "Set up Overlord",
    intro: "Create the first account. It becomes this server's administrator: it invites the other users.",
    submit: "Create admin account",
    invalid: "This setup link is invalid, used or expired, or the server has an administrator already.",
  },
  invite: {
    title: "Join Overlord",
    intro: "You were invited to this Overlord server. Choose how you appear to others here.",
    submit: "Create account",
    invalid: "This invite link is invalid, already used or expired. Ask your administrator for a new one.",
  },
} as const

/** Where a new account lands: its machines page, which says how to pair the first laptop. */
export const AFTER_SIGNUP = "/#/account/machines"

export const LinkSignupPage = ({ kind, token }: { kind: "setup" | "invite"; token: string }) => {
  const copy = COPY[kind]
  const status = useAsync((s) => accountsApi.linkStatus(token, s), [token])
  const [email, setEmail] = useState("")
  const [name, setName] = useState("")
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [done, setDone] = useState<Api.AccountUser | null>(null)

  const submit = async () => {
    setBusy(true)
    setError(null)
    try {
      const req = { token, email: email.trim(), name: name.trim() }
      const me = kind === "setup" ? await accountsApi.setup(req) : await accountsApi.acceptInvite(req)
      setDone(me.user)
      // A full load, not a hash change: the path must leave /setup/<token> and the app start signed in.
      window.location.replace(AFTER_SIGNUP)
    } catch (e) {
      setError(errorText(e))
      setBusy(false)
    }
  }

  const valid = status.state === "ok" && status.value.valid && status.value.kind === kind
  return (
    <div className="card-page">
      <div className="card" data-testid={`${kind}-page`}>
        <h1>{copy.title}</h1>
        {status.state === "loading" && <p className="muted">Checking the link…</p>}
        {status.state === "error" && (
          <p className="error" data-testid="link-invalid">
            {copy.invalid} ({status.error})
          </p>
        )}
        {status.state === "ok" && !valid && (
          <p className="error" data-testid="link-invalid">
            {copy.invalid}
          </p>
        )}
        {valid && !done && (
          <form
            className="stack-form"
            onSubmit={(e) => {
              e.preventDefault()
              void submit()
            }}
          >
            <p className="muted">{copy.intro}</p>
            <label>
              E-mail
              <input
                type="email"
                required
                maxLength={254}
                autoComplete="email"
                value={email}
                onChange={(e) => setEmail(e.target.value)}
                data-testid="signup-email"
              />
            </label>
            <label>
              Name
              <input
                type="text"
                required
                maxLength={100}
                autoComplete="name"
                value={name}
                onChange={(e) => setName(e.target.value)}
                data-testid="signup-name"
              />
            </label>
            <button type="submit" className="primary-button" disabled={busy} data-testid="signup-submit">
              {busy ? "Creating…" : copy.submit}
            </button>
            {status.state === "ok" && status.value.expiresAt && (
              <p className="muted small">This link works once, until {formatTime(status.value.expiresAt)}.</p>
            )}
            {error && (
              <p className="error" role="alert" data-testid="signup-error">
                {error}
              </p>
            )}
          </form>
        )}
        {done && (
          <p data-testid="signup-done">
            Signed in as {done.name}. <a href={AFTER_SIGNUP}>Open the dashboard</a>
          </p>
        )}
      </div>
    </div>
  )
}

export const SetupPage = ({ token }: { token: string }) => <LinkSignupPage kind="setup" token={token} />
