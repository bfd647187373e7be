/**
 * Which store `overlord serve` opens, from `--database-url` / `DATABASE_URL` (or `--database F`, the
 * SQLite shorthand). The engine's module is imported only once chosen, so a SQLite server never loads
 * a MySQL driver and the other way round.
 *
 *   /var/lib/overlord/overlord.db, ./overlord.db, sqlite:/path/overlord.db   SQLite (embedded)
 *   mysql://user:password@host:3306/overlord (or mariadb://)                MySQL or MariaDB (mysql2)
 *   https://user:password@aws.connect.psdb.cloud (or planetscale://…)       PlanetScale (HTTP driver)
 *
 * `http://` is accepted for a PlanetScale-compatible endpoint on this machine only (a local bridge):
 * credentials never cross a network in clear text.
 */
import { isAbsolute, resolve } from "node:path"
import {
  type Engine,
  fromEngine,
  isRetryable,
  isStoreError,
  Store,
  type StoreError,
  StoreQueryError,
} from "@overlord/store"
import { Duration, Effect, Layer, Result } from "effect"

export type DatabaseChoice =
  | { readonly engine: "sqlite"; readonly path: string }
  | { readonly engine: "mysql"; readonly url: string }
  | { readonly engine: "planetscale"; readonly url: string }

export const ACCEPTED_DATABASE_URLS = [
  "a file path or sqlite:<path> (SQLite)",
  "mysql://user:password@host:port/database or mariadb://… (MySQL, MariaDB)",
  "https://user:password@host or planetscale://user:password@host (PlanetScale)",
] as const

/** A database URL that is none of the accepted forms. Its message never repeats the URL (it may hold a password). */
export class DatabaseUrlError extends Error {
  override readonly name = "DatabaseUrlError"
  constructor(readonly problem: string) {
    super(`${problem}. Accepted database URLs: ${ACCEPTED_DATABASE_URLS.join("; ")}`)
  }
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"])

/** The engine and its address; a `DatabaseUrlError` naming what is wrong and the accepted forms. */
export function parseDatabaseUrl(value: string, cwd: string = process.cwd()): DatabaseChoice | DatabaseUrlError {
  const text = value.trim()
  if (text === "") return new DatabaseUrlError("the database URL is empty")
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(text)?.[1]?.toLowerCase()
  // No scheme: a path. (A one-letter "scheme" would be a Windows drive, which Overlord does not run on.)
  if (scheme === undefined) return { engine: "sqlite", path: isAbsolute(text) ? text : resolve(cwd, text) }
  if (scheme === "sqlite") {
    const rest = text.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "")
    if (rest === "" || rest === "//")
      return new DatabaseUrlError("sqlite: needs a file path (sqlite:/path/overlord.db)")
    return { engine: "sqlite", path: isAbsolute(rest) ? rest : resolve(cwd, rest) }
  }
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return new DatabaseUrlError(`the ${scheme}: database URL is not a valid URL`)
  }
  // The drivers decode these with decodeURIComponent; a bare `%` (common in generated passwords) made
  // mysql2 throw a URIError whose stack trace was all `overlord serve` printed.
  for (const [part, value] of [
    ["user name", url.username],
    ["password", url.password],
    ["database name", url.pathname],
  ] as const) {
    try {
      decodeURIComponent(value)
    } catch {
      return new DatabaseUrlError(
        `the ${part} in the ${scheme}: URL has a % that does not start a %-escape: write % as %25 (and @ as %40, : as %3A, / as %2F)`,
      )
    }
  }
  switch (scheme) {
    case "mysql":
    case "mariadb": {
      if (url.hostname === "") return new DatabaseUrlError(`the ${scheme}: URL names no host`)
      if (url.pathname.replace(/^\//, "") === "") {
        return new DatabaseUrlError(`the ${scheme}: URL names no database (mysql://user:password@host:3306/overlord)`)
      }
      return { engine: "mysql", url: text.replace(/^mariadb:/i, "mysql:") }
    }
    case "planetscale":
    case "https":
    case "http": {
      if (url.hostname === "") return new DatabaseUrlError(`the ${scheme}: URL names no host`)
      if (url.username === "" || url.password === "") {
        return new DatabaseUrlError(`the ${scheme}: URL needs the user name and password (https://user:password@host)`)
      }
      if (scheme === "http" && !LOOPBACK.has(url.hostname)) {
        return new DatabaseUrlError(
          "http:// is accepted for this machine only (credentials in clear text): use https://",
        )
      }
      return { engine: "planetscale", url: scheme === "planetscale" ? text.replace(/^planetscale:/i, "https:") : text }
    }
    default:
      return new DatabaseUrlError(`${scheme}: is not a database Overlord can use`)
  }
}

