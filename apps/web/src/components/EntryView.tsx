/** One transcript entry: a renderer for every record kind, and a raw fallback so nothing is hidden. */
import type { Api } from "@overlord/protocol"
import {
  type AssistantRecord,
  type AttachmentRecord,
  type ContentBlock,
  contentBlocks,
  costOf,
  type ProgressRecord,
  type SystemRecord,
  type UserRecord,
  usageOf,
} from "@overlord/transcript"
import type { MouseEvent, ReactNode } from "react"
import { formatClock, formatCost, formatDuration, formatTokens } from "../format.ts"
import {
  arr,
  blocksText,
  imageSourceOf,
  isInterrupt,
  isTaggedOnly,
  isUnrecognised,
  type JsonObject,
  type LineRecord,
  num,
  obj,
  str,
  taggedSections,
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

const roleLabel = (r: LineRecord): string => {
  const { record } = r
  switch (record.kind) {
    case "user": {
      const j = record.json
      if (j.isCompactSummary === true) return "compact summary"
      const blocks = contentBlocks(record)
      if (blocks.length > 0 && blocks.every((b) => b.type === "tool_result")) return "tool result"
      return j.isMeta === true ? "meta" : "user"
    }
    case "assistant":
      return record.json.isApiErrorMessage === true ? "api error" : "assistant"
    case "system":
    case "attachment":
    case "progress":
      return `${record.kind}${r.subtype ? ` · ${r.subtype}` : ""}`
    case "unknown":
      return `${r.kind} · unrecognised`
    default:
      return r.kind
  }
}

export type EntryVariant = "normal" | "bookkeeping"

export const EntryView = ({
  entry,
  record,
  highlighted = false,
  variant = "normal",
  offThread = false,
}: {
  entry: Api.Entry
  record: LineRecord
  highlighted?: boolean
  /** A member of an expanded bookkeeping group: compact, body collapsed. */
  variant?: EntryVariant
  /** Not on the session's main thread: an earlier branch (rewind, edited prompt). */
  offThread?: boolean
}) => {
  const { sessionId } = useTranscript()
  const ts = record.json ? str(record.json.timestamp) : null
  const label = roleLabel(record)
  const flagged = isUnrecognised(record)
  const model = record.record.kind === "assistant" ? str(obj(record.record.json.message)?.model) : null
  const classes = [
    "entry",
    `entry-${record.kind}`,
    highlighted ? "entry-highlight" : "",
    entry.agentId ? "entry-sidechain" : "",
    variant === "bookkeeping" ? "entry-bookkeeping" : "",
    flagged ? "entry-unrecognised" : "",
    offThread ? "entry-branch" : "",
  ]
  return (
    <article
      className={classes.filter(Boolean).join(" ")}
      data-testid="entry"
      data-seq={entry.seq}
      data-kind={record.kind}
      data-branch={offThread ? "earlier" : undefined}
      id={`entry-${entry.seq}`}
    >
      <header className="entry-head">
        <span className={`role role-${label.split(" ")[0]}`}>{label}</span>
        {flagged && (
          <span className="badge badge-warn" data-testid="unrecognised">
            {record.record.kind === "unknown" ? "unknown record type" : `${record.kind} line`}
          </span>
        )}
        {offThread && (
          <span
            className="badge badge-branch"
            data-testid="branch-label"
            title="Not on the conversation's final thread: a rewind or an edited prompt left this branch behind"
          >
            earlier branch
          </span>
        )}
        {model && <span className="model">{model}</span>}
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
        {variant === "bookkeeping" ? (
          <Raw label={bookkeepingSummary(record)} value={record.json ?? record.raw} />
        ) : (
          <EntryBody record={record} seq={entry.seq} />
        )}
      </div>
    </article>
  )
}

/** One line for a collapsed bookkeeping record: what it is, plus its most telling short field. */
const bookkeepingSummary = (r: LineRecord): string => {
  const j = r.json
  if (!j) return r.kind
  const { record } = r
  let detail = ""
  if (record.kind === "attachment") detail = (record.attachmentType ?? "").replace(/_/g, " ")
  else if (record.kind === "progress") detail = (record.dataType ?? "").replace(/_/g, " ")
  else if (record.kind === "file-history-snapshot") {
    detail = `${Object.keys(obj(obj(j.snapshot)?.trackedFileBackups) ?? {}).length} tracked file(s)`
  } else if (record.kind === "queue-operation") detail = `${record.operation ?? ""} ${str(j.content) ?? ""}`.trim()
  else if (record.kind === "system") detail = record.subtype === "turn_duration" ? turnText(j) : (record.subtype ?? "")
  else detail = firstString(j)
  return detail ? `${r.kind} · ${truncateText(detail, 120)}` : r.kind
}

const truncateText = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text)
const turnText = (j: JsonObject): string => `turn took ${formatDuration(num(j.durationMs) ?? 0)}`

