/**
 * `#/account/<tab>`: the signed-in user's machines (rename, revoke), API tokens (create, revoke), sessions
 * others shared with them, and for admins invites and pairing keys. Secrets (tokens, keys, invite
 * links) come back from the server once, in the answer that created them, and are shown once.
 */
import type { Api } from "@overlord/protocol"
import { useState } from "react"
import { type AccountMachine, accountsApi } from "../accounts-api.ts"
import { errorText, formatAgo, formatTime } from "../format.ts"
import { useHealth, useNow } from "../hooks.ts"
import { sessionHref } from "../router.ts"
import { ConfirmButton, OnceSecret, useLoaded } from "./AccountWidgets.tsx"

export const ACCOUNT_TABS = [
  { tab: "machines", label: "Machines", admin: false },
  { tab: "tokens", label: "API tokens", admin: false },
  { tab: "shared", label: "Shared with me", admin: false },
  { tab: "invites", label: "Invites", admin: true },
  { tab: "pairing-keys", label: "Pairing keys", admin: true },
] as const
export type AccountTab = (typeof ACCOUNT_TABS)[number]["tab"]

export const accountTabOf = (raw: string | undefined): AccountTab =>
  ACCOUNT_TABS.find((t) => t.tab === raw)?.tab ?? "machines"

/** Lifetimes offered for links and keys, in minutes. */
const TTL_CHOICES = [
  { minutes: 60, label: "1 hour" },
  { minutes: 24 * 60, label: "1 day" },
  { minutes: 7 * 24 * 60, label: "7 days" },
  { minutes: 30 * 24 * 60, label: "30 days" },
] as const

const TtlSelect = ({
  value,
  onChange,
  testId,
}: {
  value: number
  onChange: (minutes: number) => void
  testId: string
}) => (
  <label>
    Valid for{" "}
    <select value={value} onChange={(e) => onChange(Number(e.target.value))} data-testid={testId}>
      {TTL_CHOICES.map((c) => (
        <option key={c.minutes} value={c.minutes}>
          {c.label}
        </option>
      ))}
    </select>
  </label>
)

const serverOrigin = () => window.location.origin

// ---- machines ---------------------------------------------------------------------------------

const machineState = (m: AccountMachine): "revoked" | "online" | "offline" =>
  m.revoked ? "revoked" : m.online ? "online" : "offline"

/**
 * The REST list (which knows revocations) with name, online and last seen from the live feed, which
 * changes without a reload (a rename in another tab, or through another server, arrives there too).
 */
const withLiveState = (
  machines: readonly AccountMachine[],
  live: readonly Api.Machine[] | undefined,
): AccountMachine[] => {
  const byId = new Map((live ?? []).map((m) => [m.machineId, m]))
  return machines.map((m) => {
    const h = byId.get(m.machineId)
    return h ? { ...m, name: h.name, online: h.online, lastSeenAt: h.lastSeenAt, filesTracked: h.filesTracked } : m
  })
}

/**
 * "Rename" → an input with the name and Save / Cancel. A name another of the user's machines has is
 * refused by the server (409), whose sentence is shown under the input, which stays open to fix it.
 */
const RenameMachine = ({ machine, onRenamed }: { machine: AccountMachine; onRenamed: (name: string) => void }) => {
  const [editing, setEditing] = useState(false)
  const [name, setName] = useState(machine.name)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  if (!editing) {
    return (
      <button
        type="button"
        data-testid="rename-machine"
        onClick={() => {
          setName(machine.name)
          setError(null)
          setEditing(true)
        }}
      >
        Rename
      </button>
    )
  }
  const unchanged = name.trim() === machine.name
  return (
    <form
      className="inline-form rename-form"
      onSubmit={(e) => {
        e.preventDefault()
        if (unchanged) return setEditing(false)
        setBusy(true)
        setError(null)
        accountsApi.renameMachine(machine.machineId, name).then(
          (renamed) => {
            setBusy(false)
            setEditing(false)
            onRenamed(renamed.name)
          },
          (err: unknown) => {
            setBusy(false)
            setError(errorText(err))
          },
        )
      }}
    >
      <input
        value={name}
        maxLength={255}
        aria-label={`New name for ${machine.name}`}
        data-testid="rename-machine-input"
        // biome-ignore lint/a11y/noAutofocus: the input the user just asked for
        autoFocus
        onChange={(e) => setName(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") setEditing(false)
        }}
      />
      <button type="submit" data-testid="rename-machine-save" disabled={busy || name.trim() === ""}>
        {busy ? "…" : "Save"}
      </button>
      <button type="button" data-testid="rename-machine-cancel" disabled={busy} onClick={() => setEditing(false)}>
        Cancel
      </button>
      {error && (
        <span className="error small" role="alert" data-testid="rename-machine-error">
          {error}
        </span>
      )}
    </form>
  )
}

