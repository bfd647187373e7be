/** One transcript entry: a renderer for every record kind, and a raw fallback so nothing is hidden. */
import type { Api } from "@overlord/protocol"
import type { MouseEvent, ReactNode } from "react"
import { formatClock, formatDuration, formatTokens } from "../format.ts"
import {
  arr,
  type Block,
  hasJson,
  isInterrupt,
  isTaggedOnly,
  type JsonObject,
  messageBlocks,
  messageModel,
  messageUsage,
  num,
  obj,
  type ParsedRecord,
  str,
  subtypeOf,
  taggedSections,
  timestampOf,
} from "../records.ts"
import { sessionHref } from "../router.ts"
import { Markdown, Raw, Terminal } from "./TextViews.tsx"
import { ImageBlock, ResultBlocks, TodoList, ToolCall, todosOf } from "./ToolViews.tsx"
import { useTranscript } from "./transcript-context.ts"

const copyLink = (event: MouseEvent<HTMLAnchorElement>) => {
  const href = event.currentTarget.getAttribute("href") ?? ""
  const url = `${window.location.origin}${window.location.pathname}${href}`
  void navigator.clipboard?.writeText(url).catch(() => undefined)
}

const roleLabel = (record: ParsedRecord): string => {
  if (!hasJson(record)) return record.kind
  const j = record.json
  switch (record.kind) {
    case "user":
      if (j.isCompactSummary === true) return "compact summary"
      if (obj(j.message) && arr(obj(j.message)?.content)?.every((b) => str(obj(b)?.type) === "tool_result"))
        return "tool result"
      return j.isMeta === true ? "meta" : "user"
    case "assistant":
      return j.isApiErrorMessage === true ? "api error" : "assistant"
    case "system":
      return `system${subtypeOf(j) ? ` · ${subtypeOf(j)}` : ""}`
    case "attachment":
      return `attachment · ${str(obj(j.attachment)?.type) ?? "?"}`
    case "progress":
      return `progress · ${str(obj(j.data)?.type) ?? "?"}`
    default:
      return record.kind
  }
}

export const EntryView = ({
  entry,
  record,
  highlighted = false,
}: {
  entry: Api.Entry
  record: ParsedRecord
  highlighted?: boolean
}) => {
  const { sessionId } = useTranscript()
  const ts = hasJson(record) ? timestampOf(record.json) : null
  const label = roleLabel(record)
  return (
    <article
      className={`entry entry-${record.kind}${highlighted ? " entry-highlight" : ""}${entry.agentId ? " entry-sidechain" : ""}`}
      data-testid="entry"
      data-seq={entry.seq}
      data-kind={record.kind}
      id={`entry-${entry.seq}`}
    >
      <header className="entry-head">
        <span className={`role role-${label.split(" ")[0]}`}>{label}</span>
        {hasJson(record) && record.kind === "assistant" && messageModel(record.json) && (
          <span className="model">{messageModel(record.json)}</span>
        )}
        <span className="spacer" />
        {ts && (
          <time dateTime={ts} title={ts}>
            {formatClock(ts)}
          </time>
        )}
        <a className="anchor" href={sessionHref(sessionId, entry.seq)} onClick={copyLink} title="Copy link to entry">
          #{entry.seq}
        </a>
      </header>
      <div className="entry-body">
        <EntryBody record={record} />
      </div>
    </article>
  )
}

export const EntryBody = ({ record }: { record: ParsedRecord }) => {
  if (!hasJson(record)) {
    return (
      <div className="malformed">
        <Raw label={`Unreadable line (${"error" in record ? record.error : "malformed"})`} value={record.raw} />
      </div>
    )
  }
  const j = record.json
  switch (record.kind) {
    case "user":
      return <UserBody json={j} />
    case "assistant":
      return <AssistantBody json={j} />
    case "system":
      return <SystemBody json={j} />
    case "attachment":
      return <AttachmentBody json={j} />
    case "progress":
      return <ProgressBody json={j} />
    case "summary":
      return <MetaLine label="Summary" text={str(j.summary) ?? ""} json={j} />
    case "custom-title":
      return <MetaLine label="Title (custom)" text={str(j.customTitle) ?? ""} json={j} />
    case "ai-title":
      return <MetaLine label="Title (AI)" text={str(j.aiTitle) ?? ""} json={j} />
    case "last-prompt":
      return <MetaLine label="Last prompt" text={str(j.lastPrompt) ?? ""} json={j} />
    case "tag":
      return <MetaLine label="Tag" text={str(j.tag) ?? ""} json={j} />
    case "pr-link":
      return <MetaLine label="Pull request" text={str(j.prUrl) ?? String(num(j.prNumber) ?? "")} json={j} />
    case "queue-operation":
      return <MetaLine label={`Queue ${str(j.operation) ?? ""}`} text={str(j.content) ?? ""} json={j} />
    case "file-history-snapshot": {
      const files = Object.keys(obj(obj(j.snapshot)?.trackedFileBackups) ?? {})
      return <MetaLine label="File snapshot" text={`${files.length} tracked file(s)`} json={j} />
    }
    default:
      return <MetaLine label={record.kind} text={firstString(j)} json={j} />
  }
}

