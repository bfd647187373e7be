/**
 * `/device?code=XXXX-XXXX`: the page `overlord login <url>` sends its user to. It shows the code the
 * terminal printed and the machine that asks (the name the CLI sent), so the user approves only the
 * request they started; Approve gives that machine a credential of the signed-in user, Deny ends it.
 */
import type { Api } from "@overlord/protocol"
import { useState } from "react"
import { accountsApi, HttpError, normalizeUserCode } from "../accounts-api.ts"
import { errorText, formatTime } from "../format.ts"
import { useLoaded } from "./AccountWidgets.tsx"

const CodeForm = () => (
  <form
    className="stack-form"
    onSubmit={(e) => {
      e.preventDefault()
      const v = new FormData(e.currentTarget).get("code")
      if (typeof v === "string" && v.trim())
        window.location.search = `?code=${encodeURIComponent(normalizeUserCode(v))}`
    }}
  >
    <label>
      The code your terminal shows
      <input name="code" autoComplete="off" placeholder="XXXX-XXXX" data-testid="device-code-input" />
    </label>
    <button type="submit" className="primary-button">
      Continue
    </button>
  </form>
)

const Decided = ({ request }: { request: Api.DeviceRequest }) => {
  switch (request.status) {
    case "approved":
      return (
        <p className="ok-text" data-testid="device-result" data-status="approved">
          Approved. <strong>{request.machineName}</strong> is signed in as you; its terminal continues by itself. You
          can close this page.
        </p>
      )
    case "denied":
      return (
        <p className="error" data-testid="device-result" data-status="denied">
          Denied. <strong>{request.machineName}</strong> was not signed in.
        </p>
      )
    case "expired":
      return (
        <p className="error" data-testid="device-result" data-status="expired">
          This code has expired. Run <code>overlord login</code> again for a new one.
        </p>
      )
    case "pending":
      return null
  }
}

const DeviceRequestView = ({ code }: { code: string }) => {
  const [reload, setReload] = useState(0)
  const res = useLoaded((s) => accountsApi.deviceRequest(code, s), [code, reload])
  const [decided, setDecided] = useState<Api.DeviceRequest | null>(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  const decide = async (decision: "approve" | "deny") => {
    setBusy(true)
    setError(null)
    try {
      setDecided(await accountsApi.decideDevice(code, decision))
    } catch (e) {
      // 409: decided elsewhere or expired meanwhile; show what it is now.
      if (e instanceof HttpError && e.status === 409) setReload((n) => n + 1)
      setError(errorText(e))
    } finally {
      setBusy(false)
    }
  }

  if (res.state === "loading") return <p className="muted">Looking up the code…</p>
  if (res.state === "error") {
    return (
      <p className="error" data-testid="device-error">
        {res.status === 401
          ? "Sign in to this dashboard first (`overlord open` on a machine already paired with it opens a signed-in page), then open the link from your terminal again."
          : `No sign-in request with code ${code} (${res.error}). Check the code your terminal shows.`}
      </p>
    )
  }
  const request = decided ?? res.value
  const denyButton = (
    <button
      type="button"
      className="danger-button"
      disabled={busy}
      onClick={() => void decide("deny")}
      data-testid="device-deny"
    >
      Deny
    </button>
  )
  return (
    <div data-testid="device-request" data-status={request.status}>
      <div className="device-code" data-testid="device-code">
        {request.userCode}
      </div>
      <dl className="device-facts">
        <dt>Machine</dt>
        <dd data-testid="device-machine">{request.machineName}</dd>
        <dt>Expires</dt>
        <dd>{formatTime(request.expiresAt)}</dd>
      </dl>
      {request.status === "pending" && request.pairedMachine !== undefined ? (
        <>
          <p className="error" data-testid="device-paired-machine">
            This request claims to be <strong>{request.pairedMachine}</strong>, a machine already paired with your
            account, and cannot be approved: it would take over that machine's identity and its remote commands. Deny it
            unless you started it. If it really is <strong>{request.pairedMachine}</strong> (its credentials were lost),
            revoke <strong>{request.pairedMachine}</strong> on the Machines page first, then run{" "}
            <code>overlord login</code> on it again.
          </p>
          <div className="button-row">{denyButton}</div>
        </>
      ) : request.status === "pending" ? (
        <>
          <p>
            Approve only if you just ran <code>overlord login</code> on <strong>{request.machineName}</strong> and its
            terminal shows the same code. It will sync that machine's Claude Code sessions to your account.
          </p>
          <div className="button-row">
            <button
              type="button"
              className="primary-button"
              disabled={busy}
              onClick={() => void decide("approve")}
              data-testid="device-approve"
            >
              Approve
            </button>
            {denyButton}
          </div>
        </>
      ) : (
        <Decided request={request} />
      )}
      {error && (
        <p className="error small" role="alert">
          {error}
        </p>
      )}
    </div>
  )
}

export const DeviceApprove = ({ code }: { code: string | null }) => (
  <div className="card-page">
    <div className="card" data-testid="device-page">
      <h1>Sign in a machine</h1>
      {code ? <DeviceRequestView code={normalizeUserCode(code)} /> : <CodeForm />}
      <p className="small">
        <a href="/#/account/machines">Your machines</a>
      </p>
    </div>
  </div>
)
