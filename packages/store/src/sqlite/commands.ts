/** Remote commands in SQLite (`CommandStore`); the rules they share with the other engines are `../command-rows.ts`. */
import type { Database } from "bun:sqlite"
import type { Api, Commands, Sync } from "@overlord/protocol"
import {
  ACTIVE_STATUSES_SQL,
  COMMAND_COLUMNS,
  type CommandRow,
  EVENT_TARGET_COLUMNS,
  type EventTarget,
  EXPIRED_MESSAGE,
  eventsUpdate,
  exitColumns,
  factsOfEvents,
  MAX_COMMAND_PAGE,
  OPEN_STATUSES_SQL,
  summaryOf,
} from "../command-rows.ts"
import type {
  Actor,
  CommandEventInput,
  CommandQuery,
  CommandStore,
  MachineActor,
  MachineRemote,
  NewCommand,
} from "../store.ts"

const SELECT = `SELECT ${COMMAND_COLUMNS} FROM commands c JOIN machines m ON m.id = c.machine_id`

export class SqliteCommands implements CommandStore {
  constructor(private readonly db: Database) {}

  setMachineRemote(actor: MachineActor, remote: Sync.RemoteCapabilities): void {
    this.db
      .query(
        `INSERT INTO machine_remote (machine_id, user_id, enabled, max_concurrent, max_prompt_bytes, sandbox, updated_at)
         SELECT id, user_id, ?, ?, ?, ?, ? FROM machines WHERE id = ? AND user_id = ?
         ON CONFLICT (machine_id) DO UPDATE SET enabled = excluded.enabled, max_concurrent = excluded.max_concurrent,
           max_prompt_bytes = excluded.max_prompt_bytes, sandbox = excluded.sandbox, updated_at = excluded.updated_at`,
      )
      .run(
        remote.enabled ? 1 : 0,
        remote.maxConcurrent,
        remote.maxPromptBytes,
        remote.sandbox ? 1 : 0,
        new Date().toISOString(),
        actor.machineId,
        actor.userId,
      )
  }

  getMachineRemote(actor: Actor, machineUid: string): MachineRemote | null {
    const row = this.db
      .query(
        `SELECT m.id, m.machine_uid, m.online, r.enabled, r.max_concurrent, r.max_prompt_bytes, r.sandbox
         FROM machines m LEFT JOIN machine_remote r ON r.machine_id = m.id
         WHERE m.user_id = ? AND m.machine_uid = ? AND m.revoked_at IS NULL`,
      )
      .get(actor.userId, machineUid) as {
      id: number
      machine_uid: string
      online: number
      enabled: number | null
      max_concurrent: number | null
      max_prompt_bytes: number | null
      sandbox: number | null
    } | null
    if (!row) return null
    return {
      machineId: row.id,
      machineUid: row.machine_uid,
      online: row.online === 1,
      remote:
        row.enabled === null
          ? null
          : {
              enabled: row.enabled === 1,
              maxConcurrent: row.max_concurrent ?? 0,
              maxPromptBytes: row.max_prompt_bytes ?? 0,
              sandbox: row.sandbox === 1,
            },
    }
  }

  createCommand(actor: Actor, machineUid: string, command: NewCommand): Api.CommandSummary | null {
    const inserted = this.db
      .query(
        `INSERT INTO commands (user_id, machine_id, command_id, kind, location, project_dir, prompt, request,
           resume_session_id, status, created_at, expires_at)
         SELECT user_id, id, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ? FROM machines
         WHERE user_id = ? AND machine_uid = ? AND revoked_at IS NULL`,
      )
      .run(
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
      )
    if (inserted.changes === 0) return null
    return this.getCommand(actor, command.commandId)
  }

  getCommand(actor: Actor, commandId: string): Api.CommandSummary | null {
    const row = this.db
      .query(`${SELECT} WHERE c.user_id = ? AND c.command_id = ?`)
      .get(actor.userId, commandId) as CommandRow | null
    return row ? summaryOf(row) : null
  }

  listCommands(actor: Actor, query: CommandQuery): Api.CommandSummary[] {
    const where = ["c.user_id = ?"]
    const params: (string | number)[] = [actor.userId]
    if (query.machineUid !== undefined) {
      where.push("m.machine_uid = ?")
      params.push(query.machineUid)
    }
    if (query.sessionId !== undefined) {
      where.push("(c.session_id = ? OR c.resume_session_id = ?)")
      params.push(query.sessionId, query.sessionId)
    }
    params.push(Math.min(Math.max(query.limit ?? 100, 1), MAX_COMMAND_PAGE))
    const rows = this.db
      .query(`${SELECT} WHERE ${where.join(" AND ")} ORDER BY c.id DESC LIMIT ?`)
      .all(...params) as CommandRow[]
    return rows.map(summaryOf)
  }

  listCommandEvents(
    actor: Actor,
    commandId: string,
    afterEventSeq: number,
    limit: number,
  ): Api.CommandEventDto[] | null {
    const command = this.rowId(actor.userId, commandId)
    if (command === null) return null
    const rows = this.db
      .query(
        "SELECT event_seq, at, event FROM command_events WHERE command_row = ? AND event_seq > ? ORDER BY event_seq LIMIT ?",
      )
      .all(command, afterEventSeq, Math.min(Math.max(limit, 1), 10_000)) as {
      event_seq: number
      at: string
      event: string
    }[]
    return rows.map((r) => ({ eventSeq: r.event_seq, at: r.at, event: JSON.parse(r.event) }))
  }

