/**
 * Remote commands on MySQL, MariaDB and PlanetScale (`CommandStore`): the queries of
 * `../command-queries.ts`, one await per statement.
 */
import { commandStoreOn } from "../command-queries.ts"
import { runAsync } from "../ingest/steps.ts"
import type { CommandStore } from "../store.ts"
import type { MysqlClient } from "./client.ts"
import { mysqlQueryDialect } from "./query-dialect.ts"

export class MysqlCommands extends commandStoreOn<"async">(runAsync) implements CommandStore {
  constructor(client: MysqlClient) {
    super(mysqlQueryDialect(client))
  }
}