export const EntryBody = ({ record: r, seq }: { record: LineRecord; seq: number }) => {
  const { record } = r
  switch (record.kind) {
    case "blank":
      return <div className="malformed muted small">Blank line</div>
    case "malformed":
      return (
        <div className="malformed">
          <Raw label={`Unreadable line (${record.error})`} value={r.raw} />
        </div>
      )
    case "user":
      return <UserBody record={record} />
    case "assistant":
      return <AssistantBody record={record} seq={seq} />
    case "system":
      return <SystemBody record={record} />
    case "attachment":
      return <AttachmentBody record={record} />
    case "progress":
      return <ProgressBody record={record} />
    case "summary":
      return <MetaLine label="Summary" text={record.summary ?? ""} json={record.json} />
    case "queue-operation":
      return (
        <MetaLine label={`Queue ${record.operation ?? ""}`} text={str(record.json.content) ?? ""} json={record.json} />
      )
    case "file-history-snapshot": {
      const files = Object.keys(obj(obj(record.json.snapshot)?.trackedFileBackups) ?? {})
      return <MetaLine label="File snapshot" text={`${files.length} tracked file(s)`} json={record.json} />
    }
    case "metadata":
      return <MetadataBody type={record.type} json={record.json} />
    default:
      return <MetaLine label={r.kind} text={firstString(record.json)} json={record.json} />
  }
}

const MetadataBody = ({ type, json: j }: { type: string; json: JsonObject }) => {
  switch (type) {
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
    default:
      return <MetaLine label={type} text={firstString(j)} json={j} />
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

const UserBody = ({ record }: { record: UserRecord }) => {
  const { pairs, sessionId } = useTranscript()
  const json = record.json
  const blocks = contentBlocks(record)
  if (json.isCompactSummary === true) {
    return (
      <details className="compact-summary" data-testid="compact-summary">
        <summary>Summary of the conversation before compaction</summary>
        <Markdown text={blocksText(blocks, "\n\n")} />
      </details>
    )
  }
  return (
    <>
      {blocks.map((b, i) => {
        const key = `${b.type}-${i}`
        if (b.type === "text") return <UserText key={key} text={b.text} json={json} />
        if (b.type === "image") return <ImageBlock key={key} source={imageSourceOf(b)} />
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
      {arr(json.todos)?.length ? (
        <details className="injected">
          <summary>Todo snapshot</summary>
          <TodoList todos={todosOf(json.todos)} />
        </details>
      ) : null}
    </>
  )
}

const OtherBlock = ({ block }: { block: ContentBlock }) => {
  if (block.type === "thinking" || block.type === "redacted_thinking") return <Thinking block={block} />
  if (block.type === "unknown") return <Raw label={`${block.blockType ?? "unknown"} block`} value={block.raw} />
  return <Raw label={`${block.type} block`} value={block.raw} />
}

const Thinking = ({ block }: { block: Extract<ContentBlock, { type: "thinking" | "redacted_thinking" }> }) => (
  <details className="thinking" data-testid="thinking">
    <summary>{block.type === "redacted_thinking" ? "Thinking (redacted)" : "Thinking"}</summary>
    {block.type === "thinking" && <Markdown text={block.thinking} />}
  </details>
)

const AssistantBody = ({ record, seq }: { record: AssistantRecord; seq: number }) => {
  const { pairs, usageSeqs } = useTranscript()
  const json = record.json
  const blocks = contentBlocks(record)
  if (json.isApiErrorMessage === true) {
    return (
      <div className="api-error" data-testid="api-error">
        <strong>API error{num(json.apiErrorStatus) ? ` ${num(json.apiErrorStatus)}` : ""}</strong>
        {str(json.error) ? <span className="muted"> ({str(json.error)})</span> : null}
        <div>{blocksText(blocks)}</div>
      </div>
    )
  }
  const usage = !usageSeqs || usageSeqs.has(seq) ? usageOf(record) : null
  const cost = usage ? costOf(usage) : null
  return (
    <>
      {blocks.map((b, i) => {
        const key = `${b.type}-${i}`
        if (b.type === "text") return <Markdown key={key} text={b.text} />
        if (b.type === "tool_use") return <ToolCall key={key} call={b} paired={pairs.results.get(b.id)} />
        if (b.type === "image") return <ImageBlock key={key} source={imageSourceOf(b)} />
        return <OtherBlock key={key} block={b} />
      })}
      {usage && (usage.output > 0 || usage.input > 0) && (
        <div className="usage-line" title="input · output · cache write · cache read · cost of this API response">
          in {formatTokens(usage.input)} · out {formatTokens(usage.output)} · cache w {formatTokens(usage.cacheWrite)} ·
          r {formatTokens(usage.cacheRead)}
          {cost?.priced ? ` · ${formatCost(cost.usd)}` : ""}
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

const SystemBody = ({ record }: { record: SystemRecord }) => {
  const { json, subtype } = record
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

const AttachmentBody = ({ record }: { record: AttachmentRecord }) => {
  const json = record.json
  const a = obj(json.attachment) ?? {}
  const type = record.attachmentType ?? "unknown"
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

const ProgressBody = ({ record }: { record: ProgressRecord }) => {
  const d = obj(record.json.data) ?? {}
  const type = record.dataType ?? "unknown"
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
