/**
 * `overlord serve`: the server alone, on the database `--database-url` names (SQLite, MySQL/MariaDB or
 * PlanetScale; `store-from-url.ts`). Its own module so that `overlord start`, whose server runs on a
 * worker thread, does not load the server into the daemon's thread too.
 */
import { HttpServer, httpServerLayer } from "@overlord/server"
import { SETUP_LINK_TTL_MS } from "@overlord/server/http-accounts"
import { Store, type StoreError } from "@overlord/store"
import { Effect, Layer } from "effect"
import { serverAiConfig } from "./ai-settings.ts"
import { type DatabaseChoice, describeDatabase, storeLayerFor } from "./store-from-url.ts"

export interface ServeOptions {
  readonly host: string
  readonly port: number
  /** Parsed by the CLI from `--database-url`, `DATABASE_URL` or `--database` (`parseDatabaseUrl`). */
  readonly database: DatabaseChoice
  /** Where users reach the server through a reverse proxy (`--public-url`), checked by the CLI. */
  readonly publicUrl?: string
  /** Proxies whose X-Forwarded-For names the client (`--trust-proxy`), checked by the CLI. */
  readonly trustProxy?: string
}

/** The store's failure in words, with what it was caused by (a driver's explanation, e.g. refused credentials). */
const explain = (error: StoreError): string => {
  const cause = "cause" in error && error.cause instanceof Error ? error.cause.message : null
  return cause && !error.message.includes(cause) ? `${error.message} (${cause})` : error.message
}

export const serveProgram = (opts: ServeOptions) =>
  Effect.gen(function* () {
    const server = yield* HttpServer
    const store = yield* Store
    console.log(
      `Overlord server on ${server.url}${server.publicUrl !== server.url ? `, public at ${server.publicUrl}` : ""}`,
    )
    // First start: a one-time link that creates the first admin (and signs them in). Once an admin
    // exists nothing is printed: users come in by invitation, machines by `overlord login`.
    if (!(yield* store.hasAdmin())) {
      const setup = yield* store.createAccountLink({
        kind: "setup",
        createdBy: null,
        role: "admin",
        ttlMs: SETUP_LINK_TTL_MS,
      })
      console.log(`Set up the first admin (one-time link, valid 24 h): ${server.publicUrl}/setup/${setup.token}`)
    }
    return yield* Effect.never
  }).pipe(
    Effect.provide(
      httpServerLayer({
        hostname: opts.host,
        port: opts.port,
        ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
        ...(opts.trustProxy ? { trustProxy: opts.trustProxy } : {}),
        ...serverAiConfig(),
      }).pipe(
        Layer.provideMerge(
          storeLayerFor(opts.database, {
            onRetry: (error, attempt, delayMs) =>
              console.error(
                `overlord serve: cannot open the database (${describeDatabase(opts.database)}), attempt ${attempt}: ${explain(error)}; retrying in ${(delayMs / 1000).toFixed(1)} s`,
              ),
          }),
        ),
      ),
    ),
    Effect.scoped,
    // A failure that retrying cannot mend (refused credentials, a file it cannot create): said in one
    // line, exit code 1, no stack.
    Effect.catchTags({
      StoreUnavailableError: (e) => fatal(`${describeDatabase(opts.database)}: ${explain(e)}`),
      StoreConflictError: (e) => fatal(`${describeDatabase(opts.database)}: ${explain(e)}`),
      StoreQueryError: (e) => fatal(`${describeDatabase(opts.database)}: ${explain(e)}`),
      StoreInputError: (e) => fatal(`${describeDatabase(opts.database)}: ${explain(e)}`),
      PortInUseError: (e) => fatal(e.message),
    }),
  )

const fatal = (message: string) =>
  Effect.sync(() => {
    console.error(`overlord serve: ${message}`)
    process.exit(1)
  })
