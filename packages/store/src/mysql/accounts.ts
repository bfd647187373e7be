/**
 * Users, tokens, links, device codes and shares on MySQL, MariaDB and PlanetScale (`AccountStore`): the
 * queries of `../account-queries.ts`, one await per statement. Where two servers could race (a link used
 * twice, a device code polled twice) one statement or a `FOR UPDATE` row lock decides.
 */
import { accountStoreOn } from "../account-queries.ts"
import { runAsync } from "../ingest/steps.ts"
import type { AccountStore } from "../store.ts"
import type { MysqlClient } from "./client.ts"
import { mysqlQueryDialect } from "./query-dialect.ts"

export class MysqlAccounts extends accountStoreOn<"async">(runAsync) implements AccountStore {
  constructor(client: MysqlClient) {
    super(mysqlQueryDialect(client))
  }
}