const MachinesTab = () => {
  const now = useNow()
  const health = useHealth()
  const [reload, setReload] = useState(0)
  const res = useLoaded((s) => accountsApi.machines(s), [reload])
  const machines = res.state === "ok" ? withLiveState(res.value.machines, health?.machines) : []
  return (
    <section>
      <h2>Machines</h2>
      <p className="muted small">
        Pair a laptop with <code>overlord login {serverOrigin()}</code>, then <code>overlord start</code>. Revoking a
        machine refuses its daemon at once; it syncs again only after a new <code>overlord login</code>.
      </p>
      {res.state === "loading" && <div className="muted">Loading…</div>}
      {res.state === "error" && <div className="error">{res.error}</div>}
      {res.state === "ok" && machines.length === 0 && (
        <div className="muted" data-testid="no-machines">
          No machine yet.
        </div>
      )}
      {machines.length > 0 && (
        <ul className="account-list" data-testid="account-machines">
          {machines.map((m) => {
            const state = machineState(m)
            return (
              <li key={m.machineId} className="account-item" data-testid="account-machine" data-state={state}>
                <div className="account-item-main">
                  <span className="account-item-title" data-testid="machine-name">
                    {m.name}
                  </span>
                  <span className={`status-badge status-${state}`} data-testid="machine-state">
                    {state}
                  </span>
                  {m.parent && (
                    <span
                      className="badge"
                      title="Synced by its parent machine's daemon; revoking the parent revokes it"
                    >
                      Daytona sandbox of{" "}
                      {machines.find((p) => p.machineId === m.parent?.machineId)?.name ?? m.parent.machineId}
                    </span>
                  )}
                  {m.acceptsCommands && !m.revoked && (
                    <span className="badge" title="Its daemon runs commands sent from the dashboard">
                      accepts remote commands
                    </span>
                  )}
                </div>
                <div className="account-item-sub muted small">
                  <span>last seen {formatAgo(m.lastSeenAt, now)}</span>
                  <span>{m.filesTracked} files</span>
                  <span className="mono">{m.machineId}</span>
                </div>
                {!m.revoked && (
                  <div className="account-item-actions">
                    <RenameMachine machine={m} onRenamed={() => setReload((n) => n + 1)} />
                    <ConfirmButton
                      label="Revoke"
                      confirmLabel="Yes, revoke"
                      question={`Revoke ${m.name}? Its daemon stops syncing.`}
                      testId="revoke-machine"
                      onConfirm={async () => {
                        await accountsApi.revokeMachine(m.machineId)
                        setReload((n) => n + 1)
                      }}
                    />
                  </div>
                )}
              </li>
            )
          })}
        </ul>
      )}
    </section>
  )
}

// ---- tokens and pairing keys --------------------------------------------------------------------

const tokenState = (t: Api.ApiTokenInfo, now: number): "revoked" | "used" | "expired" | "active" => {
  if (t.revoked) return "revoked"
  if (t.singleUse && t.usedAt) return "used"
  if (t.expiresAt && new Date(t.expiresAt).getTime() <= now) return "expired"
  return "active"
}

const TokenRows = ({
  tokens,
  kind,
  onChanged,
}: {
  tokens: readonly Api.ApiTokenInfo[]
  kind: "api" | "pairing-key"
  onChanged: () => void
}) => {
  const now = useNow()
  const mine = tokens.filter((t) => t.kind === kind)
  const noun = kind === "api" ? "token" : "pairing key"
  if (mine.length === 0) return <div className="muted">No {noun}s yet.</div>
  // An unlabelled one is numbered among this user's own of its kind, oldest first: its token id counts
  // every token on the server (the admin's browser session is #1), so the first key read "#2".
  const ordinal = new Map([...mine].sort((a, b) => a.tokenId - b.tokenId).map((t, i) => [t.tokenId, i + 1]))
  return (
    <ul className="account-list" data-testid={kind === "api" ? "account-tokens" : "account-pairing-keys"}>
      {mine.map((t) => {
        const state = tokenState(t, now)
        return (
          <li key={t.tokenId} className="account-item" data-testid="account-token" data-state={state}>
            <div className="account-item-main">
              <span className="account-item-title">{t.label ?? `${noun} #${ordinal.get(t.tokenId)}`}</span>
              <span className={`status-badge status-${state}`} data-testid="token-state">
                {state}
              </span>
              {kind === "pairing-key" && <span className="badge">{t.singleUse ? "single use" : "reusable"}</span>}
            </div>
            <div className="account-item-sub muted small">
              <span>created {formatTime(t.createdAt)}</span>
              <span>{t.expiresAt ? `expires ${formatTime(t.expiresAt)}` : "no expiry"}</span>
              {t.usedAt && <span>used {formatTime(t.usedAt)}</span>}
            </div>
            {state === "active" && (
              <div className="account-item-actions">
                <ConfirmButton
                  label="Revoke"
                  confirmLabel="Yes, revoke"
                  question={`Revoke this ${noun}? Whatever uses it is refused.`}
                  testId="revoke-token"
                  onConfirm={async () => {
                    await accountsApi.revokeToken(t.tokenId)
                    onChanged()
                  }}
                />
              </div>
            )}
          </li>
        )
      })}
    </ul>
  )
}

