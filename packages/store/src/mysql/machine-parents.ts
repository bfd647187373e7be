import type { Sync } from "@overlord/protocol"
import { runAsync } from "../ingest/steps.ts"
import { adoptChildMachine as adoptChildMachineQuery } from "../machine-queries.ts"
import type { Actor } from "../store.ts"
import type { MysqlClient } from "./client.ts"
import { mysqlQueryDialect } from "./query-dialect.ts"

/**
 * Child machines on MySQL (`machine_parents`): `adoptChildMachine` of the `Store`, the query of
 * `../machine-queries.ts` in one transaction (its rows locked, inserts ignoring a taken key: two hellos of
 * the same child racing both find the one row, and only the parent it names accepts it).
 */
export function adoptChildMachine(
  client: MysqlClient,
  actor: Actor,
  parentUid: string,
  childUid: string,
  name: string,
  kind: Sync.MachineParent["kind"],
): Promise<boolean> {
  return runAsync(adoptChildMachineQuery(mysqlQueryDialect(client), actor, parentUid, childUid, name, kind))
}
