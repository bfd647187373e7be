/**
 * Exactly-once sync, proven against real processes: a standalone `overlord serve` and an
 * `overlord start --foreground --server` daemon, each killable alone, over a corpus of several MB
 * that a writer keeps appending to. After every kind of fault, every file's export must equal its
 * bytes and the server must hold exactly one live entry per line, contiguous from byte 0.
 *
 * The cases run on each engine (`exactly-once.test.ts`: SQLite; `exactly-once-mariadb.test.ts`:
 * MariaDB), through the database handle of `server-database.ts`.
 */
import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { lineLogPath } from "@overlord/store/line-log"
import { sessionRecord } from "@overlord/testkit/bad-input"
import { afterEach, describe, expect, it } from "vitest"
import { type Corpus, realisticFile, rng, startWriter, stopAllWriters, writeCorpus } from "./corpus.ts"
import { startCutProxy } from "./cut-proxy.ts"
import {
  diskFiles,
  expectServerMatchesDisk,
  freePort,
  killAll,
  logTail,
  overlordCommand,
  type Proc,
  type Provisioned,
  readState,
  type ServerHandle,
  sleep,
  startDaemon,
  startServer,
  waitDaemonIdle,
  waitFor,
} from "./harness.ts"
import type { ServerDatabase } from "./server-database.ts"

export const SEED = Number(process.env.OVERLORD_TEST_SEED ?? Date.now() % 1_000_000)
export const CHUNK = 4096

export interface World {
  readonly dir: string
  readonly claudeDir: string
  readonly home: string
  readonly database: string
  readonly db: ServerDatabase
  readonly server: ServerHandle
  /** API access straight to the server (never through a proxy). */
  readonly api: Provisioned
  readonly corpus: Corpus
}

let cleanup: string[] = []

/** Makes the database a world's server uses (`database`: where a SQLite one would lie in the world's folder). */
export type MakeDatabase = (database: string) => Promise<ServerDatabase>

export async function makeWorld(
  makeDatabase: MakeDatabase,
  seed: number,
  options: { daemonServerUrl?: (serverPort: number) => string; mainFiles?: number; hugeMegabytes?: number } = {},
): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), "overlord-x1-"))
  cleanup.push(dir)
  const claudeDir = join(dir, "claude")
  const home = join(dir, "home")
  const database = join(dir, "server", "overlord.db")
  const corpus = writeCorpus(claudeDir, seed, {
    ...(options.mainFiles !== undefined ? { mainFiles: options.mainFiles } : {}),
    ...(options.hugeMegabytes !== undefined ? { hugeMegabytes: options.hugeMegabytes } : {}),
  })
  const port = freePort()
  const serverUrl = `http://127.0.0.1:${port}`
  const daemonUrl = options.daemonServerUrl ? options.daemonServerUrl(port) : serverUrl
  const db = await makeDatabase(database)
  const p = await db.provision(home, daemonUrl)
  const server = await startServer({ home: join(dir, "server-home"), database, port, serveArgs: db.serveArgs })
  return { dir, claudeDir, home, database, db, server, api: { ...p, serverUrl }, corpus }
}

export const diskBytes = (w: World) => diskFiles(w.claudeDir).reduce((n, f) => n + f.bytes.length, 0)

export async function waitSyncing(d: Proc): Promise<void> {
  await waitFor(
    "the daemon to start syncing",
    () => {
      if (!d.running) throw new Error(`daemon exited early (${d.exitCode ?? d.signal})\n${d.tail()}`)
      return d.output.includes("Overlord is syncing")
    },
    { timeoutMs: 20_000, intervalMs: 20 },
  )
}

/** The final proof, after the writer stopped and the daemon reported itself idle. */
export async function verifyExactlyOnce(w: World, daemon: Proc, minFiles = 40): Promise<void> {
  await waitDaemonIdle(w.home, daemon, 90_000)
  const files = await expectServerMatchesDisk(
    w.api,
    () => diskFiles(w.claudeDir),
    () => `state: ${JSON.stringify(readState(w.home))}\n${daemon.tail()}\n${logTail(w.home)}`,
    60_000,
  )
  expect(files.length).toBeGreaterThanOrEqual(minFiles)
  expect(await w.db.problems(files)).toEqual([])
  // The CLI export reproduces a main transcript and a subagent transcript byte for byte.
  const main = files.find((f) => f.agentId === null && f.bytes.length > 0)!
  const agent = files.find((f) => f.agentId !== null && f.bytes.length > 0)!
  const out = join(w.dir, "export.jsonl")
  await overlordCommand(["--home", w.home, "export", main.sessionId, "-o", out])
  expect(readFileSync(out).equals(main.bytes)).toBe(true)
  await overlordCommand(["--home", w.home, "export", agent.sessionId, "--agent", agent.agentId!, "-o", out])
  expect(readFileSync(out).equals(agent.bytes)).toBe(true)
  expect(daemon.running).toBe(true)
}