/** Best one-line description of an unfamiliar record: its first short string field that is not envelope. */
const ENVELOPE = new Set([
  "type",
  "uuid",
  "parentUuid",
  "sessionId",
  "cwd",
  "version",
  "gitBranch",
  "userType",
  "timestamp",
])
const firstString = (j: JsonObject): string => {
  for (const [k, v] of Object.entries(j)) if (!ENVELOPE.has(k) && typeof v === "string" && v.length < 300) return v
  return ""
}

const MetaLine = ({ label, text, json }: { label: string; text: string; json: JsonObject }) => (
  <div className="meta-line">
    <span className="meta-label">{label}</span> <span className="meta-text">{text}</span>
    <Raw label="raw" value={json} />
  </div>
)

const TAG_LABELS: Record<string, string> = {
  "system-reminder": "System reminder",
  "task-notification": "Task notification",
  "local-command-caveat": "Caveat",
  "user-prompt-submit-hook": "Prompt hook output",
}

/** Slash commands, `!` shell mode and injected reminders arrive as pseudo-XML inside user text. */
export const TaggedText = ({ text }: { text: string }) => {
  const sections = taggedSections(text)
  const name = sections.find((s) => s.tag === "command-name")?.body
  const args = sections.find((s) => s.tag === "command-args")?.body
  const out: ReactNode[] = []
  if (name) {
    out.push(
      <div key="cmd" className="local-command" data-testid="local-command">
        <code>
          {name.startsWith("/") ? name : `/${name}`}
          {args ? ` ${args}` : ""}
        </code>
      </div>,
    )
  }
  sections.forEach((s, i) => {
    const key = `${s.tag}-${i}`
    if (s.tag === "command-name" || s.tag === "command-args" || s.tag === "command-message") return
    if (s.tag === "bash-input") {
      out.push(
        <pre key={key} className="command">
          <span className="prompt">! </span>
          {s.body}
        </pre>,
      )
    } else if (s.tag === "local-command-stdout" || s.tag === "bash-stdout") {
      if (s.body.trim()) out.push(<Terminal key={key} text={s.body} />)
    } else if (s.tag === "local-command-stderr" || s.tag === "bash-stderr") {
      if (s.body.trim()) out.push(<Terminal key={key} text={s.body} error />)
    } else {
      out.push(
        <details key={key} className="injected">
          <summary>{TAG_LABELS[s.tag] ?? s.tag}</summary>
          <Terminal text={s.body.trim()} />
        </details>,
      )
    }
  })
  return <>{out}</>
}

const UserText = ({ text, json }: { text: string; json: JsonObject }) => {
  if (isTaggedOnly(text)) return <TaggedText text={text} />
  if (isInterrupt(text)) return <div className="interrupt">{text.trim()}</div>
  if (json.isMeta === true) {
    return (
      <details className="injected">
        <summary>Injected context</summary>
        <Markdown text={text} />
      </details>
    )
  }
  return <Markdown text={text} className="user-text" />
}

