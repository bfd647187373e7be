/**
 * One remote command as it runs: its status, its output rendered by the transcript's own renderers,
 * the permission prompts waiting for an answer, a box for follow-up messages, and Cancel. Events come
 * from the live feed (`watch-command`) and from a slow REST poll while it runs, merged by `eventSeq`,
 * so a dropped socket delays the output but never loses or repeats any of it. Text the model is still
 * writing comes only from the live feed (`command-partial`) and is shown after the output, as the
 * message it will be, until its complete message arrives and takes its place.
 */
import type { Api } from "@overlord/protocol"
import { contentBlocks } from "@overlord/transcript"
import { type FormEvent, useEffect, useMemo, useState } from "react"
import { patchUrl } from "../api.ts"
import {
  CommandRequestError,
  commandDuration,
  commandsApi,
  isFinal,
  mergeEvents,
  mergePartials,
  type OutputItem,
  openPartials,
  outputItems,
  type PartialBlocks,
  partialItems,
  pendingPermissions,
  REASON_TITLES,
  sessionIdOf,
} from "../commands.ts"
import { errorText, formatBytes, formatCost, formatDuration, projectLabel, shortId } from "../format.ts"
import { useNow } from "../hooks.ts"
import { getLiveClient } from "../live.ts"
import { useMachineNames } from "../machines.ts"
import { pairTools, type ToolPairs, usageLineSeqs } from "../pairing.ts"
import { sessionHref } from "../router.ts"
import { EntryBody } from "./EntryView.tsx"
import { PermissionPrompt } from "./PermissionPrompt.tsx"
import { Raw, Terminal } from "./TextViews.tsx"
import { TranscriptContext, type TranscriptContextValue } from "./transcript-context.ts"

/** REST poll while a command runs: the live feed carries the events; this only covers an outage. */
const POLL_MS = 2000

export const RefusalNotice = ({ reason, message }: { reason: Api.CommandErrorReason | null; message: string }) => (
  <div className="run-refusal" role="alert" data-testid="run-refusal" data-reason={reason ?? "error"}>
    <strong>{reason ? REASON_TITLES[reason] : "Request failed"}</strong>
    <div className="run-refusal-message">{message}</div>
  </div>
)

export const StatusBadge = ({ status }: { status: Api.CommandStatus }) => (
  <span className={`badge command-status status-${status}`} data-testid="command-status" data-status={status}>
    {status}
  </span>
)

const entryRole = (item: Extract<OutputItem, { type: "entry" }>): string => {
  const { record } = item.row
  if (record.record.kind === "user") {
    const content = record.json?.message
    const blocks = content && typeof content === "object" && "content" in content ? content.content : null
    if (Array.isArray(blocks) && blocks.length > 0 && blocks.every((b) => b?.type === "tool_result"))
      return "tool result"
    return "user"
  }
  return record.kind
}

export const OutputRow = ({ item }: { item: OutputItem }) => {
  switch (item.type) {
    case "entry":
      return (
        <article
          className={`entry run-entry entry-${item.row.record.kind}${item.partial ? " run-entry-partial" : ""}`}
          data-testid="run-event"
          data-kind={item.row.record.kind}
          data-partial={item.partial ? "" : undefined}
        >
          <header className="entry-head">
            <span className={`role role-${entryRole(item).split(" ")[0]}`}>{entryRole(item)}</span>
          </header>
          <div className="entry-body">
            <EntryBody record={item.row.record} seq={item.row.entry.seq} />
          </div>
        </article>
      )
    case "init":
      return (
        <div className="run-note muted small" data-testid="run-event" data-kind="init">
          Claude Code started{item.model ? ` · ${item.model}` : ""}
          {item.sessionId ? ` · session ${shortId(item.sessionId)}` : ""}
        </div>
      )
    case "result":
      return (
        <div
          className={`run-result${item.isError ? " run-result-error" : ""}`}
          data-testid="run-event"
          data-kind="result"
        >
          <strong>{item.isError ? "Ended with an error" : "Finished"}</strong>
          {item.turns !== null ? ` · ${item.turns} turn${item.turns === 1 ? "" : "s"}` : ""}
          {item.durationMs !== null ? ` · ${formatDuration(item.durationMs)}` : ""}
          {item.costUsd !== null ? ` · ${formatCost(item.costUsd)}` : ""}
          {item.isError && item.text ? <div className="small">{item.text}</div> : null}
        </div>
      )
    case "text":
      return (
        <div className="run-text" data-testid="run-event" data-kind={item.stream}>
          <Terminal text={item.text} error={item.stream === "stderr"} />
        </div>
      )
    case "permission":
      return item.state === "pending" ? (
        <div className="run-note small" data-kind="permission-waiting">
          <strong>{item.request.toolName}</strong> is waiting for your answer (below).
        </div>
      ) : (
        <PermissionPrompt request={item.request} state={item.state} onAnswer={async () => {}} />
      )
    case "patch":
      return (
        <div className="run-note small" data-testid="run-event" data-kind="patch">
          The sandbox changed {item.files.length} file{item.files.length === 1 ? "" : "s"} ({formatBytes(item.bytes)}{" "}
          patch): <span className="mono">{item.files.slice(0, 20).join(", ")}</span>
          {item.files.length > 20 ? ", …" : ""}
          {item.available
            ? " — download it above and `git apply` it in the project."
            : " — too large to send; on the machine: overlord sandboxes patch <command id>."}
        </div>
      )
    case "other":
      return (
        <div className="run-note" data-testid="run-event" data-kind="other">
          <Raw label={item.label || "message"} value={item.message} />
        </div>
      )
  }
}

