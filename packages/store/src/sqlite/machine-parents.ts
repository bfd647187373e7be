import type { Database } from "bun:sqlite"
import type { Sync } from "@overlord/protocol"
import { runSync } from "../ingest/steps.ts"
import { adoptChildMachine as adoptChildMachineQuery } from "../machine-queries.ts"
import type { Actor } from "../store.ts"
import { sqliteQueryDialect } from "./query-dialect.ts"

/**
 * Child machines on SQLite (`machine_parents`, migration 12): `adoptChildMachine` of the `Store`, the
 * query of `../machine-queries.ts` in one IMMEDIATE transaction (two hellos of one child cannot both insert it).
 */
export function adoptChildMachine(
  db: Database,
  actor: Actor,
  parentUid: string,
  childUid: string,
  name: string,
  kind: Sync.MachineParent["kind"],
): boolean {
  return runSync(adoptChildMachineQuery(sqliteQueryDialect(db), actor, parentUid, childUid, name, kind))
}