const UserBody = ({ json }: { json: JsonObject }) => {
  const { pairs, sessionId } = useTranscript()
  const blocks = messageBlocks(json)
  if (json.isCompactSummary === true) {
    const text = blocks.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("\n\n")
    return (
      <details className="compact-summary" data-testid="compact-summary">
        <summary>Summary of the conversation before compaction</summary>
        <Markdown text={text} />
      </details>
    )
  }
  return (
    <>
      {blocks.map((b, i) => {
        const key = `${b.type}-${i}`
        if (b.type === "text") return <UserText key={key} text={b.text} json={json} />
        if (b.type === "image") return <ImageBlock key={key} source={b.source} />
        if (b.type === "tool_result") {
          const call = pairs.calls.get(b.toolUseId)
          if (call) {
            return (
              <div key={key} className="result-pointer">
                ↳ result of <a href={sessionHref(sessionId, call.seq)}>{call.call.name}</a>
                {b.isError ? <span className="status-error"> (error)</span> : null}
                <span className="muted"> · shown with its call</span>
              </div>
            )
          }
          return (
            <div key={key} className="tool-output orphan" data-testid="tool-result">
              <div className="muted small">Result of a call on an earlier page ({b.toolUseId})</div>
              <ResultBlocks result={b} />
            </div>
          )
        }
        return <OtherBlock key={key} block={b} />
      })}
      {json.todos !== undefined && arr(json.todos)?.length ? (
        <details className="injected">
          <summary>Todo snapshot</summary>
          <TodoList todos={todosOf(json.todos)} />
        </details>
      ) : null}
    </>
  )
}

const OtherBlock = ({ block }: { block: Block }) => {
  if (block.type === "thinking") return <Thinking block={block} />
  if (block.type === "other") return <Raw label={`${block.blockType} block`} value={block.json} />
  return <Raw label={`${block.type} block`} value={block} />
}

const Thinking = ({ block }: { block: Extract<Block, { type: "thinking" }> }) => (
  <details className="thinking" data-testid="thinking">
    <summary>{block.redacted ? "Thinking (redacted)" : "Thinking"}</summary>
    {!block.redacted && <Markdown text={block.thinking} />}
  </details>
)

const AssistantBody = ({ json }: { json: JsonObject }) => {
  const { pairs } = useTranscript()
  const blocks = messageBlocks(json)
  if (json.isApiErrorMessage === true) {
    const text = blocks.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("\n")
    return (
      <div className="api-error" data-testid="api-error">
        <strong>API error{num(json.apiErrorStatus) ? ` ${num(json.apiErrorStatus)}` : ""}</strong>
        {str(json.error) ? <span className="muted"> ({str(json.error)})</span> : null}
        <div>{text}</div>
      </div>
    )
  }
  const usage = messageUsage(json)
  return (
    <>
      {blocks.map((b, i) => {
        const key = `${b.type}-${i}`
        if (b.type === "text") return <Markdown key={key} text={b.text} />
        if (b.type === "tool_use") return <ToolCall key={key} call={b} paired={pairs.results.get(b.id)} />
        if (b.type === "image") return <ImageBlock key={key} source={b.source} />
        return <OtherBlock key={key} block={b} />
      })}
      {usage && (usage.output > 0 || usage.input > 0) && (
        <div className="usage-line" title="input · output · cache write · cache read">
          in {formatTokens(usage.input)} · out {formatTokens(usage.output)} · cache w {formatTokens(usage.cacheWrite)} ·
          r {formatTokens(usage.cacheRead)}
        </div>
      )}
    </>
  )
}

const apiErrorText = (j: JsonObject): string => {
  const e = obj(j.error)
  const inner = obj(e?.error)
  const message = str(obj(inner?.error)?.message) ?? str(inner?.message) ?? str(e?.message)
  const cause = obj(e?.cause) ?? obj(j.cause)
  const parts = [
    num(e?.status) ? `HTTP ${num(e?.status)}` : null,
    message,
    cause ? (str(cause.code) ?? str(cause.message)) : null,
  ].filter(Boolean)
  return parts.join(" · ") || "request failed"
}