  countActiveCommands(actor: Actor, machineUid: string): number {
    const row = this.db
      .query(
        `SELECT count(*) AS n FROM commands c JOIN machines m ON m.id = c.machine_id
         WHERE c.user_id = ? AND m.machine_uid = ? AND c.status IN ${ACTIVE_STATUSES_SQL}`,
      )
      .get(actor.userId, machineUid) as { n: number }
    return row.n
  }

  undeliveredCommands(actor: MachineActor, now: string): Commands.Command[] {
    const rows = this.db
      .query(
        `SELECT request FROM commands WHERE user_id = ? AND machine_id = ? AND status = 'queued' AND expires_at > ?
         ORDER BY id`,
      )
      .all(actor.userId, actor.machineId, now) as { request: string }[]
    return rows.map((r) => JSON.parse(r.request) as Commands.Command)
  }

  expireCommands(now: string): { userId: number; command: Api.CommandSummary }[] {
    return this.db
      .transaction(() => {
        const due = this.db
          .query("SELECT id, user_id, command_id FROM commands WHERE status = 'queued' AND expires_at <= ?")
          .all(now) as { id: number; user_id: number; command_id: string }[]
        const expire = this.db.query(
          `UPDATE commands SET status = 'expired', ended_at = ?, error_reason = 'expired', error_message = ?
           WHERE id = ? AND status = 'queued'`,
        )
        const out: { userId: number; command: Api.CommandSummary }[] = []
        for (const d of due) {
          expire.run(now, EXPIRED_MESSAGE, d.id)
          const command = this.getCommand({ userId: d.user_id }, d.command_id)
          if (command) out.push({ userId: d.user_id, command })
        }
        return out
      })
      .immediate()
  }

  recordCommandAck(actor: MachineActor, commandId: string, at: string): Api.CommandSummary | null {
    const changed = this.db
      .query(
        `UPDATE commands SET status = 'delivered', started_at = coalesce(started_at, ?), ended_at = NULL,
           error_reason = NULL, error_message = NULL
         WHERE user_id = ? AND machine_id = ? AND command_id = ? AND status IN ('queued', 'expired')`,
      )
      .run(at, actor.userId, actor.machineId, commandId)
    return changed.changes > 0 ? this.getCommand(actor, commandId) : null
  }

  recordCommandEvents(
    actor: MachineActor,
    commandId: string,
    events: readonly CommandEventInput[],
    at: string,
  ): { stored: number; command: Api.CommandSummary | null } {
    return this.db
      .transaction(() => {
        const row = this.machineRow(actor, commandId)
        if (row === null) return { stored: 0, command: null }
        const insert = this.db.query(
          "INSERT INTO command_events (command_row, event_seq, at, event) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        let stored = 0
        for (const e of events) stored += insert.run(row.id, e.eventSeq, at, JSON.stringify(e.event)).changes
        const update = eventsUpdate(row, factsOfEvents(events), at)
        if (update === null) return { stored, command: null }
        this.db
          .query(
            `UPDATE commands SET status = ?, started_at = ?, ended_at = ?, error_reason = ?, error_message = ?,
               session_id = ?, cost_usd = ? WHERE id = ?`,
          )
          .run(
            update.status,
            update.started_at,
            update.ended_at,
            update.error_reason,
            update.error_message,
            update.session_id,
            update.cost_usd,
            row.id,
          )
        return { stored, command: this.getCommand(actor, commandId) }
      })
      .immediate()
  }

  recordCommandExit(actor: MachineActor, exit: Commands.CommandExit, at: string): Api.CommandSummary | null {
    const c = exitColumns(exit)
    const changed = this.db
      .query(
        `UPDATE commands SET status = ?, exit_code = ?, session_id = coalesce(?, session_id),
           started_at = coalesce(started_at, ?), ended_at = ?, error_reason = ?, error_message = ?
         WHERE user_id = ? AND machine_id = ? AND command_id = ? AND status IN ${OPEN_STATUSES_SQL}`,
      )
      .run(
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
      )
    return changed.changes > 0 ? this.getCommand(actor, exit.commandId) : null
  }

  cancelQueuedCommand(actor: Actor, commandId: string, at: string): Api.CommandSummary | null {
    const changed = this.db
      .query(
        `UPDATE commands SET status = 'cancelled', ended_at = ?
         WHERE user_id = ? AND command_id = ? AND status = 'queued'`,
      )
      .run(at, actor.userId, commandId)
    return changed.changes > 0 ? this.getCommand(actor, commandId) : null
  }

  private rowId(userId: number, commandId: string): number | null {
    const row = this.db
      .query("SELECT id FROM commands WHERE user_id = ? AND command_id = ?")
      .get(userId, commandId) as {
      id: number
    } | null
    return row?.id ?? null
  }

  /** The command's row if it was asked of this machine. */
  private machineRow(actor: MachineActor, commandId: string): EventTarget | null {
    return this.db
      .query(`SELECT ${EVENT_TARGET_COLUMNS} FROM commands WHERE user_id = ? AND machine_id = ? AND command_id = ?`)
      .get(actor.userId, actor.machineId, commandId) as EventTarget | null
  }
}
