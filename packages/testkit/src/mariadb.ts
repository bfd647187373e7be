/**
 * A private MariaDB server for tests: its own data dir, port and socket, never the system service.
 *
 * Start-up cost, measured on the 2-core test machine (MariaDB 10.11.19, Debian 12): `mariadb-install-db`
 * 0.8 s idle, ~2 s while other suites load the machine; `mariadbd` then accepts connections in ~0.15 s,
 * and a restart after SIGKILL (crash recovery) takes ~0.3 s. So `startMariaDb()` costs 1-4 s, once
 * per suite: one server serves the whole main suite (`scripts/vitest-global-setup.ts`), each test file
 * makes its own databases (`createDatabase`), and only crash tests, which kill the server, start one
 * of their own.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import mysql from "mysql2/promise"

export const MARIADBD = "/usr/sbin/mariadbd"
export const MARIADB_INSTALL_DB = "/usr/bin/mariadb-install-db"

/** The environment variable through which the global setup hands its server to test files (JSON of `MariaDbFacts`). */
export const TEST_MARIADB_ENV = "OVERLORD_TEST_MARIADB"

/** How to reach a running server: what a test needs, and what can cross a process or thread boundary. */
export interface MariaDbFacts {
  readonly host: string
  readonly port: number
  /** A user with every privilege, defined for `%` and `localhost`, with a password (URL-safe). */
  readonly user: string
  readonly password: string
}

export interface MariaDbClient extends MariaDbFacts {
  /** `mysql://user:password@host:port/database` */
  readonly url: (database: string) => string
  /** Creates a database (utf8mb4) and returns its name; without a name, a random `test_<hex>` one. */
  readonly createDatabase: (name?: string) => Promise<string>
}

export interface MariaDb extends MariaDbClient {
  /** The data dir (also holds `sock`, `pid` and `error.log`). */
  readonly dir: string
  /** Shuts the server down cleanly (SIGTERM, waits for exit). The data stays, so `restart` can follow. */
  readonly stop: () => Promise<void>
  /** SIGKILL, for crash tests: InnoDB recovers at the next `restart`. */
  readonly kill: () => Promise<void>
  /** Starts the server again on the same data dir and port (stops it first if it runs). */
  readonly restart: () => Promise<void>
  /** Stops the server and deletes the data dir if `startMariaDb` created it. */
  readonly destroy: () => Promise<void>
}

export interface StartMariaDbOptions {
  /** Data dir; created (and initialised if empty) when missing. Default: a new dir under the OS temp dir. */
  readonly dir?: string
  /** Default: a free port. */
  readonly port?: number
}

export class MariaDbNotInstalled extends Error {
  constructor() {
    super(
      `MariaDB's server is not installed (${MARIADBD}, ${MARIADB_INSTALL_DB}): run \`bash scripts/bootstrap.sh --test\` (CI installs it)`,
    )
    this.name = "MariaDbNotInstalled"
  }
}

const TEST_USER = "overlord"

/**
 * Server settings for a test database: small and quick rather than durable against power loss.
 * `innodb_flush_log_at_trx_commit=2` writes the log at each commit but syncs it once a second, which
 * still survives a killed server (the crash tests' case); the packet size fits the 64 MiB request
 * PlanetScale accepts; the connection limit covers the PlanetScale bridge's one connection per session.
 *
 * Benchmarks (`scripts/bench/engines*.ts`) use this server too. Against MariaDB 10.11's defaults (Debian
 * 12 keeps them) and a real deployment: the buffer pool (64 MB; default 128 MB, a database host gives it
 * gigabytes) and the redo log (32 MB; default 96 MB) are smaller, which costs MariaDB once a benchmark's
 * data outgrows the pool (the 293 MB history corpus's raw line bytes made 366 MB of InnoDB data; a 1 GB
 * pool and 512 MB redo log changed nothing on the 110 MB corpus); `flush_log_at_trx_commit=2` keeps what
 * SQLite's WAL with `synchronous=NORMAL` keeps (a killed server loses nothing, a power cut may lose the
 * last commits); doublewrite off is less than that (a power cut may tear a page) and spares MariaDB the
 * second write of each page, so it flatters MariaDB, not SQLite. It is read-only at run time.
 */
