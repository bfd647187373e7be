/** A title and summary the local model wrote (issue #13), always marked as generated, with the model. */
import type { Api } from "@overlord/protocol"

export const GeneratedMark = ({ model }: { model: string | undefined }) => (
  <span
    className="badge badge-generated"
    data-testid="generated-mark"
    title="Written by a local model through Ollama, not by you or Claude Code"
  >
    generated · {model ?? "local model"}
  </span>
)

/** Under a session's own heading: the generated title (when it differs) and summary. */
export const GeneratedSummary = ({ session }: { session: Api.SessionSummary }) =>
  session.generatedTitle || session.summary ? (
    <div className="generated-summary" data-testid="generated-summary">
      <GeneratedMark model={session.titleModel} />{" "}
      {session.generatedTitle && <strong data-testid="generated-title">{session.generatedTitle}</strong>}
      {session.summary && <p className="muted small">{session.summary}</p>}
    </div>
  ) : null
