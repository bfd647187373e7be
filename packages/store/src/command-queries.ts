/**
 * Remote commands (`CommandStore`), written once for every engine: the rows they keep, how a row reads
 * as an API summary, what the daemon's reports change, and the statements, as queries an engine runs
 * through its `QueryDialect` (`query-dialect.ts`; `sqlite/commands.ts`, `mysql/commands.ts`). The
 * statements are the same on both engines but for the upsert, the locking reads and how event rows are
 * inserted, which the dialect writes.
 */
import type { Api, Commands, Sync } from "@overlord/protocol"
import { step } from "./ingest/steps.ts"
import type { Mode, Query, QueryDialect, Runner, SqlValue } from "./query-dialect.ts"
import { all, inChunks, placeholders, run } from "./query-dialect.ts"
import type { Actor, CommandEventInput, CommandQuery, MachineActor, MachineRemote, NewCommand } from "./store.ts"

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
const COMMAND_COLUMNS = `c.command_id, m.machine_uid, c.kind, c.location, c.project_dir, c.prompt,
  c.resume_session_id, c.status, c.exit_code, c.session_id, c.created_at, c.expires_at, c.started_at, c.ended_at,
  c.cost_usd, c.error_reason, c.error_message`

/**
 * SQL list of the statuses a daemon's exit may still move on from: the others are final, but a daemon's
 * report beats `expired` (see `CommandStore`).
 */
const OPEN_STATUSES_SQL = "('queued', 'delivered', 'running', 'expired')"
/** The statuses counted against a machine's concurrency limit. */
const ACTIVE_STATUSES_SQL = "('delivered', 'running')"

const MAX_COMMAND_PAGE = 500

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

const EXPIRED_MESSAGE = "the machine did not take the command before it expired; it never ran"

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
const EVENT_TARGET_COLUMNS = "id, status, started_at, ended_at, error_reason, error_message, session_id, cost_usd"

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

// ---- the statements (`CommandStore`'s methods, in its order) --------------------------------------

const SELECT = `SELECT ${COMMAND_COLUMNS} FROM commands c JOIN machines m ON m.id = c.machine_id`
/** Events per `listCommandEvents` page at most. */
const MAX_EVENT_PAGE = 10_000

/** `machine_remote`'s columns as the machine queries read them (`r`: its alias, LEFT JOINed to `machines`). */
export const REMOTE_COLUMNS =
  "r.enabled, r.max_concurrent, r.max_prompt_bytes, r.sandbox, r.bypass_permissions, r.sandboxes_off"

/** A row's `REMOTE_COLUMNS`: all NULL until the machine's daemon has said what it accepts. */
export interface RemoteRow {
  readonly enabled: number | string | null
  readonly max_concurrent: number | string | null
  readonly max_prompt_bytes: number | string | null
  readonly sandbox: number | string | null
  /** NULL when the daemon did not say (daemons before it did not). */
  readonly bypass_permissions: number | string | null
  /** NULL when its sandboxes are on, or it did not say why they are off. */
  readonly sandboxes_off: string | null
}

/** The capabilities stored for a machine; null when its daemon has not said (`enabled` is NULL). */
export const remoteOfRow = (row: RemoteRow): Sync.RemoteCapabilities | null => {
  if (row.enabled === null) return null
  // MySQL may return numbers as strings.
  return {
    enabled: Number(row.enabled) === 1,
    maxConcurrent: Number(row.max_concurrent ?? 0),
    maxPromptBytes: Number(row.max_prompt_bytes ?? 0),
    sandbox: Number(row.sandbox) === 1,
    ...(row.bypass_permissions === null ? {} : { bypassPermissions: Number(row.bypass_permissions) === 1 }),
    ...(row.sandboxes_off === null ? {} : { sandboxesOff: row.sandboxes_off }),
  }
}

