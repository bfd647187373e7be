import type { Database } from "bun:sqlite"
import type { Sync } from "@overlord/protocol"
import type { Actor } from "../store.ts"

/**
 * Child machines on SQLite (`machine_parents`, migration 12): `adoptChildMachine` of the `Store`.
 * One IMMEDIATE transaction, so two hellos of the same child cannot both insert it.
 */
export function adoptChildMachine(
  db: Database,
  actor: Actor,
  parentUid: string,
  childUid: string,
  name: string,
  kind: Sync.MachineParent["kind"],
): boolean {
  if (parentUid === childUid) return false
  return db
    .transaction(() => {
      const parent = db
        .query("SELECT id FROM machines WHERE user_id = ? AND machine_uid = ? AND revoked_at IS NULL")
        .get(actor.userId, parentUid) as { id: number } | null
      if (!parent) return false
      const child = db
        .query(
          `SELECT m.id, m.revoked_at, p.parent_machine_id, p.kind FROM machines m
           LEFT JOIN machine_parents p ON p.machine_id = m.id WHERE m.user_id = ? AND m.machine_uid = ?`,
        )
        .get(actor.userId, childUid) as {
        id: number
        revoked_at: string | null
        parent_machine_id: number | null
        kind: string | null
      } | null
      if (child) return child.revoked_at === null && child.parent_machine_id === parent.id && child.kind === kind
      const at = new Date().toISOString()
      const row = db
        .query("INSERT INTO machines (user_id, machine_uid, name, created_at) VALUES (?, ?, ?, ?) RETURNING id")
        .get(actor.userId, childUid, name, at) as { id: number }
      db.query("INSERT INTO machine_parents (machine_id, user_id, parent_machine_id, kind) VALUES (?, ?, ?, ?)").run(
        row.id,
        actor.userId,
        parent.id,
        kind,
      )
      return true
    })
    .immediate()
}