const TokensTab = () => {
  const [reload, setReload] = useState(0)
  const res = useLoaded((s) => accountsApi.tokens(s), [reload])
  const [label, setLabel] = useState("")
  const [created, setCreated] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  return (
    <section>
      <h2>API tokens</h2>
      <p className="muted small">
        For scripts: send <code>Authorization: Bearer &lt;token&gt;</code> to <code>{serverOrigin()}/api/v1/…</code>.
      </p>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault()
          setBusy(true)
          setError(null)
          accountsApi.createToken(label).then(
            (t) => {
              setCreated(t.token)
              setLabel("")
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
          placeholder="Label (optional)"
          maxLength={100}
          value={label}
          onChange={(e) => setLabel(e.target.value)}
          aria-label="Token label"
          data-testid="token-label"
        />
        <button type="submit" className="primary-button" disabled={busy} data-testid="create-token">
          Create token
        </button>
      </form>
      {error && <div className="error">{error}</div>}
      {created && (
        <OnceSecret
          label="Your new API token."
          value={created}
          testId="created-token"
          onDone={() => setCreated(null)}
        />
      )}
      {res.state === "error" && <div className="error">{res.error}</div>}
      {res.state === "ok" && (
        <TokenRows tokens={res.value.tokens} kind="api" onChanged={() => setReload((n) => n + 1)} />
      )}
    </section>
  )
}

const PairingKeysTab = () => {
  const [reload, setReload] = useState(0)
  const res = useLoaded((s) => accountsApi.tokens(s), [reload])
  const [singleUse, setSingleUse] = useState(true)
  const [ttl, setTtl] = useState(24 * 60)
  const [label, setLabel] = useState("")
  const [created, setCreated] = useState<Api.CreatedPairingKey | null>(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  return (
    <section>
      <h2>Pairing keys</h2>
      <p className="muted small">
        For machines without a browser (servers, CI): <code>overlord login {serverOrigin()} --key &lt;key&gt;</code>. A
        machine paired with a key syncs to your account.
      </p>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault()
          setBusy(true)
          setError(null)
          accountsApi.createPairingKey({ singleUse, ttlMinutes: ttl, label }).then(
            (k) => {
              setCreated(k)
              setLabel("")
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
          placeholder="Label (optional)"
          maxLength={100}
          value={label}
          onChange={(e) => setLabel(e.target.value)}
          aria-label="Key label"
          data-testid="pairing-key-label"
        />
        <label>
          <input
            type="checkbox"
            checked={singleUse}
            onChange={(e) => setSingleUse(e.target.checked)}
            data-testid="pairing-key-single-use"
          />{" "}
          single use
        </label>
        <TtlSelect value={ttl} onChange={setTtl} testId="pairing-key-ttl" />
        <button type="submit" className="primary-button" disabled={busy} data-testid="create-pairing-key">
          Create key
        </button>
      </form>
      {error && <div className="error">{error}</div>}
      {created && (
        <OnceSecret
          label={`Pairing key, ${singleUse ? "single use, " : ""}valid until ${formatTime(created.expiresAt)}.`}
          value={created.key}
          testId="created-pairing-key"
          onDone={() => setCreated(null)}
        />
      )}
      {res.state === "error" && <div className="error">{res.error}</div>}
      {res.state === "ok" && (
        <TokenRows tokens={res.value.tokens} kind="pairing-key" onChanged={() => setReload((n) => n + 1)} />
      )}
    </section>
  )
}

// ---- invites ------------------------------------------------------------------------------------

const InvitesTab = () => {
  const [role, setRole] = useState<Api.UserRole>("member")
  const [ttl, setTtl] = useState(7 * 24 * 60)
  const [created, setCreated] = useState<Api.CreatedLink | null>(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  return (
    <section>
      <h2>Invite a user</h2>
      <p className="muted small">
        An invite is a one-time link: whoever opens it first creates an account with it. Send it privately.
      </p>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault()
          setBusy(true)
          setError(null)
          accountsApi.createInvite(role, ttl).then(
            (link) => {
              setCreated(link)
              setBusy(false)
            },
            (err: unknown) => {
              setError(errorText(err))
              setBusy(false)
            },
          )
        }}
      >
        <label>
          Role{" "}
          <select value={role} onChange={(e) => setRole(e.target.value as Api.UserRole)} data-testid="invite-role">
            <option value="member">member</option>
            <option value="admin">admin</option>
          </select>
        </label>
        <TtlSelect value={ttl} onChange={setTtl} testId="invite-ttl" />
        <button type="submit" className="primary-button" disabled={busy} data-testid="create-invite">
          Create invite link
        </button>
      </form>
      {error && <div className="error">{error}</div>}
      {created && (
        <OnceSecret
          label={`Invite link, valid until ${formatTime(created.expiresAt)}.`}
          value={created.url}
          testId="created-invite"
          onDone={() => setCreated(null)}
        />
      )}
    </section>
  )
}

// ---- shared with me -----------------------------------------------------------------------------

const SharedTab = () => {
  const res = useLoaded((s) => accountsApi.sharedWithMe(s), [])
  return (
    <section>
      <h2>Shared with me</h2>
      <p className="muted small">Sessions other users of this server let you read. Read-only.</p>
      {res.state === "error" && <div className="error">{res.error}</div>}
      {res.state === "ok" && res.value.sessions.length === 0 && (
        <div className="muted" data-testid="no-shared">
          Nothing shared with you.
        </div>
      )}
      {res.state === "ok" && res.value.sessions.length > 0 && (
        <ul className="account-list" data-testid="shared-sessions">
          {res.value.sessions.map((s) => (
            <li key={s.sessionId} className="account-item" data-testid="shared-session" data-session={s.sessionId}>
              <div className="account-item-main">
                <a className="account-item-title" href={sessionHref(s.sessionId)}>
                  {s.title ?? s.sessionId}
                </a>
              </div>
              <div className="account-item-sub muted small">
                <span>from {s.owner.name}</span>
                {s.owner.email && <span>{s.owner.email}</span>}
                <span>shared {formatTime(s.sharedAt)}</span>
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}

/** Ends this browser's session on the server, then shows the signed-out dashboard. */
const SignOutButton = () => {
  const [error, setError] = useState<string | null>(null)
  return (
    <span className="account-sign-out">
      <button
        type="button"
        data-testid="sign-out"
        onClick={() =>
          accountsApi.signOut().then(
            () => window.location.assign("/"),
            (e: unknown) => setError(errorText(e)),
          )
        }
      >
        Sign out
      </button>
      {error && <span className="error">{error}</span>}
    </span>
  )
}

// ---- the page -----------------------------------------------------------------------------------

export const AccountPages = ({ tab }: { tab: AccountTab }) => {
  const me = useLoaded((s) => accountsApi.me(s), [])
  const user = me.state === "ok" ? me.value.user : null
  const isAdmin = user?.role === "admin"
  const tabs = ACCOUNT_TABS.filter((t) => !t.admin || isAdmin)
  const shown = tabs.some((t) => t.tab === tab) ? tab : "machines"
  return (
    <div className="page account-page" data-testid="account-page">
      <header className="account-head">
        <h1>Account</h1>
        {user && (
          <span className="muted" data-testid="account-user" data-role={user.role}>
            {user.name}
            {user.email ? ` · ${user.email}` : ""} · {user.role}
          </span>
        )}
        {user && <SignOutButton />}
        {me.state === "error" && <span className="error">{me.error}</span>}
      </header>
      <nav className="account-tabs" aria-label="Account sections">
        {tabs.map((t) => (
          <a
            key={t.tab}
            href={`#/account/${t.tab}`}
            className={t.tab === shown ? "active" : ""}
            aria-current={t.tab === shown ? "page" : undefined}
            data-testid={`account-tab-${t.tab}`}
          >
            {t.label}
          </a>
        ))}
      </nav>
      {shown === "machines" && <MachinesTab />}
      {shown === "tokens" && <TokensTab />}
      {shown === "shared" && <SharedTab />}
      {shown === "invites" && <InvitesTab />}
      {shown === "pairing-keys" && <PairingKeysTab />}
    </div>
  )
}