function* setMachineRemote(db: QueryDialect, actor: MachineActor, remote: Sync.RemoteCapabilities): Query<void> {
  yield* run(
    db,
    `INSERT INTO machine_remote (machine_id, user_id, enabled, max_concurrent, max_prompt_bytes, sandbox, bypass_permissions,
     sandboxes_off, updated_at)
     SELECT id, user_id, ?, ?, ?, ?, ?, ?, ? FROM machines WHERE id = ? AND user_id = ?
     ${db.upsert("machine_id", ["enabled", "max_concurrent", "max_prompt_bytes", "sandbox", "bypass_permissions", "sandboxes_off", "updated_at"])}`,
    [
      remote.enabled ? 1 : 0,
      remote.maxConcurrent,
      remote.maxPromptBytes,
      remote.sandbox ? 1 : 0,
      remote.bypassPermissions === undefined ? null : remote.bypassPermissions ? 1 : 0,
      remote.sandboxesOff ?? null,
      new Date().toISOString(),
      actor.machineId,
      actor.userId,
    ],
  )
}

interface MachineRemoteRow extends RemoteRow {
  readonly id: number
  readonly machine_uid: string
  readonly online: number
  readonly last_error: string | null
}

function* getMachineRemote(db: QueryDialect, actor: Actor, machineUid: string): Query<MachineRemote | null> {
  const [row] = yield* all<MachineRemoteRow>(
    db,
    `SELECT m.id, m.machine_uid, m.online, m.last_error, ${REMOTE_COLUMNS}
     FROM machines m LEFT JOIN machine_remote r ON r.machine_id = m.id
     WHERE m.user_id = ? AND m.machine_uid = ? AND m.revoked_at IS NULL`,
    [actor.userId, machineUid],
  )
  if (!row) return null
  return {
    machineId: Number(row.id),
    machineUid: row.machine_uid,
    online: Number(row.online) === 1,
    remote: remoteOfRow(row),
    lastError: row.last_error ?? null,
  }
}

function* createCommand(
  db: QueryDialect,
  actor: Actor,
  machineUid: string,
  command: NewCommand,
): Query<Api.CommandSummary | null> {
  const inserted = yield* run(
    db,
    `INSERT INTO commands (user_id, machine_id, command_id, kind, location, project_dir, prompt, request,
       resume_session_id, status, created_at, expires_at)
     SELECT user_id, id, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ? FROM machines
     WHERE user_id = ? AND machine_uid = ? AND revoked_at IS NULL`,
    [
      command.commandId,
      command.kind,
      command.where,
      command.projectDir,
      command.prompt,
      JSON.stringify(command.request),
      command.resumeSessionId,
      command.createdAt,
      command.expiresAt,
      actor.userId,
      machineUid,
    ],
  )
  return inserted === 0 ? null : yield* getCommand(db, actor, command.commandId)
}

function* getCommand(db: QueryDialect, actor: Actor, commandId: string): Query<Api.CommandSummary | null> {
  const [row] = yield* all<CommandRow>(db, `${SELECT} WHERE c.user_id = ? AND c.command_id = ?`, [
    actor.userId,
    commandId,
  ])
  return row ? summaryOf(row) : null
}

function* listCommands(db: QueryDialect, actor: Actor, query: CommandQuery): Query<Api.CommandSummary[]> {
  const where = ["c.user_id = ?"]
  const params: SqlValue[] = [actor.userId]
  if (query.machineUid !== undefined) {
    where.push("m.machine_uid = ?")
    params.push(query.machineUid)
  }
  if (query.sessionId !== undefined) {
    where.push("(c.session_id = ? OR c.resume_session_id = ?)")
    params.push(query.sessionId, query.sessionId)
  }
  params.push(Math.min(Math.max(query.limit ?? 100, 1), MAX_COMMAND_PAGE))
  const rows = yield* all<CommandRow>(db, `${SELECT} WHERE ${where.join(" AND ")} ORDER BY c.id DESC LIMIT ?`, params)
  return rows.map(summaryOf)
}

function* listCommandEvents(
  db: QueryDialect,
  actor: Actor,
  commandId: string,
  afterEventSeq: number,
  limit: number,
): Query<Api.CommandEventDto[] | null> {
  const [command] = yield* all<{ id: number }>(db, "SELECT id FROM commands WHERE user_id = ? AND command_id = ?", [
    actor.userId,
    commandId,
  ])
  if (!command) return null
  const rows = yield* all<{ event_seq: number; at: string; event: string }>(
    db,
    "SELECT event_seq, at, event FROM command_events WHERE command_row = ? AND event_seq > ? ORDER BY event_seq LIMIT ?",
    [command.id, afterEventSeq, Math.min(Math.max(limit, 1), MAX_EVENT_PAGE)],
  )
  return rows.map((r) => ({ eventSeq: Number(r.event_seq), at: r.at, event: JSON.parse(String(r.event)) }))
}

