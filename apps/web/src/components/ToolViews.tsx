/** A tool call rendered with its paired result, with dedicated views for the common tools. */

import { type ContentBlock, toolResultText } from "@overlord/transcript"
import type { ReactNode } from "react"
import { diffRowsFor, parseStructuredPatch } from "../diff.ts"
import { formatDuration, plural } from "../format.ts"
import type { PairedResult, ToolResult, ToolUse } from "../pairing.ts"
import { arr, type ImageSource, imageSourceOf, type JsonObject, num, obj, str } from "../records.ts"
import { sessionHref } from "../router.ts"
import { DiffView } from "./DiffView.tsx"
import { Subagent } from "./Subagent.tsx"
import { CodeView, JsonView, Markdown, Terminal } from "./TextViews.tsx"
import { useTranscript } from "./transcript-context.ts"

const IMAGE_TYPES = /^image\/(png|jpeg|gif|webp)$/

export const imageUrl = (source: ImageSource): string | null =>
  IMAGE_TYPES.test(source.mediaType) && /^[A-Za-z0-9+/=\s]*$/.test(source.data.slice(0, 4096))
    ? `data:${source.mediaType};base64,${source.data.replace(/\s/g, "")}`
    : null

export const ImageBlock = ({ source }: { source: ImageSource | null }) => {
  const url = source ? imageUrl(source) : null
  if (!url) return <div className="muted">[image: unsupported or missing data]</div>
  return (
    <a href={url} target="_blank" rel="noopener noreferrer" className="image-link">
      <img data-testid="image" className="transcript-image" src={url} alt="transcript attachment" loading="lazy" />
    </a>
  )
}

const resultBlocks = (result: ToolResult): readonly ContentBlock[] =>
  typeof result.content === "string" ? [] : result.content

/** The tool's input object (`{}` when the model sent something else). */
export const inputOf = (call: ToolUse): JsonObject => obj(call.input) ?? {}

/** The subagent a Task/Agent result names (`toolUseResult.agentId`). */
const agentIdOfResult = (toolUseResult: unknown): string | null => str(obj(toolUseResult)?.agentId)

/** The generic body of a tool_result block: its text (often terminal output) and any images. */
export const ResultBlocks = ({ result }: { result: ToolResult }) => {
  const text = toolResultText(result)
  const blocks = resultBlocks(result)
  return (
    <>
      {text && <Terminal text={text} error={result.isError} />}
      {blocks.map((b, i) =>
        // biome-ignore lint/suspicious/noArrayIndexKey: blocks are positional
        b.type === "image" ? <ImageBlock key={i} source={imageSourceOf(b)} /> : null,
      )}
      {!text && !blocks.some((b) => b.type === "image") && <div className="muted">(no output)</div>}
    </>
  )
}

const shortPath = (p: string | null): string => (p ? p : "")

/** One line that says what the call did, shown in the call's header. */
export const callSummary = (call: ToolUse): string => {
  const i = inputOf(call)
  switch (call.name) {
    case "Bash":
    case "PowerShell":
      return str(i.description) ?? str(i.command) ?? ""
    case "Read":
    case "Write":
    case "Edit":
    case "MultiEdit":
    case "NotebookEdit":
      return shortPath(str(i.file_path) ?? str(i.notebook_path))
    case "Grep":
      return `${str(i.pattern) ?? ""}${str(i.path) ? ` in ${str(i.path)}` : ""}`
    case "Glob":
      return str(i.pattern) ?? ""
    case "Task":
    case "Agent":
      return `${str(i.subagent_type) ? `${str(i.subagent_type)}: ` : ""}${str(i.description) ?? ""}`
    case "WebFetch":
      return str(i.url) ?? ""
    case "WebSearch":
      return str(i.query) ?? ""
    case "TodoWrite":
      return `${arr(i.todos)?.length ?? 0} todos`
    case "Skill":
    case "SlashCommand":
      return str(i.skill) ?? str(i.command) ?? ""
    default:
      return ""
  }
}

