/**
 * Remote commands on MySQL, MariaDB and PlanetScale (`CommandStore`); the rules they share with SQLite
 * are `../command-rows.ts`. Every statement is one round trip (an HTTP request on PlanetScale), so
 * events of one message are written in one multi-row INSERT.
 */
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
import type { MysqlClient, MysqlQueryable, SqlValue } from "./client.ts"

const SELECT = `SELECT ${COMMAND_COLUMNS} FROM commands c JOIN machines m ON m.id = c.machine_id`

/** Drivers differ on numbers (BIGINT as string, DOUBLE as string over HTTP): one shape for the rules. */
const numeric = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))
const commandRow = (r: CommandRow): CommandRow => ({
  ...r,
  exit_code: numeric(r.exit_code),
  cost_usd: numeric(r.cost_usd),
})

export class MysqlCommands implements CommandStore {
  constructor(private readonly client: MysqlClient) {}

  async setMachineRemote(actor: MachineActor, remote: Sync.RemoteCapabilities): Promise<void> {
    await this.client.query(
      `INSERT INTO machine_remote (machine_id, user_id, enabled, max_concurrent, max_prompt_bytes, sandbox, updated_at)
       SELECT id, user_id, ?, ?, ?, ?, ? FROM machines WHERE id = ? AND user_id = ?
       ON DUPLICATE KEY UPDATE enabled = VALUES(enabled), max_concurrent = VALUES(max_concurrent),
         max_prompt_bytes = VALUES(max_prompt_bytes), sandbox = VALUES(sandbox), updated_at = VALUES(updated_at)`,
      [
        remote.enabled ? 1 : 0,
        remote.maxConcurrent,
        remote.maxPromptBytes,
        remote.sandbox ? 1 : 0,
        new Date().toISOString(),
        actor.machineId,
        actor.userId,
      ],
    )
  }

  async getMachineRemote(actor: Actor, machineUid: string): Promise<MachineRemote | null> {
    const { rows } = await this.client.query<{
      id: number
      machine_uid: string
      online: number
      enabled: number | null
      max_concurrent: number | null
      max_prompt_bytes: number | null
      sandbox: number | null
    }>(
      `SELECT m.id, m.machine_uid, m.online, r.enabled, r.max_concurrent, r.max_prompt_bytes, r.sandbox
       FROM machines m LEFT JOIN machine_remote r ON r.machine_id = m.id
       WHERE m.user_id = ? AND m.machine_uid = ? AND m.revoked_at IS NULL`,
      [actor.userId, machineUid],
    )
    const row = rows[0]
    if (!row) return null
    return {
      machineId: Number(row.id),
      machineUid: row.machine_uid,
      online: Number(row.online) === 1,
      remote:
        row.enabled === null
          ? null
          : {
              enabled: Number(row.enabled) === 1,
              maxConcurrent: Number(row.max_concurrent ?? 0),
              maxPromptBytes: Number(row.max_prompt_bytes ?? 0),
              sandbox: Number(row.sandbox) === 1,
            },
    }
  }