function* countActiveCommands(db: QueryDialect, actor: Actor, machineUid: string): Query<number> {
  const [row] = yield* all<{ n: number }>(
    db,
    `SELECT count(*) AS n FROM commands c JOIN machines m ON m.id = c.machine_id
     WHERE c.user_id = ? AND m.machine_uid = ? AND c.status IN ${ACTIVE_STATUSES_SQL}`,
    [actor.userId, machineUid],
  )
  return Number(row?.n ?? 0)
}

function* undeliveredCommands(db: QueryDialect, actor: MachineActor, now: string): Query<Commands.Command[]> {
  const rows = yield* all<{ request: string }>(
    db,
    `SELECT request FROM commands WHERE user_id = ? AND machine_id = ? AND status = 'queued' AND expires_at > ?
     ORDER BY id`,
    [actor.userId, actor.machineId, now],
  )
  return rows.map((r) => JSON.parse(String(r.request)) as Commands.Command)
}

/** One transaction: the commands read as due are the ones expired (MySQL locks them; SQLite's writer is alone). */
function expireCommands(db: QueryDialect, now: string): Query<{ userId: number; command: Api.CommandSummary }[]> {
  return step(
    db.transaction(function* (tx) {
      const due = yield* all<{ id: number; user_id: number; command_id: string }>(
        tx,
        `SELECT id, user_id, command_id FROM commands WHERE status = 'queued' AND expires_at <= ?${tx.forUpdate}`,
        [now],
      )
      for (const part of inChunks(due)) {
        yield* run(
          tx,
          `UPDATE commands SET status = 'expired', ended_at = ?, error_reason = 'expired', error_message = ?
           WHERE status = 'queued' AND id IN (${placeholders(part.length)})`,
          [now, EXPIRED_MESSAGE, ...part.map((d) => d.id)],
        )
      }
      const out: { userId: number; command: Api.CommandSummary }[] = []
      for (const d of due) {
        const userId = Number(d.user_id)
        const command = yield* getCommand(tx, { userId }, d.command_id)
        if (command) out.push({ userId, command })
      }
      return out
    }),
  )
}

/** Runs an UPDATE of the command; its summary when a row changed, else null (nothing moved). */
function* updateCommand(
  db: QueryDialect,
  actor: Actor,
  commandId: string,
  sql: string,
  params: readonly SqlValue[],
): Query<Api.CommandSummary | null> {
  const changed = yield* run(db, sql, params)
  return changed > 0 ? yield* getCommand(db, actor, commandId) : null
}

const recordCommandAck = (db: QueryDialect, actor: MachineActor, commandId: string, at: string) =>
  updateCommand(
    db,
    actor,
    commandId,
    `UPDATE commands SET status = 'delivered', started_at = coalesce(started_at, ?), ended_at = NULL,
       error_reason = NULL, error_message = NULL
     WHERE user_id = ? AND machine_id = ? AND command_id = ? AND status IN ('queued', 'expired')`,
    [at, actor.userId, actor.machineId, commandId],
  )

/** One transaction: the command's row is read (and locked) before its events decide what it becomes. */
function recordCommandEvents(
  db: QueryDialect,
  actor: MachineActor,
  commandId: string,
  events: readonly CommandEventInput[],
  at: string,
): Query<{ stored: number; command: Api.CommandSummary | null }> {
  return step(
    db.transaction(function* (tx) {
      const [row] = yield* all<EventTarget>(
        tx,
        `SELECT ${EVENT_TARGET_COLUMNS} FROM commands WHERE user_id = ? AND machine_id = ? AND command_id = ?${tx.forUpdate}`,
        [actor.userId, actor.machineId, commandId],
      )
      if (!row) return { stored: 0, command: null }
      const stored = yield* step(
        tx.insertRows(
          "command_events",
          ["command_row", "event_seq", "at", "event"],
          events.map((e) => [row.id, e.eventSeq, at, JSON.stringify(e.event)]),
          true,
        ),
      )
      const update = eventsUpdate(row, factsOfEvents(events), at)
      if (update === null) return { stored, command: null }
      yield* run(
        tx,
        `UPDATE commands SET status = ?, started_at = ?, ended_at = ?, error_reason = ?, error_message = ?,
           session_id = ?, cost_usd = ? WHERE id = ?`,
        [
          update.status,
          update.started_at,
          update.ended_at,
          update.error_reason,
          update.error_message,
          update.session_id,
          update.cost_usd,
          row.id,
        ],
      )
      return { stored, command: yield* getCommand(tx, actor, commandId) }
    }),
  )
}

