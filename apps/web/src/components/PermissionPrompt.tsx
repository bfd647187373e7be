/**
 * A tool call waiting for permission: what it would do, shown as the transcript shows the same call
 * (an Edit as a diff, a Bash command as a command, a Write as the file), and Allow / Deny.
 */
import { useState } from "react"
import type { PermissionRequest, PermissionState } from "../commands.ts"
import { diffRowsFor } from "../diff.ts"
import { errorText } from "../format.ts"
import { type JsonObject, str } from "../records.ts"
import { DiffView } from "./DiffView.tsx"
import { CodeView, JsonView } from "./TextViews.tsx"

const ToolInput = ({ toolName, input }: { toolName: string; input: JsonObject }) => {
  switch (toolName) {
    case "Bash":
    case "PowerShell":
      return (
        <pre className="command" data-testid="permission-command">
          <span className="prompt">$ </span>
          {str(input.command) ?? ""}
        </pre>
      )
    case "Edit":
    case "MultiEdit":
      return <DiffView rows={diffRowsFor(input, undefined)} path={str(input.file_path)} />
    case "Write":
      return (
        <div className="file-view">
          <div className="file-head">{str(input.file_path)}</div>
          <CodeView code={str(input.content) ?? ""} path={str(input.file_path)} />
        </div>
      )
    default:
      return <JsonView value={input} />
  }
}

const STATE_LABELS: Record<Exclude<PermissionState, "pending">, string> = {
  allowed: "allowed",
  denied: "denied",
  withdrawn: "withdrawn by the CLI",
  answered: "answered",
}

export const PermissionPrompt = ({
  request,
  state,
  onAnswer,
}: {
  request: PermissionRequest
  state: PermissionState
  /** Resolves once the server took the answer; a rejection is shown on the prompt. */
  onAnswer: (decision: "allow" | "deny") => Promise<void>
}) => {
  const [sending, setSending] = useState<"allow" | "deny" | null>(null)
  const [error, setError] = useState<string | null>(null)
  const answer = (decision: "allow" | "deny") => {
    setSending(decision)
    setError(null)
    onAnswer(decision).then(
      () => setSending(null),
      (e: unknown) => {
        setSending(null)
        setError(errorText(e))
      },
    )
  }
  const pending = state === "pending"
  return (
    <section
      className={`permission-prompt${pending ? " permission-pending" : ""}`}
      data-testid="permission-prompt"
      data-request-id={request.requestId}
      data-tool={request.toolName}
      data-state={state}
      aria-label={`Permission for ${request.toolName}`}
    >
      <header className="permission-head">
        <span className="permission-title">
          {pending ? "Allow " : ""}
          <strong>{request.toolName}</strong>
          {pending ? "?" : ""}
        </span>
        {!pending && <span className={`badge permission-${state}`}>{STATE_LABELS[state]}</span>}
      </header>
      {request.description && <div className="permission-description">{request.description}</div>}
      <div className="permission-input">
        <ToolInput toolName={request.toolName} input={request.input} />
      </div>
      {error && (
        <div className="error small" role="alert">
          {error}
        </div>
      )}
      {pending && (
        <div className="permission-actions">
          <button
            type="button"
            className="button button-allow"
            data-testid="permission-allow"
            disabled={sending !== null}
            onClick={() => answer("allow")}
          >
            {sending === "allow" ? "Allowing…" : "Allow"}
          </button>
          <button
            type="button"
            className="button button-deny"
            data-testid="permission-deny"
            disabled={sending !== null}
            onClick={() => answer("deny")}
          >
            {sending === "deny" ? "Denying…" : "Deny"}
          </button>
        </div>
      )}
    </section>
  )
}