  async createCommand(actor: Actor, machineUid: string, command: NewCommand): Promise<Api.CommandSummary | null> {
    const inserted = await this.client.query(
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
    if (inserted.affectedRows === 0) return null
    return this.getCommand(actor, command.commandId)
  }

  async getCommand(
    actor: Actor,
    commandId: string,
    q: MysqlQueryable = this.client,
  ): Promise<Api.CommandSummary | null> {
    const { rows } = await q.query<CommandRow>(`${SELECT} WHERE c.user_id = ? AND c.command_id = ?`, [
      actor.userId,
      commandId,
    ])
    return rows[0] ? summaryOf(commandRow(rows[0])) : null
  }

  async listCommands(actor: Actor, query: CommandQuery): Promise<Api.CommandSummary[]> {
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
    const limit = Math.min(Math.max(query.limit ?? 100, 1), MAX_COMMAND_PAGE)
    const { rows } = await this.client.query<CommandRow>(
      `${SELECT} WHERE ${where.join(" AND ")} ORDER BY c.id DESC LIMIT ${limit}`,
      params,
    )
    return rows.map((r) => summaryOf(commandRow(r)))
  }

  async listCommandEvents(
    actor: Actor,
    commandId: string,
    afterEventSeq: number,
    limit: number,
  ): Promise<Api.CommandEventDto[] | null> {
    const found = await this.client.query<{ id: number }>(
      "SELECT id FROM commands WHERE user_id = ? AND command_id = ?",
      [actor.userId, commandId],
    )
    const id = found.rows[0]?.id
    if (id === undefined) return null
    const n = Math.min(Math.max(limit, 1), 10_000)
    const { rows } = await this.client.query<{ event_seq: number; at: string; event: string }>(
      `SELECT event_seq, at, event FROM command_events WHERE command_row = ? AND event_seq > ? ORDER BY event_seq LIMIT ${n}`,
      [id, afterEventSeq],
    )
    return rows.map((r) => ({ eventSeq: Number(r.event_seq), at: r.at, event: JSON.parse(String(r.event)) }))
  }

  async countActiveCommands(actor: Actor, machineUid: string): Promise<number> {
    const { rows } = await this.client.query<{ n: number }>(
      `SELECT count(*) AS n FROM commands c JOIN machines m ON m.id = c.machine_id
       WHERE c.user_id = ? AND m.machine_uid = ? AND c.status IN ${ACTIVE_STATUSES_SQL}`,
      [actor.userId, machineUid],
    )
    return Number(rows[0]?.n ?? 0)
  }

  async undeliveredCommands(actor: MachineActor, now: string): Promise<Commands.Command[]> {
    const { rows } = await this.client.query<{ request: string }>(
      `SELECT request FROM commands WHERE user_id = ? AND machine_id = ? AND status = 'queued' AND expires_at > ?
       ORDER BY id`,
      [actor.userId, actor.machineId, now],
    )
    return rows.map((r) => JSON.parse(String(r.request)) as Commands.Command)
  }

  async expireCommands(now: string): Promise<{ userId: number; command: Api.CommandSummary }[]> {
    return this.client.transaction(async (q) => {
      const due = await q.query<{ id: number; user_id: number; command_id: string }>(
        "SELECT id, user_id, command_id FROM commands WHERE status = 'queued' AND expires_at <= ? FOR UPDATE",
        [now],
      )
      if (due.rows.length === 0) return []
      const ids = due.rows.map((d) => Number(d.id))
      await q.query(
        `UPDATE commands SET status = 'expired', ended_at = ?, error_reason = 'expired', error_message = ?
         WHERE status = 'queued' AND id IN (${ids.map(() => "?").join(", ")})`,
        [now, EXPIRED_MESSAGE, ...ids],
      )
      const out: { userId: number; command: Api.CommandSummary }[] = []
      for (const d of due.rows) {
        const userId = Number(d.user_id)
        const command = await this.getCommand({ userId }, d.command_id, q)
        if (command) out.push({ userId, command })
      }
      return out
    })
  }

  async recordCommandAck(actor: MachineActor, commandId: string, at: string): Promise<Api.CommandSummary | null> {
    const changed = await this.client.query(
      `UPDATE commands SET status = 'delivered', started_at = coalesce(started_at, ?), ended_at = NULL,
         error_reason = NULL, error_message = NULL
       WHERE user_id = ? AND machine_id = ? AND command_id = ? AND status IN ('queued', 'expired')`,
      [at, actor.userId, actor.machineId, commandId],
    )
    return changed.affectedRows > 0 ? this.getCommand(actor, commandId) : null
  }

  async recordCommandEvents(
    actor: MachineActor,
    commandId: string,
    events: readonly CommandEventInput[],
    at: string,
  ): Promise<{ stored: number; command: Api.CommandSummary | null }> {
    return this.client.transaction(async (q) => {
      const found = await q.query<EventTarget>(
        `SELECT ${EVENT_TARGET_COLUMNS} FROM commands WHERE user_id = ? AND machine_id = ? AND command_id = ? FOR UPDATE`,
        [actor.userId, actor.machineId, commandId],
      )
      const row = found.rows[0]
      if (!row) return { stored: 0, command: null }
      let stored = 0
      if (events.length > 0) {
        const inserted = await q.query(
          `INSERT IGNORE INTO command_events (command_row, event_seq, at, event) VALUES ${events.map(() => "(?, ?, ?, ?)").join(", ")}`,
          events.flatMap((e) => [row.id, e.eventSeq, at, JSON.stringify(e.event)]),
        )
        stored = inserted.affectedRows
      }
      const update = eventsUpdate(row, factsOfEvents(events), at)
      if (update === null) return { stored, command: null }
      await q.query(
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
      return { stored, command: await this.getCommand(actor, commandId, q) }
    })
  }

  async recordCommandExit(
    actor: MachineActor,
    exit: Commands.CommandExit,
    at: string,
  ): Promise<Api.CommandSummary | null> {
    const c = exitColumns(exit)
    const changed = await this.client.query(
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
    return changed.affectedRows > 0 ? this.getCommand(actor, exit.commandId) : null
  }

  async cancelQueuedCommand(actor: Actor, commandId: string, at: string): Promise<Api.CommandSummary | null> {
    const changed = await this.client.query(
      "UPDATE commands SET status = 'cancelled', ended_at = ? WHERE user_id = ? AND command_id = ? AND status = 'queued'",
      [at, actor.userId, commandId],
    )
    return changed.affectedRows > 0 ? this.getCommand(actor, commandId) : null
  }
}
