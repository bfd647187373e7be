/**
 * The change feed on MySQL, MariaDB and PlanetScale (`../change-feed-query.ts`), one await per
 * statement.
 *
 * Each statement runs alone (autocommit), so each sees what is committed at that moment: the counter
 * row is locked from a group's seq allocation to its commit, so when it reads N, every seq up to N is
 * committed or was given up with a rolled-back group.
 */
import { changeFeedOn } from "../change-feed-query.ts"
import { runAsync } from "../ingest/steps.ts"
import type { MysqlClient } from "./client.ts"
import { mysqlQueryDialect } from "./query-dialect.ts"

export class MysqlChangeFeed extends changeFeedOn<"async">(runAsync) {
  constructor(client: MysqlClient) {
    super(mysqlQueryDialect(client), "SELECT value AS position FROM counters WHERE name = 'seq'")
  }
}