const BashView = ({ input, paired }: { input: JsonObject; paired: PairedResult | undefined }) => {
  const r = obj(paired?.toolUseResult)
  const stdout = str(r?.stdout)
  const stderr = str(r?.stderr)
  return (
    <>
      <pre className="command">
        <span className="prompt">$ </span>
        {str(input.command) ?? ""}
      </pre>
      {paired && (
        <div className="tool-output" data-testid="tool-result">
          {stdout !== null || stderr !== null ? (
            <>
              {stdout ? <Terminal text={stdout} /> : null}
              {stderr ? <Terminal text={stderr} error /> : null}
              {!stdout && !stderr && <ResultBlocks result={paired.result} />}
              {r?.interrupted === true && <div className="warn">interrupted</div>}
            </>
          ) : (
            <ResultBlocks result={paired.result} />
          )}
        </div>
      )}
    </>
  )
}

const EditView = ({ call, paired }: { call: ToolUse; paired: PairedResult | undefined }) => {
  const rows = diffRowsFor(call.input, paired?.toolUseResult)
  return (
    <>
      <DiffView rows={rows} path={str(inputOf(call).file_path)} />
      {paired && (
        <div className="tool-output" data-testid="tool-result">
          {paired.result.isError ? <ResultBlocks result={paired.result} /> : <div className="muted">applied</div>}
        </div>
      )}
    </>
  )
}

const WriteView = ({ call, paired }: { call: ToolUse; paired: PairedResult | undefined }) => {
  const input = inputOf(call)
  const path = str(input.file_path)
  const patch = parseStructuredPatch(obj(paired?.toolUseResult)?.structuredPatch)
  const isUpdate = str(obj(paired?.toolUseResult)?.type) === "update" && patch && patch.length > 0
  return (
    <>
      {isUpdate ? (
        <DiffView rows={diffRowsFor(call.input, paired?.toolUseResult)} path={path} />
      ) : (
        <div className="file-view">
          <div className="file-head">{path}</div>
          <CodeView code={str(input.content) ?? ""} path={path} />
        </div>
      )}
      {paired && (
        <div className="tool-output" data-testid="tool-result">
          {paired.result.isError ? <ResultBlocks result={paired.result} /> : <div className="muted">written</div>}
        </div>
      )}
    </>
  )
}

const ReadView = ({ call, paired }: { call: ToolUse; paired: PairedResult | undefined }) => {
  const r = obj(paired?.toolUseResult)
  const file = obj(r?.file)
  const type = str(r?.type)
  let body: ReactNode = null
  if (paired) {
    if (type === "text" && file && str(file.content) !== null) {
      body = (
        <div className="file-view">
          <div className="file-head">
            {str(file.filePath) ?? str(inputOf(call).file_path)}
            <span className="muted">
              {" "}
              lines {num(file.startLine) ?? 1}–{(num(file.startLine) ?? 1) + (num(file.numLines) ?? 0) - 1} of{" "}
              {num(file.totalLines) ?? "?"}
            </span>
          </div>
          <CodeView code={str(file.content) ?? ""} path={str(file.filePath)} startLine={num(file.startLine) ?? 1} />
        </div>
      )
    } else if (type === "image" && file && str(file.base64)) {
      body = <ImageBlock source={{ mediaType: str(file.type) ?? "image/png", data: str(file.base64) ?? "" }} />
    } else {
      body = <ResultBlocks result={paired.result} />
    }
  }
  return paired ? (
    <div className="tool-output" data-testid="tool-result">
      {body}
    </div>
  ) : null
}

type Todo = { content: string; status: string; activeForm: string | null }

export const todosOf = (value: unknown): Todo[] =>
  (arr(value) ?? []).flatMap((t) => {
    const o = obj(t)
    return o
      ? [{ content: str(o.content) ?? "", status: str(o.status) ?? "pending", activeForm: str(o.activeForm) }]
      : []
  })

export const TodoList = ({ todos }: { todos: readonly Todo[] }) => (
  <ul className="todos">
    {todos.map((t, i) => (
      // biome-ignore lint/suspicious/noArrayIndexKey: positional
      <li key={i} className={`todo todo-${t.status}`}>
        <input type="checkbox" readOnly checked={t.status === "completed"} aria-label={t.status} />
        <span>{t.status === "in_progress" && t.activeForm ? t.activeForm : t.content}</span>
        {t.status === "in_progress" && <span className="badge">in progress</span>}
      </li>
    ))}
  </ul>
)