const SERVER_SETTINGS = [
  "--innodb-buffer-pool-size=64M",
  "--innodb-log-file-size=32M",
  "--innodb-flush-log-at-trx-commit=2",
  "--innodb-doublewrite=0",
  "--innodb-buffer-pool-load-at-startup=0",
  "--innodb-buffer-pool-dump-at-shutdown=0",
  "--max-allowed-packet=64M",
  "--max-connections=500",
  // `--no-defaults` would leave latin1: use what PlanetScale and Debian's config use, utf8mb4.
  "--character-set-server=utf8mb4",
  "--collation-server=utf8mb4_unicode_ci",
]

const runAsRoot = (): readonly string[] => (process.getuid?.() === 0 ? ["--user=root"] : [])

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

async function logTail(path: string, lines = 30): Promise<string> {
  try {
    return (await readFile(path, "utf8")).split("\n").slice(-lines).join("\n")
  } catch (e) {
    return `(no log at ${path}: ${String(e)})`
  }
}

function run(cmd: string, args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (b: Buffer) => {
      output += b.toString()
    })
    child.stderr.on("data", (b: Buffer) => {
      output += b.toString()
    })
    child.once("error", reject)
    child.once("exit", (code) => resolve({ code, output }))
  })
}

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once("exit", () => resolve()))

const quoteIdentifier = (name: string): string => `\`${name.replaceAll("`", "``")}\``