function recordCommandExit(db: QueryDialect, actor: MachineActor, exit: Commands.CommandExit, at: string) {
  const c = exitColumns(exit)
  return updateCommand(
    db,
    actor,
    exit.commandId,
    `UPDATE commands SET status = ?, exit_code = ?, session_id = coalesce(?, session_id),
       started_at = coalesce(started_at, ?), ended_at = ?, error_reason = ?, error_message = ?
     WHERE user_id = ? AND machine_id = ? AND command_id = ? AND status IN ${OPEN_STATUSES_SQL}`,
    [
      c.status,
      c.exitCode,
      c.sessionId,
      at,
      at,
      c.errorReason,
      c.errorMessage,
      actor.userId,
      actor.machineId,
      exit.commandId,
    ],
  )
}

const cancelQueuedCommand = (db: QueryDialect, actor: Actor, commandId: string, at: string) =>
  updateCommand(
    db,
    actor,
    commandId,
    "UPDATE commands SET status = 'cancelled', ended_at = ? WHERE user_id = ? AND command_id = ? AND status = 'queued'",
    [at, actor.userId, commandId],
  )

/**
 * The `CommandStore` on an engine: each method runs its query on the engine's dialect with the
 * engine's runner (`runSync`: it answers values; `runAsync`: promises). `sqlite/commands.ts` and
 * `mysql/commands.ts` extend it.
 */
export function commandStoreOn<M extends Mode>(runQuery: Runner<M>) {
  return class CommandQueries {
    constructor(protected readonly db: QueryDialect) {}
    setMachineRemote(actor: MachineActor, remote: Sync.RemoteCapabilities) {
      return runQuery(setMachineRemote(this.db, actor, remote))
    }
    getMachineRemote(actor: Actor, machineUid: string) {
      return runQuery(getMachineRemote(this.db, actor, machineUid))
    }
    createCommand(actor: Actor, machineUid: string, command: NewCommand) {
      return runQuery(createCommand(this.db, actor, machineUid, command))
    }
    getCommand(actor: Actor, commandId: string) {
      return runQuery(getCommand(this.db, actor, commandId))
    }
    listCommands(actor: Actor, query: CommandQuery) {
      return runQuery(listCommands(this.db, actor, query))
    }
    listCommandEvents(actor: Actor, commandId: string, afterEventSeq: number, limit: number) {
      return runQuery(listCommandEvents(this.db, actor, commandId, afterEventSeq, limit))
    }
    countActiveCommands(actor: Actor, machineUid: string) {
      return runQuery(countActiveCommands(this.db, actor, machineUid))
    }
    undeliveredCommands(actor: MachineActor, now: string) {
      return runQuery(undeliveredCommands(this.db, actor, now))
    }
    expireCommands(now: string) {
      return runQuery(expireCommands(this.db, now))
    }
    recordCommandAck(actor: MachineActor, commandId: string, at: string) {
      return runQuery(recordCommandAck(this.db, actor, commandId, at))
    }
    recordCommandEvents(actor: MachineActor, commandId: string, events: readonly CommandEventInput[], at: string) {
      return runQuery(recordCommandEvents(this.db, actor, commandId, events, at))
    }
    recordCommandExit(actor: MachineActor, exit: Commands.CommandExit, at: string) {
      return runQuery(recordCommandExit(this.db, actor, exit, at))
    }
    cancelQueuedCommand(actor: Actor, commandId: string, at: string) {
      return runQuery(cancelQueuedCommand(this.db, actor, commandId, at))
    }
  }
}
