/**
 * Small pieces the account, pairing and sharing pages share: a destructive button that asks once
 * more before it acts, a secret shown exactly once with a copy button, and a form error line.
 */
import { type DependencyList, useEffect, useState } from "react"
import { HttpError } from "../api.ts"
import { errorText } from "../format.ts"

/**
 * "Revoke" → "Revoke <what>? [Yes, revoke] [Cancel]". Revoking cuts a daemon off or kills a token,
 * so one stray tap on a phone must not do it.
 */
export const ConfirmButton = ({
  label,
  confirmLabel,
  question,
  onConfirm,
  testId,
  disabled,
}: {
  label: string
  confirmLabel: string
  question: string
  onConfirm: () => Promise<void>
  testId: string
  disabled?: boolean
}) => {
  const [asking, setAsking] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  if (!asking) {
    return (
      <button
        type="button"
        className="danger-button"
        data-testid={testId}
        disabled={disabled}
        onClick={() => {
          setError(null)
          setAsking(true)
        }}
      >
        {label}
      </button>
    )
  }
  return (
    <span className="confirm">
      <span className="confirm-question">{question}</span>
      <button
        type="button"
        className="danger-button solid"
        data-testid={`${testId}-confirm`}
        disabled={busy}
        onClick={() => {
          setBusy(true)
          onConfirm().then(
            () => {
              setBusy(false)
              setAsking(false)
            },
            (e: unknown) => {
              setBusy(false)
              setError(errorText(e))
            },
          )
        }}
      >
        {busy ? "…" : confirmLabel}
      </button>
      <button type="button" data-testid={`${testId}-cancel`} disabled={busy} onClick={() => setAsking(false)}>
        Cancel
      </button>
      {error && <span className="error small">{error}</span>}
    </span>
  )
}

/** A secret the server will never show again: selectable, copyable, and said so. */
export const OnceSecret = ({
  label,
  value,
  testId,
  onDone,
}: {
  label: string
  value: string
  testId: string
  onDone: () => void
}) => {
  const [copied, setCopied] = useState(false)
  return (
    <div className="once-secret" data-testid={`${testId}-box`}>
      <div className="once-label">
        {label} <strong>It is shown only this once.</strong>
      </div>
      <div className="once-row">
        <input
          className="once-value"
          readOnly
          value={value}
          data-testid={testId}
          aria-label={label}
          onFocus={(e) => e.currentTarget.select()}
        />
        <button
          type="button"
          onClick={() => {
            // The clipboard API needs a secure context (https or localhost); elsewhere select to copy by hand.
            navigator.clipboard?.writeText(value).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }}
        >
          {copied ? "Copied" : "Copy"}
        </button>
        <button type="button" onClick={onDone} data-testid={`${testId}-done`}>
          Done
        </button>
      </div>
    </div>
  )
}

/** As `useAsync`, keeping the HTTP status of a failure (401: sign in; 404: unknown) rather than only its text. */
export type Loaded<T> =
  | { readonly state: "loading" }
  | { readonly state: "ok"; readonly value: T }
  | { readonly state: "error"; readonly error: string; readonly status: number | null }

export const useLoaded = <T,>(load: (signal: AbortSignal) => Promise<T>, deps: DependencyList): Loaded<T> => {
  const [result, setResult] = useState<Loaded<T>>({ state: "loading" })
  useEffect(() => {
    const ctrl = new AbortController()
    setResult({ state: "loading" })
    load(ctrl.signal).then(
      (value) => !ctrl.signal.aborted && setResult({ state: "ok", value }),
      (e: unknown) =>
        !ctrl.signal.aborted &&
        setResult({ state: "error", error: errorText(e), status: e instanceof HttpError ? e.status : null }),
    )
    return () => ctrl.abort()
    // biome-ignore lint/correctness/useExhaustiveDependencies: callers pass the deps of `load`
  }, deps)
  return result
}