const AgentView = ({ call, paired }: { call: ToolUse; paired: PairedResult | undefined }) => {
  const agentId = agentIdOfResult(paired?.toolUseResult)
  const r = obj(paired?.toolUseResult)
  const input = inputOf(call)
  const prompt = str(input.prompt)
  return (
    <>
      {prompt && (
        <details className="agent-prompt">
          <summary>Prompt</summary>
          <Markdown text={prompt} />
        </details>
      )}
      {agentId && <Subagent agentId={agentId} label={str(input.description) ?? agentId} />}
      {paired && (
        <div className="tool-output" data-testid="tool-result">
          {r && (num(r.totalTokens) !== null || num(r.totalDurationMs) !== null) && (
            <div className="muted small">
              {/* Was "1 tool uses · … · 0 s" for a subagent that ran 252 ms (walkthrough 3). */}
              {plural(num(r.totalToolUseCount) ?? 0, "tool use", "tool uses")} ·{" "}
              {(num(r.totalTokens) ?? 0).toLocaleString()} tokens · {formatDuration(num(r.totalDurationMs) ?? 0)}
            </div>
          )}
          {paired.result.isError ? (
            <ResultBlocks result={paired.result} />
          ) : (
            <Markdown text={toolResultText(paired.result)} />
          )}
        </div>
      )}
    </>
  )
}

const GenericView = ({ call, paired }: { call: ToolUse; paired: PairedResult | undefined }) => (
  <>
    {Object.keys(inputOf(call)).length > 0 && (
      <details className="tool-input" open={call.name.startsWith("mcp__") ? false : undefined}>
        <summary>Input</summary>
        <JsonView value={call.input} />
      </details>
    )}
    {paired && (
      <div className="tool-output" data-testid="tool-result">
        <ResultBlocks result={paired.result} />
      </div>
    )}
  </>
)

const ToolBody = ({ call, paired }: { call: ToolUse; paired: PairedResult | undefined }) => {
  switch (call.name) {
    case "Bash":
    case "PowerShell":
      return <BashView input={inputOf(call)} paired={paired} />
    case "Edit":
    case "MultiEdit":
      return <EditView call={call} paired={paired} />
    case "Write":
      return <WriteView call={call} paired={paired} />
    case "Read":
      return <ReadView call={call} paired={paired} />
    case "TodoWrite":
      return (
        <>
          <TodoList todos={todosOf(inputOf(call).todos)} />
          {paired?.result.isError && (
            <div className="tool-output" data-testid="tool-result">
              <ResultBlocks result={paired.result} />
            </div>
          )}
          {paired && !paired.result.isError && <span data-testid="tool-result" hidden />}
        </>
      )
    case "Task":
    case "Agent":
      return <AgentView call={call} paired={paired} />
    default:
      return <GenericView call={call} paired={paired} />
  }
}

/** Long outputs start collapsed; short ones open, so the transcript reads like the terminal did. */
const startsOpen = (call: ToolUse, paired: PairedResult | undefined): boolean => {
  if (["Edit", "MultiEdit", "TodoWrite", "Task", "Agent", "Bash", "PowerShell"].includes(call.name)) return true
  if (paired?.result.isError) return true
  return call.name === "Write" ? false : (paired ? toolResultText(paired.result) : "").length < 2000
}

export const ToolCall = ({ call, paired }: { call: ToolUse; paired: PairedResult | undefined }) => {
  const { sessionId, ended } = useTranscript()
  // A months-old session's last calls said "running…" (walkthrough 3): the session ended without their results.
  const status = !paired ? (ended ? "none" : "pending") : paired.result.isError ? "error" : "ok"
  return (
    <details
      className={`tool-call tool-${status}`}
      data-testid="tool-call"
      data-tool={call.name}
      data-tool-use-id={call.id}
      open={startsOpen(call, paired)}
    >
      <summary>
        <span className="tool-name">{call.name}</span>
        <span className="tool-summary">{callSummary(call)}</span>
        <span
          className={`tool-status status-${status}`}
          data-testid="tool-status"
          title={
            status === "none"
              ? // Interactive Claude Code also writes the call, then waits for the user's approval: say so too.
                "No result was written and the session has been quiet for over 10 minutes: it was interrupted, Claude Code was closed, or it still waits for an approval"
              : undefined
          }
        >
          {status === "pending" ? "running…" : status === "none" ? "no result" : status === "error" ? "error" : "✓"}
        </span>
        {paired && (
          <a className="seq-link" href={sessionHref(sessionId, paired.seq)} title="Result entry">
            #{paired.seq}
          </a>
        )}
      </summary>
      <div className="tool-body">
        <ToolBody call={call} paired={paired} />
      </div>
    </details>
  )
}
