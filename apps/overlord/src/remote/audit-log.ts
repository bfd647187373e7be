/**
 * The remote commands' audit log (`<home>/remote/audit.jsonl`): one JSON line for every command
 * received, started, refused, cancelled, interrupted or ended, and every permission asked and
 * answered, so the laptop's owner can see what was done on their machine and at whose request (`requestedBy`,
 * when the server names the user).
 */
import { appendFileSync, mkdirSync } from "node:fs"
import { dirname } from "node:path"
import type { Logger } from "../logger.ts"

export type AuditEvent =
  | "received"
  | "duplicate"
  | "refused"
  | "started"
  | "exit"
  | "interrupted"
  /** A restarted daemon ends the process an interrupted command still ran as (`CommandRunner.open`). */
  | "ending-leftover"
  | "cancel"
  | "follow-up"
  | "permission-request"
  | "permission-answer"
  | "input-ignored"

export interface AuditRecord {
  readonly event: AuditEvent
  readonly commandId: string
  readonly [detail: string]: unknown
}

export class AuditLog {
  constructor(
    readonly path: string,
    private readonly logger: Logger,
  ) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  }

  write(record: AuditRecord): void {
    try {
      appendFileSync(this.path, `${JSON.stringify({ at: new Date().toISOString(), ...record })}\n`, { mode: 0o600 })
    } catch (error) {
      // A full disk must not stop the daemon; the log says what was lost.
      this.logger.error(`remote: audit log ${this.path}: ${String(error)}; lost ${JSON.stringify(record)}`)
    }
  }
}
