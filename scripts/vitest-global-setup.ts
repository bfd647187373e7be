/** Every suite runs the daemon as users do, from the bundle: build it once, from the current sources. */
import { type MariaDb, startMariaDb, TEST_MARIADB_ENV } from "../packages/testkit/src/mariadb.ts"
import { ensureWordVectorsCache } from "../packages/testkit/src/word-vectors.ts"
import { buildDaemon } from "./build-daemon.ts"

let mariaDb: MariaDb | undefined

export async function setup(): Promise<void> {
  await buildDaemon()
  // The fake Ollama's word vectors: on a fresh machine their cache is built from a 307 MB JSON, once,
  // here, not by whichever test first asks for an embedding, in its own thread (6 s and more under
  // load: a server under test beside it timed out on Ollama; word-vectors.ts says more).
  ensureWordVectorsCache()
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