/**
 * The exactly-once cases on one engine. `lineLogCut`: at one server restart, cut the SQLite line log's
 * tail first (as a power loss may), which only the SQLite engine has.
 */
export function describeExactlyOnce(engine: string, makeDatabase: MakeDatabase, options: { lineLogCut: boolean }) {
  afterEach(async () => {
    await stopAllWriters()
    await killAll()
    for (const d of cleanup) rmSync(d, { recursive: true, force: true })
    cleanup = []
  })

  describe(`exactly once on ${engine} (seed ${SEED})`, () => {
    it("survives the daemon being SIGKILLed over and over during backfill", async () => {
      const w = await makeWorld(makeDatabase, SEED)
      const r = rng(SEED + 1)
      const writer = startWriter(w.corpus, SEED + 2)
      const KILLS = 16
      const progress: number[] = []
      let midStream = 0
      for (let i = 0; i < KILLS; i++) {
        const d = startDaemon({ home: w.home, claudeDir: w.claudeDir, serverUrl: w.server.url, chunkBytes: CHUNK })
        await waitSyncing(d)
        const before = await w.db.storedBytes()
        // Killed while bytes flow: once this daemon has stored some, after a random moment more. A fixed
        // 100-600 ms after it said it syncs was not always that on a busy machine (at load 6.5, 4 of 16
        // daemons stored nothing before their kill, and the case failed its own check below). The writer
        // keeps appending, so there is always more to store.
        await waitFor("this daemon to store bytes", async () => (await w.db.storedBytes()) > before, {
          timeoutMs: 30_000,
          intervalMs: 20,
        })
        await sleep(r.int(0, 400))
        await d.kill("SIGKILL")
        expect(d.signal).toBe("SIGKILL")
        const after = await w.db.storedBytes()
        progress.push(after)
        if (after > before && after < diskBytes(w)) midStream += 1
      }
      console.log(
        `[daemon kills] seed ${SEED}: stored bytes after each of ${KILLS} kills: ${progress.join(", ")} (disk ${diskBytes(w)}); ${midStream} mid-stream`,
      )
      // The kills must have landed while bytes were flowing, not after everything was synced.
      expect(midStream).toBeGreaterThanOrEqual(5)
      // The last run ships full-size frames: it must continue exactly where the small ones stopped,
      // even inside the ~3 MB line.
      const d = startDaemon({ home: w.home, claudeDir: w.claudeDir, serverUrl: w.server.url })
      await waitSyncing(d)
      await sleep(1000)
      const written = await writer.stop()
      expect(written).toBeGreaterThan(20)
      await verifyExactlyOnce(w, d)
    }, 150_000)

    it(`survives the server being SIGKILLed and restarted mid-stream (same port, same database)${options.lineLogCut ? ", once with its line log cut short" : ""}`, async () => {
      const w = await makeWorld(makeDatabase, SEED + 10, { mainFiles: 24, hugeMegabytes: 1 })
      const r = rng(SEED + 11)
      const writer = startWriter(w.corpus, SEED + 12)
      const d = startDaemon({ home: w.home, claudeDir: w.claudeDir, serverUrl: w.server.url, chunkBytes: CHUNK })
      await waitSyncing(d)
      const RESTARTS = 4
      let lostLogBytes = 0
      let midStream = 0
      const progress: number[] = []
      for (let i = 0; i < RESTARTS; i++) {
        const start = await w.db.storedBytes()
        // Let the daemon (re)connect and store something, then kill the server under it.
        await waitFor("the daemon to store more bytes", async () => (await w.db.storedBytes()) > start, {
          timeoutMs: 40_000,
          describe: () => `${d.tail()}\n${logTail(w.home)}\n${w.server.proc.tail()}`,
        })
        await sleep(r.int(100, 600))
        const atKill = await w.db.storedBytes()
        if (atKill < diskBytes(w)) midStream += 1
        progress.push(atKill)
        if (i === 1 && options.lineLogCut) {
          // As after a power cut that the database survived and the line log's tail did not (neither is
          // synced at each commit): the server must hand those lines back to the daemon, once each.
          await w.server.restart(() => {
            const log = lineLogPath(w.database)
            lostLogBytes = Math.min(statSync(log).size, r.int(1_000, 300_000))
            truncateSync(log, statSync(log).size - lostLogBytes)
          })
          await waitFor(
            "the server to roll back what its line log lost",
            () => w.server.proc.output.includes("rolled back"),
            {
              timeoutMs: 10_000,
              describe: () => w.server.proc.tail(),
            },
          )
        } else {
          await w.server.restart()
        }
      }
      console.log(
        `[server kills] seed ${SEED + 10}: stored bytes at each of ${RESTARTS} kills: ${progress.join(", ")} (disk ${diskBytes(w)})${options.lineLogCut ? `; line log cut by ${lostLogBytes} bytes at the second` : ""}`,
      )
      expect(midStream).toBeGreaterThanOrEqual(3)
      await sleep(500)
      await writer.stop()
      await verifyExactlyOnce(w, d, 30)
    }, 150_000)

    it("survives the WebSocket being cut again and again, once mid-frame", async () => {
      let proxy: ReturnType<typeof startCutProxy> | null = null
      const w = await makeWorld(makeDatabase, SEED + 20, {
        mainFiles: 24,
        hugeMegabytes: 1,
        daemonServerUrl: (serverPort) => {
          proxy = startCutProxy(serverPort)
          return `http://127.0.0.1:${proxy.port}`
        },
      })
      const p = proxy! as ReturnType<typeof startCutProxy>
      try {
        const r = rng(SEED + 21)
        const writer = startWriter(w.corpus, SEED + 22)
        const d = startDaemon({
          home: w.home,
          claudeDir: w.claudeDir,
          serverUrl: `http://127.0.0.1:${p.port}`,
          chunkBytes: CHUNK,
        })
        await waitSyncing(d)
        await waitFor("the daemon to sync through the proxy", async () => (await w.db.storedBytes()) > 0, {
          timeoutMs: 30_000,
          describe: () => `${d.tail()}\n${logTail(w.home)}`,
        })
        const CUTS = 14
        let dropped = 0
        let midStream = 0
        for (let i = 0; i < CUTS; i++) {
          // Each cut lands on a connection: the daemon, in its reconnect backoff after the last cut, may
          // not have one yet on a busy machine, and a cut of nothing proves nothing.
          await waitFor("a proxied connection", () => p.connections > 0, { timeoutMs: 30_000 })
          await sleep(r.int(200, 500))
          if (i === 5) {
            // Cut inside a frame.
            const withheld = await Promise.race([p.cutMidFrame(), sleep(20_000).then(() => -1)])
            expect(withheld, "no append frame to cut in the middle within 20 s").toBeGreaterThan(0)
            dropped += 1
          } else {
            dropped += p.cutAll()
          }
          if ((await w.db.storedBytes()) < diskBytes(w)) midStream += 1
        }
        console.log(
          `[cuts] seed ${SEED + 20}: ${CUTS} cuts dropped ${dropped} connections; ${p.accepted} accepted; ${midStream} mid-stream`,
        )
        expect(dropped).toBeGreaterThanOrEqual(CUTS / 2)
        expect(midStream).toBeGreaterThanOrEqual(5)
        await writer.stop()
        // The daemon keeps syncing through the proxy; the checks (CLI and API) talk to the server itself.
        const credsPath = join(w.home, "credentials.json")
        const creds = JSON.parse(readFileSync(credsPath, "utf8")) as Record<string, string>
        writeFileSync(credsPath, JSON.stringify({ ...creds, serverUrl: w.server.url }), { mode: 0o600 })
        await verifyExactlyOnce(w, d, 30)
      } finally {
        p.stop()
      }
    }, 150_000)

    it("re-reads replaced and shrunk files, live and across a daemon restart", async () => {
      const w = await makeWorld(makeDatabase, SEED + 30, { mainFiles: 14, hugeMegabytes: 0 })
      const r = rng(SEED + 31)
      let d = startDaemon({ home: w.home, claudeDir: w.claudeDir, serverUrl: w.server.url, chunkBytes: CHUNK })
      await waitSyncing(d)
      await verifyExactlyOnce(w, d, 20)
      const mains = diskFiles(w.claudeDir).filter((f) => f.agentId === null && f.lines >= 8)
      expect(mains.length).toBeGreaterThanOrEqual(7)
      const [a, b, c, dd, e, f, g] = mains as [
        (typeof mains)[0],
        (typeof mains)[0],
        (typeof mains)[0],
        (typeof mains)[0],
        (typeof mains)[0],
        (typeof mains)[0],
        (typeof mains)[0],
      ]
      const lineEnds = (bytes: Buffer) => {
        const ends: number[] = []
        for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) ends.push(i + 1)
        return ends
      }
      /** A new inode at the same path: write a temp file, rename it over. */
      const replace = (path: string, content: Buffer) => {
        writeFileSync(`${path}.tmp`, content)
        renameSync(`${path}.tmp`, path)
      }
      const shorterDifferent = (file: typeof a) => {
        const content = realisticFile(r, file.sessionId, 3)
        return content.length < file.bytes.length ? content : content.subarray(0, Math.floor(file.bytes.length / 2))
      }

      // Live: the daemon sees these happen.
      replace(a.path, shorterDifferent(a))
      truncateSync(b.path, Math.floor(b.bytes.length / 2)) // in place, mid-line
      const cEnds = lineEnds(c.bytes)
      replace(
        c.path,
        Buffer.concat([c.bytes.subarray(0, cEnds[2]!), Buffer.from('{"type":"user","note":"different"}\n')]),
      )
      await verifyExactlyOnce(w, d, 20)

      // Across a restart: the daemon is killed first, so only the welcome check can notice.
      await d.kill("SIGKILL")
      replace(dd.path, shorterDifferent(dd))
      truncateSync(e.path, lineEnds(e.bytes)[3]!)
      // Rewritten in place (same inode) and grown past the old offset: only the tail check sees it.
      truncateSync(f.path, lineEnds(f.bytes)[1]!)
      while (readFileSync(f.path).length <= f.bytes.length) appendFileSync(f.path, realisticFile(r, f.sessionId, 2))
      // Replaced by a longer file with the same first lines: the identity check sees it.
      replace(g.path, Buffer.concat([g.bytes.subarray(0, lineEnds(g.bytes)[4]!), realisticFile(r, g.sessionId, 30)]))
      d = startDaemon({ home: w.home, claudeDir: w.claudeDir, serverUrl: w.server.url, chunkBytes: CHUNK })
      await waitSyncing(d)
      await verifyExactlyOnce(w, d, 20)
      expect(logTail(w.home, 200_000)).toMatch(/re-reading .* the file was (shrunk|replaced|rewritten)/)
    }, 150_000)

    it("drops stale lines when a file shrinks again while it is re-read after a reset", async () => {
      const w = await makeWorld(makeDatabase, SEED + 40, { mainFiles: 3, hugeMegabytes: 0 })
      // A big file of many short lines (each fits in a frame, so the re-read keeps matching the stored
      // lines), so re-reading it takes a while at 4 KiB per frame.
      const sid = crypto.randomUUID()
      const path = join(w.corpus.projectsDir, w.corpus.projects[0]!, `${sid}.jsonl`)
      // The cuts must land while the file is re-read: 4 KiB frames, 64 in flight, and 12,000 lines
      // (3 MB). With the daemon's 256-frame window and 6,000 lines, a re-read once got past the
      // middle before the SIGKILL landed (offset 1,040,178 of a cut at 761,614).
      writeFileSync(path, Array.from({ length: 12_000 }, (_, i) => `${sessionRecord(sid, i)}\n`).join(""))
      const slow = { chunkBytes: CHUNK, window: 64 }
      const d = startDaemon({ home: w.home, claudeDir: w.claudeDir, serverUrl: w.server.url, ...slow })
      await waitSyncing(d)
      await verifyExactlyOnce(w, d, 5)
      const fileKey = `${w.corpus.projects[0]}/${sid}.jsonl`
      const generation = async () => (await w.db.fileCursor(fileKey))!.generation
      /** Replaced by the same lines minus the last: the server keeps the lines and the daemon re-reads. */
      const replaceByPrefix = async () => {
        const now = readFileSync(path)
        const ends: number[] = []
        for (let i = 0; i < now.length; i++) if (now[i] === 0x0a) ends.push(i + 1)
        const g0 = await generation()
        writeFileSync(`${path}.tmp`, now.subarray(0, ends[ends.length - 2]!))
        renameSync(`${path}.tmp`, path)
        await waitFor("the reset to reach the server", async () => (await generation()) > g0, {
          timeoutMs: 20_000,
          intervalMs: 5,
        })
        return ends
      }
      const serverAt = async () => (await w.db.fileCursor(fileKey))!

      // Live: while it is being re-read, the file is cut to half in place.
      let ends = await replaceByPrefix()
      let half = ends[Math.floor(ends.length / 2)]!
      truncateSync(path, half)
      let at = await serverAt()
      console.log(
        `[re-read, live] cut to ${half}; the server was at offset ${at.offset}, stored lines to ${at.live_end}`,
      )
      expect(at.offset < half && at.live_end > half, "the cut must land while the file is re-read").toBe(true)
      await verifyExactlyOnce(w, d, 5)

      // Across a restart: the daemon dies mid re-read, the file shrinks while it is down.
      ends = await replaceByPrefix()
      await d.kill("SIGKILL")
      half = ends[Math.floor(ends.length / 2)]!
      at = await serverAt()
      truncateSync(path, half)
      console.log(
        `[re-read, restart] cut to ${half}; the server was at offset ${at.offset}, stored lines to ${at.live_end}`,
      )
      expect(at.offset < half && at.live_end > half, "the daemon must die while the file is re-read").toBe(true)
      const d2 = startDaemon({ home: w.home, claudeDir: w.claudeDir, serverUrl: w.server.url, ...slow })
      await waitSyncing(d2)
      await verifyExactlyOnce(w, d2, 5)
    }, 120_000)
  })
}
