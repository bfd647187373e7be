/**
 * What every engine's `CommandStore` shares: the rows it keeps, how a row reads as an API summary,
 * and what the daemon's reports change. Engines keep the statements; the rules live here once.
 */
import type { Api, Commands } from "@overlord/protocol"

/** A `commands` row joined with its machine's uid. */
export interface CommandRow {
  readonly command_id: string
  readonly machine_uid: string
  readonly kind: string
  readonly location: string
  readonly project_dir: string
  readonly prompt: string
  readonly resume_session_id: string | null
  readonly status: string
  readonly exit_code: number | null
  readonly session_id: string | null
  readonly created_at: string
  readonly expires_at: string
  readonly started_at: string | null
  readonly ended_at: string | null
  readonly cost_usd: number | null
  readonly error_reason: string | null
  readonly error_message: string | null
}

/** The columns `summaryOf` reads, for `SELECT ${COMMAND_COLUMNS} FROM commands c JOIN machines m ...`. */
export const COMMAND_COLUMNS = `c.command_id, m.machine_uid, c.kind, c.location, c.project_dir, c.prompt,
  c.resume_session_id, c.status, c.exit_code, c.session_id, c.created_at, c.expires_at, c.started_at, c.ended_at,
  c.cost_usd, c.error_reason, c.error_message`

/** Statuses a command never leaves (but see `CommandStore`: a daemon's report beats `expired`). */
export const FINAL_STATUSES: readonly Api.CommandStatus[] = [
  "completed",
  "failed",
  "cancelled",
  "interrupted",
  "refused",
  "expired",
  "timed-out",
]
/** SQL list of the statuses a daemon's ack, events or exit may still move on from. */
export const OPEN_STATUSES_SQL = "('queued', 'delivered', 'running', 'expired')"
/** The statuses counted against a machine's concurrency limit. */
export const ACTIVE_STATUSES_SQL = "('delivered', 'running')"

export const MAX_COMMAND_PAGE = 500

export function summaryOf(row: CommandRow): Api.CommandSummary {
  return {
    commandId: row.command_id,
    machineId: row.machine_uid,
    kind: row.kind === "shell" ? "shell" : "claude",
    where: row.location === "sandbox" ? "sandbox" : "local",
    projectDir: row.project_dir,
    prompt: row.prompt,
    resumeSessionId: row.resume_session_id,
    status: row.status as Api.CommandStatus,
    exitCode: row.exit_code === null ? null : Number(row.exit_code),
    sessionId: row.session_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    ...(row.cost_usd !== null ? { costUsd: Number(row.cost_usd) } : {}),
    ...(row.error_reason !== null
      ? { error: { reason: row.error_reason as Api.CommandErrorReason, message: row.error_message ?? "" } }
      : {}),
  }
}

/**
 * What the CLI's own messages say about the run: its session id (every stream-json message carries
 * `session_id`; a resumed run's is the session it continues) and, in the final `result`, its cost.
 */
export function factsOfEvents(events: readonly { readonly event: Commands.CommandEventBody }[]): {
  sessionId: string | null
  costUsd: number | null
} {
  let sessionId: string | null = null
  let costUsd: number | null = null
  for (const { event } of events) {
    if (event.kind !== "cli") continue
    const m = event.message
    if (sessionId === null && typeof m.session_id === "string" && m.session_id !== "") sessionId = m.session_id
    if (m.type === "result" && typeof m.total_cost_usd === "number" && Number.isFinite(m.total_cost_usd))
      costUsd = m.total_cost_usd
  }
  return { sessionId, costUsd }
}

/** The columns a `command-exit` sets. */
export function exitColumns(exit: Commands.CommandExit): {
  status: Api.CommandStatus
  exitCode: number | null
  sessionId: string | null
  errorReason: Api.CommandErrorReason | null
  errorMessage: string | null
} {
  const errorReason: Api.CommandErrorReason | null =
    exit.status === "refused"
      ? (exit.reason ?? "invalid-request")
      : exit.status === "failed" || exit.status === "interrupted" || exit.status === "timed-out"
        ? exit.status
        : null
  return {
    status: exit.status,
    exitCode: exit.exitCode ?? null,
    sessionId: exit.sessionId ?? null,
    errorReason,
    errorMessage: errorReason !== null ? (exit.message ?? exit.status) : null,
  }
}

export const EXPIRED_MESSAGE = "the machine did not take the command before it expired; it never ran"

/** What `eventsUpdate` reads of a command. */
export interface EventTarget {
  readonly id: number
  readonly status: string
  readonly started_at: string | null
  readonly ended_at: string | null
  readonly error_reason: string | null
  readonly error_message: string | null
  readonly session_id: string | null
  readonly cost_usd: number | null
}
export const EVENT_TARGET_COLUMNS =
  "id, status, started_at, ended_at, error_reason, error_message, session_id, cost_usd"

/**
 * The command's columns after events arrived (it runs: `running`, and an `expired` one ran after
 * all), or null when nothing changes.
 */
export function eventsUpdate(
  row: EventTarget,
  facts: { readonly sessionId: string | null; readonly costUsd: number | null },
  at: string,
): Omit<EventTarget, "id"> | null {
  const starts = row.status === "queued" || row.status === "delivered" || row.status === "expired"
  const next = {
    status: starts ? "running" : row.status,
    started_at: row.started_at ?? at,
    ended_at: row.status === "expired" ? null : row.ended_at,
    error_reason: row.status === "expired" ? null : row.error_reason,
    error_message: row.status === "expired" ? null : row.error_message,
    session_id: row.session_id ?? facts.sessionId,
    cost_usd: facts.costUsd ?? (row.cost_usd === null ? null : Number(row.cost_usd)),
  }
  const same =
    next.status === row.status &&
    next.started_at === row.started_at &&
    next.session_id === row.session_id &&
    next.cost_usd === (row.cost_usd === null ? null : Number(row.cost_usd))
  return same ? null : next
}
