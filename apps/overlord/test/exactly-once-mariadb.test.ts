/**
 * Exactly-once sync on the MariaDB engine: a standalone `overlord serve --database-url mysql://…` on a
 * private MariaDB of this file's own (it is killed here), through every case of the SQLite run
 * (`support/exactly-once-suite.ts`), plus the database itself SIGKILLed and restarted under a
 * backfill: the server answers the daemon "retry later" (close 1013) while it is down, the daemon keeps
 * its bytes, and once InnoDB has recovered every file's export equals its bytes.
 */
import { type MariaDb, startMariaDb } from "@overlord/testkit/mariadb"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { rng, startWriter } from "./support/corpus.ts"
import {
  CHUNK,
  describeExactlyOnce,
  diskBytes,
  makeWorld,
  SEED,
  verifyExactlyOnce,
  waitSyncing,
} from "./support/exactly-once-suite.ts"
import { logTail, sleep, startDaemon, waitFor } from "./support/harness.ts"
import { mariaDatabase } from "./support/server-database.ts"

let maria: MariaDb

beforeAll(async () => {
  maria = await startMariaDb()
}, 120_000)

afterAll(async () => {
  await maria?.destroy()
})

const makeDatabase = () => mariaDatabase(maria)

describeExactlyOnce("MariaDB", makeDatabase, { lineLogCut: false })

describe(`exactly once on MariaDB, the database killed (seed ${SEED})`, () => {
  it("survives MariaDB being SIGKILLed and restarted mid-stream, the server staying up", async () => {
    const w = await makeWorld(makeDatabase, SEED + 50, { mainFiles: 24, hugeMegabytes: 1 })
    const r = rng(SEED + 51)
    const writer = startWriter(w.corpus, SEED + 52)
    const d = startDaemon({ home: w.home, claudeDir: w.claudeDir, serverUrl: w.server.url, chunkBytes: CHUNK })
    await waitSyncing(d)
    const KILLS = 3
    let midStream = 0
    const progress: number[] = []
    for (let i = 0; i < KILLS; i++) {
      const start = await w.db.storedBytes()
      await waitFor("the daemon to store more bytes", async () => (await w.db.storedBytes()) > start, {
        timeoutMs: 60_000,
        describe: () => `${d.tail()}\n${logTail(w.home)}\n${w.server.proc.tail()}`,
      })
      await sleep(r.int(100, 600))
      await maria.kill()
      // Down for a while: the daemon's appends are answered "retry later" and it backs off.
      await sleep(r.int(500, 2_000))
      await maria.restart()
      const atRestart = await w.db.storedBytes()
      progress.push(atRestart)
      if (atRestart < diskBytes(w)) midStream += 1
    }
    console.log(
      `[database kills] seed ${SEED + 50}: stored bytes at each of ${KILLS} restarts: ${progress.join(", ")} (disk ${diskBytes(w)})`,
    )
    expect(midStream).toBeGreaterThanOrEqual(2)
    await sleep(500)
    await writer.stop()
    await verifyExactlyOnce(w, d, 30)
    // The same server process throughout: it rode out the outages rather than dying with them.
    expect(w.server.proc.running).toBe(true)
    expect(logTail(w.home, 500_000)).toMatch(/retry later/)
  }, 180_000)
})
