import type { Sync } from "@overlord/protocol"
import type { Actor } from "../store.ts"
import type { MysqlClient } from "./client.ts"

/**
 * Child machines on MySQL (`machine_parents`): `adoptChildMachine` of the `Store`. In one transaction;
 * the child's machine row is created with INSERT IGNORE on its unique (user, uid), so two hellos of
 * the same child racing both find the one row, and only the parent it names accepts it.
 */
export async function adoptChildMachine(
  client: MysqlClient,
  actor: Actor,
  parentUid: string,
  childUid: string,
  name: string,
  kind: Sync.MachineParent["kind"],
): Promise<boolean> {
  if (parentUid === childUid) return false
  return client.transaction(async (tx) => {
    const parent = (
      await tx.query<{ id: number }>(
        "SELECT id FROM machines WHERE user_id = ? AND machine_uid = ? AND revoked_at IS NULL",
        [actor.userId, parentUid],
      )
    ).rows[0]
    if (!parent) return false
    const existing = async () =>
      (
        await tx.query<{
          id: number
          revoked_at: string | null
          parent_machine_id: number | null
          kind: string | null
        }>(
          `SELECT m.id, m.revoked_at, p.parent_machine_id, p.kind FROM machines m
           LEFT JOIN machine_parents p ON p.machine_id = m.id WHERE m.user_id = ? AND m.machine_uid = ? FOR UPDATE`,
          [actor.userId, childUid],
        )
      ).rows[0]
    let child = await existing()
    if (!child) {
      await tx.query("INSERT IGNORE INTO machines (user_id, machine_uid, name, created_at) VALUES (?, ?, ?, ?)", [
        actor.userId,
        childUid,
        name,
        new Date().toISOString(),
      ])
      const row = (
        await tx.query<{ id: number }>("SELECT id FROM machines WHERE user_id = ? AND machine_uid = ?", [
          actor.userId,
          childUid,
        ])
      ).rows[0]!
      await tx.query(
        "INSERT IGNORE INTO machine_parents (machine_id, user_id, parent_machine_id, kind) VALUES (?, ?, ?, ?)",
        [row.id, actor.userId, parent.id, kind],
      )
      child = await existing()
    }
    return (
      child !== undefined &&
      child.revoked_at === null &&
      Number(child.parent_machine_id) === Number(parent.id) &&
      child.kind === kind
    )
  })
}