/**
 * A user message made only of tool results whose calls are in the output: the calls show them, so
 * the message itself would only repeat "result of …" pointers while the reader watches.
 */
const isShownWithItsCall = (item: OutputItem, pairs: ToolPairs): boolean => {
  if (item.type !== "entry" || item.row.record.record.kind !== "user") return false
  const blocks = contentBlocks(item.row.record.record)
  return blocks.length > 0 && blocks.every((b) => b.type === "tool_result" && pairs.calls.has(b.toolUseId))
}

/**
 * A command's output items in the transcript's context: tool calls pair with their results across
 * events, as they do across a session's lines.
 */
export const CommandOutput = ({ items, sessionId }: { items: readonly OutputItem[]; sessionId: string | null }) => {
  const ctx = useMemo<TranscriptContextValue>(() => {
    const seqRecords = items.flatMap((i) =>
      i.type === "entry" ? [{ seq: i.row.entry.seq, record: i.row.record }] : [],
    )
    return {
      sessionId: sessionId ?? "",
      pairs: pairTools(seqRecords),
      usageSeqs: usageLineSeqs(seqRecords),
      onAgentEntries: () => () => undefined,
      depth: 0,
      showBookkeeping: false,
    }
  }, [items, sessionId])
  return (
    <TranscriptContext.Provider value={ctx}>
      <div className="run-output" data-testid="run-output">
        {items.map((item) => (isShownWithItsCall(item, ctx.pairs) ? null : <OutputRow key={item.key} item={item} />))}
      </div>
    </TranscriptContext.Provider>
  )
}

