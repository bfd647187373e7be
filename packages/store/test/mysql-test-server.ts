/**
 * The MariaDB server the MySQL engine's tests use: the suite's shared one when the global setup
 * started it, else one of this test file's own (stopped when the file ends).
 */
import {
  type MariaDb,
  type MariaDbClient,
  startMariaDb,
  TEST_MARIADB_ENV,
  testMariaDb,
} from "@overlord/testkit/mariadb"
import { afterAll } from "vitest"

let own: Promise<MariaDb> | undefined

afterAll(async () => {
  if (own) await (await own).destroy()
})

export function mariaDbForTests(): Promise<MariaDbClient> {
  if (process.env[TEST_MARIADB_ENV]) return Promise.resolve(testMariaDb())
  own ??= startMariaDb()
  return own
}
