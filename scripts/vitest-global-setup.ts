/** Every suite runs the daemon as users do, from the bundle: build it once, from the current sources. */
import { type MariaDb, startMariaDb, TEST_MARIADB_ENV } from "../packages/testkit/src/mariadb.ts"
import { buildDaemon } from "./build-daemon.ts"

let mariaDb: MariaDb | undefined

export async function setup(): Promise<void> {
  await buildDaemon()
  // One MariaDB for the whole suite (data dir under the OS temp dir, a free port, ~1-2 s to start):
  // test files reach it with `testMariaDb()` and each makes its own databases. Without mariadbd this
  // fails and says how to install it; the MySQL and PlanetScale engines are never skipped silently.
  mariaDb = await startMariaDb()
  const { host, port, user, password } = mariaDb
  process.env[TEST_MARIADB_ENV] = JSON.stringify({ host, port, user, password })
}

export async function teardown(): Promise<void> {
  await mariaDb?.destroy()
}