/** A client over a running server: URLs and databases. Used by test files with the global server's facts. */
export function mariaDbClient(facts: MariaDbFacts): MariaDbClient {
  return {
    ...facts,
    url: (database) =>
      `mysql://${encodeURIComponent(facts.user)}:${encodeURIComponent(facts.password)}@${facts.host}:${facts.port}/${encodeURIComponent(database)}`,
    createDatabase: async (name) => {
      const database = name ?? `test_${randomBytes(6).toString("hex")}`
      const { host, port, user, password } = facts
      const conn = await mysql.createConnection({ host, port, user, password })
      try {
        await conn.query(
          `CREATE DATABASE ${quoteIdentifier(database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
        )
      } finally {
        await conn.end()
      }
      return database
    },
  }
}

/**
 * The main suite's shared server (started by `scripts/vitest-global-setup.ts`). Each test file should
 * make its own databases with `createDatabase()` so files can run in parallel.
 */
export function testMariaDb(): MariaDbClient {
  const raw = process.env[TEST_MARIADB_ENV]
  if (raw === undefined || raw === "") {
    if (!existsSync(MARIADBD)) throw new MariaDbNotInstalled()
    throw new Error(
      `${TEST_MARIADB_ENV} is not set: run tests through vitest's config (its global setup starts MariaDB), or start one with startMariaDb()`,
    )
  }
  let facts: MariaDbFacts
  try {
    facts = JSON.parse(raw) as MariaDbFacts
  } catch (cause) {
    throw new Error(`${TEST_MARIADB_ENV} is not JSON: ${raw}`, { cause })
  }
  return mariaDbClient(facts)
}

/** Starts a private MariaDB; resolves once it accepts connections from the test user. */
export async function startMariaDb(options: StartMariaDbOptions = {}): Promise<MariaDb> {
  if (!existsSync(MARIADBD) || !existsSync(MARIADB_INSTALL_DB)) throw new MariaDbNotInstalled()
  const ownsDir = options.dir === undefined
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "overlord-mariadb-")))
  const dataDir = join(dir, "data")
  const errorLog = join(dir, "error.log")
  const password = randomBytes(12).toString("hex")
  let port = options.port ?? (await freePort())
  let child: ChildProcess | undefined

  /** Initialises the data dir unless it holds a server's files already. */
  const install = async (): Promise<void> => {
    if (existsSync(join(dataDir, "mysql"))) return
    await mkdir(dataDir, { recursive: true })
    const installed = await run(MARIADB_INSTALL_DB, [
      "--no-defaults",
      `--datadir=${dataDir}`,
      "--auth-root-authentication-method=normal",
      "--skip-test-db",
      "--skip-name-resolve",
      ...runAsRoot(),
      "--innodb-log-file-size=32M",
    ])
    if (installed.code !== 0) {
      throw new Error(
        `mariadb-install-db failed (exit ${installed.code}):\n${installed.output.split("\n").slice(-30).join("\n")}`,
      )
    }
  }

  const launch = (): ChildProcess =>
    spawn(
      MARIADBD,
      [
        "--no-defaults",
        `--datadir=${dataDir}`,
        `--port=${port}`,
        "--bind-address=127.0.0.1",
        `--socket=${join(dir, "sock")}`,
        `--pid-file=${join(dir, "pid")}`,
        // Its own temporary tables: in the shared /tmp, one server's on-disk temp table was deleted
        // under it mid-query ("Error on delete of '/tmp/#sql-temptable-…MAI'", engines benchmark).
        `--tmpdir=${join(dir, "tmp")}`,
        `--log-error=${errorLog}`,
        "--skip-name-resolve",
        ...runAsRoot(),
        ...SERVER_SETTINGS,
      ],
      { stdio: "ignore" },
    )

  /** Polls until root can connect; fails at once, with the log's tail, if the server exits. */
  const waitUntilUp = async (server: ChildProcess): Promise<void> => {
    const deadline = Date.now() + 60_000
    let lastError: unknown
    while (Date.now() < deadline) {
      if (server.exitCode !== null || server.signalCode !== null) {
        throw new Error(
          `mariadbd exited (${server.exitCode ?? server.signalCode}) before accepting connections on port ${port}; ${errorLog}:\n${await logTail(errorLog)}`,
        )
      }
      try {
        const conn = await mysql.createConnection({ host: "127.0.0.1", port, user: "root", connectTimeout: 1000 })
        await conn.end()
        return
      } catch (e) {
        lastError = e
      }
      await sleep(25)
    }
    server.kill("SIGKILL")
    throw new Error(
      `mariadbd did not accept connections on port ${port} within 60 s (${String(lastError)}); ${errorLog}:\n${await logTail(errorLog)}`,
    )
  }

  // A server outlives a test process that ends without `stop` (a failed run, a forgotten destroy):
  // kill it when this process exits, so servers never pile up across runs.
  const killOnExit = () => child?.kill("SIGKILL")
  const startServer = async (): Promise<void> => {
    await mkdir(join(dir, "tmp"), { recursive: true })
    const server = launch()
    child = server
    process.once("exit", killOnExit)
    server.once("exit", () => process.off("exit", killOnExit))
    await waitUntilUp(server)
  }

  try {
    await install()
    try {
      await startServer()
    } catch (e) {
      // A free port can be taken between `freePort` and the bind: try once more on another one.
      if (options.port !== undefined || child?.exitCode === null) throw e
      port = await freePort()
      await startServer()
    }
    const root = await mysql.createConnection({ host: "127.0.0.1", port, user: "root" })
    try {
      // Both hosts: a local TCP client matches `localhost` before `%`, so an anonymous `''@'localhost'`
      // (created by some installs) would shadow a `%`-only user (planetscale-http.md §10).
      for (const host of ["%", "localhost"]) {
        await root.query("CREATE OR REPLACE USER ?@? IDENTIFIED BY ?", [TEST_USER, host, password])
        await root.query("GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION", [TEST_USER, host])
      }
    } finally {
      await root.end()
    }
  } catch (e) {
    child?.kill("SIGKILL")
    if (ownsDir) await rm(dir, { recursive: true, force: true })
    throw e
  }

  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    const server = child
    if (server === undefined) return
    child = undefined
    if (server.exitCode === null && server.signalCode === null) {
      server.kill(signal)
      await exited(server)
    }
  }

  const stop = () => stopWith("SIGTERM")
  return {
    ...mariaDbClient({ host: "127.0.0.1", port, user: TEST_USER, password }),
    dir,
    stop,
    kill: () => stopWith("SIGKILL"),
    restart: async () => {
      await stop()
      await startServer()
    },
    destroy: async () => {
      await stop()
      if (ownsDir) await rm(dir, { recursive: true, force: true })
    },
  }
}