/** Where the choice points, for logs: never the credentials. */
export function describeDatabase(choice: DatabaseChoice): string {
  if (choice.engine === "sqlite") return `SQLite at ${choice.path}`
  const url = new URL(choice.url)
  const db = url.pathname.replace(/^\//, "")
  return choice.engine === "mysql"
    ? `MySQL at ${url.hostname}:${url.port || "3306"}/${decodeURIComponent(db)}`
    : `PlanetScale at ${url.host}`
}

/** The first wait after a failed open, doubled at each failure up to `OPEN_RETRY_MAX_MS`. */
const OPEN_RETRY_START_MS = 500
const OPEN_RETRY_MAX_MS = 10_000

export interface OpenStoreOptions {
  /** Told of each retryable failure to open (the database unreachable, busy or over quota) before the wait. */
  readonly onRetry?: (error: StoreError, attempt: number, delayMs: number) => void
  readonly retryStartMs?: number
  readonly retryMaxMs?: number
}

/**
 * Opens the chosen engine (a network engine migrates first, under its lock), its module imported now.
 * While the failure is retryable it tries again with exponential backoff, forever: a server started
 * before its database (a reboot, a container that comes up first) comes up when the database does.
 * Anything else (refused credentials, a file it cannot create) fails at once.
 */
export const openEngine = (choice: DatabaseChoice, options: OpenStoreOptions = {}): Effect.Effect<Engine, StoreError> =>
  Effect.gen(function* () {
    const open = yield* Effect.promise(async (): Promise<() => Promise<Engine>> => {
      if (choice.engine === "sqlite") {
        const { SqliteEngine } = await import("@overlord/store/sqlite")
        return async () => new SqliteEngine({ path: choice.path })
      }
      const { MysqlEngine, connectMysql } = await import("@overlord/store/mysql")
      // One client for every attempt: a pool that failed to connect connects again on the next query.
      const client = connectMysql(choice.url)
      return () => MysqlEngine.open(client)
    })
    const start = options.retryStartMs ?? OPEN_RETRY_START_MS
    const max = options.retryMaxMs ?? OPEN_RETRY_MAX_MS
    for (let attempt = 1; ; attempt++) {
      const result = yield* Effect.result(
        Effect.tryPromise({
          try: open,
          catch: (cause) => (isStoreError(cause) ? cause : new StoreQueryError({ operation: "open", cause })),
        }),
      )
      if (Result.isSuccess(result)) return result.success
      if (!isRetryable(result.failure)) return yield* Effect.fail(result.failure)
      const delay = Math.min(start * 2 ** (attempt - 1), max)
      options.onRetry?.(result.failure, attempt, delay)
      // Interruptible even inside `storeLayerFor`'s acquire (uninterruptible as every acquire is): a
      // server waiting for its database ignored Ctrl-C and SIGTERM, and a service stop waited for SIGKILL.
      // Nothing is open between attempts, so nothing leaks.
      yield* Effect.interruptible(Effect.sleep(Duration.millis(delay)))
    }
  })

/** The `Store` layer on the chosen engine (opened as `openEngine` does), closed with the layer's scope. */
export const storeLayerFor = (choice: DatabaseChoice, options: OpenStoreOptions = {}): Layer.Layer<Store, StoreError> =>
  Layer.effect(
    Store,
    Effect.acquireRelease(openEngine(choice, options), (engine) => Effect.promise(async () => engine.close())).pipe(
      Effect.map(fromEngine),
    ),
  )
