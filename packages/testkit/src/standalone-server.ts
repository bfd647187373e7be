/**
 * What the account and pairing browser tests run, all of it the real bundled CLI as child processes:
 * `overlord serve` (on the suite's MariaDB when the CLI takes `--database-url`, else SQLite), the
 * setup link it prints (`setUpAdmin`), `overlord login` (`pairWithKey` for a pairing key), `overlord start`
 * against the paired server, `overlord status`.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { RowDataPacket } from "mysql2/promise"
import { testMariaDb } from "./mariadb.ts"
import { OVERLORD_BIN } from "./overlord-process.ts"
import { waitFor } from "./wait.ts"

export interface CliProcess {
  readonly child: ChildProcess
  output(): string
  /** Resolves with the exit code once it exits. */
  readonly exited: Promise<number | null>
  stop(): void
}

export function runCli(home: string, args: readonly string[], env: Record<string, string> = {}): CliProcess {
  const chunks: string[] = []
  const child = spawn("bun", [OVERLORD_BIN, "--home", home, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  })
  child.stdout?.on("data", (d) => chunks.push(String(d)))
  child.stderr?.on("data", (d) => chunks.push(String(d)))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return {
    child,
    output: () => chunks.join(""),
    exited,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
    },
  }
}

/** Runs a CLI command to its end; fails with its output if it does not end within `timeoutMs`. */
export async function cli(
  home: string,
  args: readonly string[],
  timeoutMs = 60_000,
): Promise<{ code: number | null; output: string }> {
  const p = runCli(home, args)
  const timer = setTimeout(() => p.child.kill("SIGKILL"), timeoutMs)
  const code = await p.exited
  clearTimeout(timer)
  return { code, output: p.output() }
}

export interface StandaloneServer {
  readonly url: string
  /** `mariadb` or `sqlite`: what the server stores in, for the report. */
  readonly database: "mariadb" | "sqlite"
  /** `mysql://…/<database>` on MariaDB, else the SQLite file's path: for `storedText`. */
  readonly databaseLocation: string
  readonly proc: CliProcess
  /** The one-time link `overlord serve` printed to create the first admin. */
  readonly setupUrl: string
  readonly dir: string
  stop(): Promise<void>
}

/** Whether this build of the CLI's `serve` takes `--database-url` (the MySQL/MariaDB store). */
export async function serveTakesDatabaseUrl(home: string): Promise<boolean> {
  const help = await cli(home, ["serve", "--help"])
  return help.output.includes("--database-url")
}

/**
 * `database`: SQLite when asked (scripts outside the test suites have no suite MariaDB); otherwise the
 * suite's MariaDB when this CLI's `serve` takes `--database-url`, else SQLite.
 */