export const CommandView = ({ commandId, initial }: { commandId: string; initial?: Api.CommandSummary }) => {
  const [command, setCommand] = useState<Api.CommandSummary | null>(initial ?? null)
  const [events, setEvents] = useState<readonly Api.CommandEventDto[]>([])
  const [partials, setPartials] = useState<PartialBlocks>(() => new Map())
  const [answers, setAnswers] = useState<ReadonlyMap<string, "allow" | "deny">>(() => new Map())
  const [loadError, setLoadError] = useState<string | null>(null)
  const [inputError, setInputError] = useState<CommandRequestError | Error | null>(null)
  const [followUp, setFollowUp] = useState("")
  const [sending, setSending] = useState<"message" | "cancel" | null>(null)
  const now = useNow(1000)
  const machineNames = useMachineNames()

  useEffect(() => {
    const client = getLiveClient()
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const offEvents = client.onCommandEvents((m) => {
      if (m.commandId === commandId) setEvents((known) => mergeEvents(known, m.events))
    })
    const offPartial = client.onCommandPartial((m) => {
      if (m.commandId === commandId) setPartials((known) => mergePartials(known, m.blocks))
    })
    const offCommand = client.onCommand((c) => {
      if (c.commandId === commandId) setCommand(c)
    })
    client.watchCommand(commandId, -1)
    const poll = () => {
      commandsApi.detail(commandId).then(
        (d) => {
          if (stopped) return
          setLoadError(null)
          setCommand(d.command)
          setEvents((known) => mergeEvents(known, d.events))
          if (!isFinal(d.command.status)) timer = setTimeout(poll, POLL_MS)
        },
        (e: unknown) => {
          if (stopped) return
          setLoadError(errorText(e))
          timer = setTimeout(poll, POLL_MS * 2)
        },
      )
    }
    poll()
    return () => {
      stopped = true
      clearTimeout(timer)
      offEvents()
      offPartial()
      offCommand()
      client.unwatchCommand(commandId)
    }
  }, [commandId])

  const final = command ? isFinal(command.status) : false
  const stored = useMemo(() => outputItems(events, answers, final), [events, answers, final])
  const items = useMemo(
    () => (final ? stored : [...stored, ...partialItems(openPartials(events, partials))]),
    [stored, final, events, partials],
  )
  const pending = useMemo(() => pendingPermissions(items), [items])
  const sessionId = sessionIdOf(command, events)
  const send = async (input: Api.CommandInputRequest): Promise<void> => {
    setInputError(null)
    try {
      const res = await commandsApi.input(commandId, input)
      setCommand(res.command)
    } catch (e) {
      setInputError(e instanceof Error ? e : new Error(String(e)))
      throw e
    }
  }

  const answer = async (requestId: string, decision: "allow" | "deny") => {
    await send({ type: "permission", requestId, decision })
    setAnswers((m) => new Map(m).set(requestId, decision))
  }

  const onFollowUp = (e: FormEvent) => {
    e.preventDefault()
    const text = followUp.trim()
    if (!text) return
    setSending("message")
    send({ type: "message", text }).then(
      () => {
        setFollowUp("")
        setSending(null)
      },
      () => setSending(null),
    )
  }

  const onCancel = () => {
    setSending("cancel")
    send({ type: "cancel" }).then(
      () => setSending(null),
      () => setSending(null),
    )
  }

  const duration = command ? commandDuration(command, now) : null
  const refusal = command?.error && command.status !== "completed" ? command.error : null

  return (
    <div className="command-view" data-testid="command-view" data-command-id={commandId}>
      <header className="command-head">
        {command ? <StatusBadge status={command.status} /> : <span className="muted">loading…</span>}
        {command && (
          <span className="command-facts">
            <span title={command.machineId}>{machineNames.get(command.machineId) ?? command.machineId}</span>
            <span title={command.projectDir}>{projectLabel(command.projectDir, command.projectDir)}</span>
            {command.where === "sandbox" && <span>sandbox</span>}
            {duration !== null && <span data-testid="command-duration">{formatDuration(duration)}</span>}
            {command.exitCode !== null && <span data-testid="command-exit-code">exit {command.exitCode}</span>}
            {command.costUsd !== undefined && <span>{formatCost(command.costUsd)}</span>}
          </span>
        )}
        {sessionId && (
          <a className="command-session" href={sessionHref(sessionId)} data-testid="command-session-link">
            session {shortId(sessionId)} →
          </a>
        )}
        {items.some((i) => i.type === "patch" && i.available) && (
          <a className="command-session" href={patchUrl(commandId)} download data-testid="command-patch-link">
            download patch
          </a>
        )}
      </header>
      {command && (
        <div className="command-prompt" title={command.prompt}>
          {command.prompt}
        </div>
      )}
      {loadError && <div className="error small">{loadError}</div>}
      {refusal && <RefusalNotice reason={refusal.reason} message={refusal.message} />}
      <CommandOutput items={items} sessionId={sessionId} />
      {!final && command && items.length === 0 && (
        <div className="muted small" data-testid="run-waiting">
          {command.status === "queued" ? "Waiting for the machine…" : "Waiting for output…"}
        </div>
      )}
      {pending.length > 0 && (
        <div className="permission-dock" data-testid="permission-dock">
          {pending.map((r) => (
            <PermissionPrompt
              key={r.requestId}
              request={r}
              state="pending"
              onAnswer={(decision) => answer(r.requestId, decision)}
            />
          ))}
        </div>
      )}
      {inputError && (
        <RefusalNotice
          reason={inputError instanceof CommandRequestError ? inputError.reason : null}
          message={inputError.message}
        />
      )}
      {command && !final && (
        <form className="follow-up" onSubmit={onFollowUp}>
          {/* A queued command has no CLI to read a follow-up (the server refuses it); it can be cancelled. */}
          {command.status !== "queued" && (
            <textarea
              aria-label="Follow-up message"
              data-testid="follow-up-input"
              placeholder="Send a follow-up while it runs…"
              rows={2}
              value={followUp}
              onChange={(e) => setFollowUp(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) onFollowUp(e)
              }}
            />
          )}
          <div className="follow-up-actions">
            {command.status !== "queued" && (
              <button
                type="submit"
                className="button"
                data-testid="follow-up-send"
                disabled={sending !== null || followUp.trim() === ""}
              >
                {sending === "message" ? "Sending…" : "Send"}
              </button>
            )}
            <button
              type="button"
              className="button button-deny"
              data-testid="command-cancel"
              disabled={sending !== null}
              onClick={onCancel}
            >
              {sending === "cancel" ? "Cancelling…" : "Cancel"}
            </button>
          </div>
        </form>
      )}
    </div>
  )
}
