/**
 * Commands of one machine, or those linked to one session, newest first: status, exit code, duration,
 * cost and the session each produced. Live: a command created or changing status anywhere updates
 * its row (the feed sends every command change of the user).
 */
import type { Api } from "@overlord/protocol"
import { useEffect, useState } from "react"
import { commandDuration, commandsApi } from "../commands.ts"
import { errorText, formatAgo, formatCost, formatDuration, projectLabel, shortId } from "../format.ts"
import { useNow } from "../hooks.ts"
import { getLiveClient } from "../live.ts"
import { commandHref, sessionHref } from "../router.ts"
import { StatusBadge } from "./CommandView.tsx"

const HISTORY_LIMIT = 50

/** `list` with `c` inserted or replaced, newest first. */
export const upsertCommand = (list: readonly Api.CommandSummary[], c: Api.CommandSummary): Api.CommandSummary[] => {
  const rest = list.filter((x) => x.commandId !== c.commandId)
  const at = rest.findIndex((x) => x.createdAt <= c.createdAt)
  if (at < 0) rest.push(c)
  else rest.splice(at, 0, c)
  return rest
}

export const CommandHistory = ({
  machineId,
  sessionId,
  title = "Commands",
}: {
  machineId?: string | undefined
  sessionId?: string | undefined
  title?: string
}) => {
  const [commands, setCommands] = useState<Api.CommandSummary[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const now = useNow(5000)

  useEffect(() => {
    const ctrl = new AbortController()
    setCommands(null)
    setError(null)
    const matches = (c: Api.CommandSummary) =>
      (machineId === undefined || c.machineId === machineId) &&
      (sessionId === undefined || c.sessionId === sessionId || c.resumeSessionId === sessionId)
    const off = getLiveClient().onCommand((c) => {
      setCommands((list) => {
        if (list === null) return list
        if (matches(c)) return upsertCommand(list, c)
        return list.some((x) => x.commandId === c.commandId) ? list.filter((x) => x.commandId !== c.commandId) : list
      })
    })
    commandsApi
      .list(
        { ...(machineId ? { machineId } : {}), ...(sessionId ? { sessionId } : {}), limit: HISTORY_LIMIT },
        ctrl.signal,
      )
      .then(
        (res) => !ctrl.signal.aborted && setCommands([...res.commands]),
        (e: unknown) => !ctrl.signal.aborted && setError(errorText(e)),
      )
    return () => {
      ctrl.abort()
      off()
    }
  }, [machineId, sessionId])

  return (
    <section className="command-history" data-testid="command-history">
      <h2>{title}</h2>
      {error && <div className="error small">{error}</div>}
      {commands?.length === 0 && <div className="muted small">No commands yet.</div>}
      {commands && commands.length > 0 && (
        <ul className="command-list">
          {commands.map((c) => {
            const duration = commandDuration(c, now)
            return (
              <li
                key={c.commandId}
                className="command-row"
                data-testid="command-row"
                data-command-id={c.commandId}
                data-status={c.status}
              >
                <a className="command-row-main" href={commandHref(c.commandId)}>
                  <StatusBadge status={c.status} />
                  <span className="command-row-prompt">{c.prompt}</span>
                </a>
                <div className="command-row-sub muted small">
                  <span title={c.projectDir}>{projectLabel(c.projectDir, c.projectDir)}</span>
                  {c.where === "sandbox" && <span>sandbox</span>}
                  <span title={c.createdAt}>{formatAgo(c.createdAt, now)}</span>
                  {duration !== null && <span>{formatDuration(duration)}</span>}
                  {c.exitCode !== null && <span data-testid="command-row-exit">exit {c.exitCode}</span>}
                  {c.costUsd !== undefined && <span>{formatCost(c.costUsd)}</span>}
                  {c.error && <span className="error">{c.error.message}</span>}
                  {c.sessionId && (
                    <a href={sessionHref(c.sessionId)} data-testid="command-row-session">
                      session {shortId(c.sessionId)}
                    </a>
                  )}
                </div>
              </li>
            )
          })}
        </ul>
      )}
    </section>
  )
}
