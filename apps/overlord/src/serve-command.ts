/**
 * `overlord serve`: the server alone, on a SQLite file. Its own module so that `overlord start`,
 * whose server runs on a worker thread, does not load the server into the daemon's thread too.
 */
import { HttpServer, httpServerLayer, LOGIN_LINK_TTL_MS } from "@overlord/server"
import { Store } from "@overlord/store"
import { layer as sqliteLayer } from "@overlord/store/sqlite"
import { Effect, Layer } from "effect"

export interface ServeOptions {
  readonly host: string
  readonly port: number
  readonly database: string
  /** Where users reach the server through a reverse proxy (`--public-url`), checked by the CLI. */
  readonly publicUrl?: string
}

export const serveProgram = (opts: ServeOptions) =>
  Effect.gen(function* () {
    const server = yield* HttpServer
    const store = yield* Store
    const userId = yield* store.ensureUser("local")
    const link = yield* store.issueToken({ userId, kind: "login-link", ttlMs: LOGIN_LINK_TTL_MS })
    console.log(
      `Overlord server on ${server.url}${server.publicUrl !== server.url ? `, public at ${server.publicUrl}` : ""}`,
    )
    console.log(`Sign in: ${server.publicUrl}/auth?token=${link}`)
    return yield* Effect.never
  }).pipe(
    Effect.provide(
      httpServerLayer({
        hostname: opts.host,
        port: opts.port,
        ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
      }).pipe(Layer.provideMerge(sqliteLayer(opts.database))),
    ),
    Effect.scoped,
  )