const SystemBody = ({ json }: { json: JsonObject }) => {
  const subtype = subtypeOf(json)
  const content = str(json.content) ?? ""
  switch (subtype) {
    case "compact_boundary":
    case "microcompact_boundary": {
      const m = obj(json.compactMetadata) ?? obj(json.microcompactMetadata)
      const pre = num(m?.preTokens)
      const post = num(m?.postTokens)
      return (
        <div className="compact-boundary" data-testid="compact-boundary">
          <span>
            {subtype === "microcompact_boundary" ? "Micro-compaction" : "Conversation compacted"}
            {str(m?.trigger) ? ` (${str(m?.trigger)})` : ""}
            {pre !== null ? ` · ${formatTokens(pre)} tokens` : ""}
            {post !== null ? ` → ${formatTokens(post)}` : ""}
          </span>
        </div>
      )
    }
    case "api_error":
      return (
        <div className="api-error" data-testid="api-error">
          <strong>API error</strong> {apiErrorText(json)}
          {num(json.retryAttempt) !== null && (
            <span className="muted">
              {" "}
              · retry {num(json.retryAttempt)}/{num(json.maxRetries) ?? "?"}
              {num(json.retryInMs) !== null ? ` in ${formatDuration(num(json.retryInMs) ?? 0)}` : ""}
            </span>
          )}
          <Raw label="details" value={json.error ?? json.cause ?? null} />
        </div>
      )
    case "local_command":
      return isTaggedOnly(content) ? <TaggedText text={content} /> : <Terminal text={content} />
    case "stop_hook_summary": {
      const infos = arr(json.hookInfos) ?? []
      const errors = arr(json.hookErrors) ?? []
      return (
        <div className="hook-output" data-testid="hook-output">
          <div>
            Stop hooks: {num(json.hookCount) ?? infos.length} ran
            {json.preventedContinuation === true ? " · prevented continuation" : ""}
          </div>
          {infos.map((h, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: positional
            <div key={i} className="muted small">
              <code>{str(obj(h)?.command) ?? ""}</code> {num(obj(h)?.durationMs) ?? 0} ms
            </div>
          ))}
          {errors.map((e, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: positional
            <Terminal key={i} text={typeof e === "string" ? e : JSON.stringify(e)} error />
          ))}
        </div>
      )
    }
    case "turn_duration":
      return <div className="muted small">Turn took {formatDuration(num(json.durationMs) ?? 0)}</div>
    default:
      return (
        <div className={`system-text level-${str(json.level) ?? "info"}`} data-testid="hook-output">
          {content ? <Terminal text={content} /> : <Raw label="raw" value={json} />}
        </div>
      )
  }
}

const AttachmentBody = ({ json }: { json: JsonObject }) => {
  const a = obj(json.attachment) ?? {}
  const type = str(a.type) ?? "unknown"
  if (type.startsWith("hook_")) {
    const out = [str(a.stdout), str(a.content)].filter((s): s is string => !!s && s.trim() !== "")
    const err = str(a.stderr)
    return (
      <div className="hook-output" data-testid="hook-output">
        <div className="small">
          Hook <code>{str(a.hookName) ?? str(a.hookEvent) ?? type}</code>
          {num(a.exitCode) !== null ? ` · exit ${num(a.exitCode)}` : ""}
          {num(a.durationMs) !== null ? ` · ${num(a.durationMs)} ms` : ""}
        </div>
        {out[0] ? <Terminal text={out[0]} /> : null}
        {err?.trim() ? <Terminal text={err} error /> : null}
      </div>
    )
  }
  if (type === "queued_command") return <MetaLine label="Queued prompt" text={str(a.prompt) ?? ""} json={json} />
  const text = str(a.content) ?? str(a.snippet) ?? str(a.planContent) ?? null
  const label = str(a.displayPath) ?? str(a.filename) ?? str(a.hookName) ?? ""
  return (
    <details className="injected">
      <summary>
        {type.replace(/_/g, " ")} {label && <span className="muted">{label}</span>}
      </summary>
      {text !== null ? <Terminal text={text} /> : <Raw label="raw" value={a} />}
    </details>
  )
}

const ProgressBody = ({ json }: { json: JsonObject }) => {
  const d = obj(json.data) ?? {}
  const type = str(d.type) ?? "unknown"
  if (type === "bash_progress") {
    return (
      <details className="injected">
        <summary>
          Command output so far{" "}
          <span className="muted">{num(d.elapsedTimeSeconds) !== null ? `${num(d.elapsedTimeSeconds)} s` : ""}</span>
        </summary>
        <Terminal text={str(d.fullOutput) ?? str(d.output) ?? ""} />
      </details>
    )
  }
  if (type === "hook_progress")
    return (
      <div className="muted small">
        Hook {str(d.hookEvent) ?? ""} <code>{str(d.command) ?? str(d.hookName) ?? ""}</code>
      </div>
    )
  return <Raw label={type.replace(/_/g, " ")} value={d} />
}