export async function startStandaloneServer(
  prefix: string,
  options: { readonly database?: "sqlite" } = {},
): Promise<StandaloneServer> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  const home = join(dir, "server-home")
  const useMariaDb = options.database !== "sqlite" && (await serveTakesDatabaseUrl(home))
  const databaseLocation = useMariaDb
    ? await (async () => {
        const db = testMariaDb()
        return db.url(await db.createDatabase())
      })()
    : join(dir, "server.db")
  const dbArgs = useMariaDb ? ["--database-url", databaseLocation] : ["--database", databaseLocation]
  const proc = runCli(home, ["serve", "--port", "0", ...dbArgs])
  const describe = () => `server output:\n${proc.output()}`
  const url = await waitFor(
    "the server's address",
    () => /Overlord server on (http:\/\/\S+?),?\s/.exec(proc.output())?.[1]?.replace(/\/$/, ""),
    60_000,
  ).catch((e) => {
    throw new Error(`${String(e)}\n${describe()}`)
  })
  const setupUrl = await waitFor(
    "the printed setup link",
    () => /(https?:\/\/\S+\/setup\/[^\s"']+)/.exec(proc.output())?.[1],
    30_000,
  ).catch((e) => {
    throw new Error(`${String(e)}\n${describe()}`)
  })
  return {
    url,
    database: useMariaDb ? "mariadb" : "sqlite",
    databaseLocation,
    proc,
    setupUrl,
    dir,
    stop: async () => {
      proc.stop()
      await proc.exited
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/**
 * Every row of every table the server stored, as text (binary columns as UTF-8): for tests that
 * assert a secret never reached the server. Reads while the server runs (MariaDB) or from its file.
 */
export async function storedText(server: StandaloneServer): Promise<string> {
  const cell = (v: unknown): unknown => (v instanceof Uint8Array ? Buffer.from(v).toString("utf8") : v)
  const out: string[] = []
  if (server.database === "mariadb") {
    const { default: mysql } = await import("mysql2/promise")
    const conn = await mysql.createConnection({ uri: server.databaseLocation, supportBigNumbers: true })
    try {
      const [tables] = await conn.query<RowDataPacket[]>("SHOW TABLES")
      for (const t of tables) {
        const name = String(Object.values(t)[0])
        const [rows] = await conn.query<RowDataPacket[]>(`SELECT * FROM \`${name}\``)
        for (const row of rows) out.push(`${name}\t${JSON.stringify(Object.values(row).map(cell))}`)
      }
    } finally {
      await conn.end()
    }
  } else {
    const { Database } = await import("bun:sqlite")
    const db = new Database(server.databaseLocation, { readonly: true })
    try {
      const tables = db.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table'").all()
      for (const { name } of tables)
        for (const row of db.query<Record<string, unknown>, []>(`SELECT * FROM "${name}"`).all())
          out.push(`${name}\t${JSON.stringify(Object.values(row).map(cell))}`)
    } finally {
      db.close()
    }
  }
  return out.join("\n")
}

/** `overlord status --json`, parsed; the raw text too, for failure messages. */
export async function statusOf(home: string): Promise<{ json: Record<string, unknown> | null; text: string }> {
  const r = await cli(home, ["status", "--json"])
  try {
    return { json: JSON.parse(r.output) as Record<string, unknown>, text: r.output }
  } catch {
    return { json: null, text: r.output }
  }
}

export interface ServerAdmin {
  /** A bearer API token of the first admin, for scripts and tests. */
  readonly apiToken: string
  /** The signed-in browser cookie (`name=value`). */
  readonly cookie: string
  /** `bearerApi` as the admin: `fetch` on the server's `/api/v1<path>`; JSON bodies POSTed; `json` null when not JSON. */
  api<T>(path: string, body?: unknown): Promise<{ status: number; json: T }>
}

/** Creates the first admin through the printed setup link, and an API token for it. */
export async function setUpAdmin(server: StandaloneServer, email = "admin@example.com"): Promise<ServerAdmin> {
  const token = new URL(server.setupUrl).pathname.split("/").pop()!
  const setup = await fetch(`${server.url}/api/v1/setup`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: server.url },
    body: JSON.stringify({ token, email, name: "Admin" }),
  })
  if (setup.status !== 200) throw new Error(`setup answered ${setup.status}: ${await setup.text()}`)
  const cookie = setup.headers.get("set-cookie")!.split(";")[0]!
  const made = await fetch(`${server.url}/api/v1/tokens`, {
    method: "POST",
    headers: { cookie, origin: server.url, "content-type": "application/json" },
    body: JSON.stringify({ label: "tests" }),
  })
  if (made.status !== 201) throw new Error(`POST /tokens answered ${made.status}: ${await made.text()}`)
  const apiToken = ((await made.json()) as { token: string }).token
  return {
    apiToken,
    cookie,
    api: async <T>(path: string, body?: unknown) => {
      const { status, body: json } = await bearerApi(server.url, apiToken)<T>(path, body)
      return { status, json }
    },
  }
}

/** `fetch` on `/api/v1<path>` with the bearer token; JSON bodies POSTed; `body` null when not JSON. */
export type BearerApi = <T>(path: string, body?: unknown) => Promise<{ status: number; body: T; text: string }>

/** The server's API at `serverUrl` as the holder of `apiToken`. */
export function bearerApi(serverUrl: string, apiToken: string): BearerApi {
  return async <T>(path: string, body?: unknown) => {
    const res = await fetch(`${serverUrl}/api/v1${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: {
        authorization: `Bearer ${apiToken}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const text = await res.text()
    let parsed: unknown = null
    try {
      parsed = JSON.parse(text)
    } catch {}
    return { status: res.status, body: parsed as T, text }
  }
}

/**
 * Pairs the laptop at `home` as a headless machine would: a single-use pairing key, then `overlord login
 * <url> --key <key> …loginArgs`; what the login printed.
 */
export async function pairWithKey(
  server: StandaloneServer,
  admin: ServerAdmin,
  home: string,
  loginArgs: readonly string[] = [],
): Promise<string> {
  const made = await fetch(`${server.url}/api/v1/pairing-keys`, {
    method: "POST",
    headers: { cookie: admin.cookie, origin: server.url, "content-type": "application/json" },
    body: JSON.stringify({ singleUse: true, ttlMinutes: 10 }),
  })
  if (made.status !== 201) throw new Error(`POST /pairing-keys answered ${made.status}: ${await made.text()}`)
  const { key } = (await made.json()) as { key: string }
  const login = await cli(home, ["login", server.url, "--key", key, ...loginArgs])
  if (login.code !== 0) throw new Error(`overlord login --key exited ${login.code}:\n${login.output}`)
  return login.output
}
