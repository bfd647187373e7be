/**
 * `overlord start` with no server configured: the server runs in this process on loopback, over
 * the embedded SQLite store, and this daemon gets its credentials straight from that store.
 */
import { HttpServer, httpServerLayer, LOGIN_LINK_TTL_MS } from "@overlord/server"
import { Store, sqliteLayer } from "@overlord/store"
import { Context, Effect, Layer } from "effect"
import { type HomePaths, loadCredentials, loadMachine, saveCredentials } from "./home.ts"

export interface EmbeddedConfig {
  readonly paths: HomePaths
  readonly host: string
  readonly port: number
}

export interface Interface {
  readonly serverUrl: string
  readonly machineToken: string
  /** One-time sign-in link for the dashboard. */
  readonly loginUrl: string
}

export class EmbeddedServer extends Context.Service<EmbeddedServer, Interface>()("overlord/EmbeddedServer") {}

export const LOCAL_USER = "local"

export const layer = (config: EmbeddedConfig) =>
  Layer.effect(
    EmbeddedServer,
    Effect.gen(function* () {
      const store = yield* Store
      const server = yield* HttpServer
      const userId = yield* store.ensureUser(LOCAL_USER)
      const machine = loadMachine(config.paths)
      const saved = loadCredentials(config.paths)
      const reuse = (token: string | undefined, kind: "machine" | "api") =>
        token
          ? store.verifyToken(token, [kind]).pipe(Effect.map((g) => (g && g.userId === userId ? token : null)))
          : Effect.succeed(null)
      const machineToken =
        (yield* reuse(saved?.machineToken, "machine")) ??
        (yield* store.issueToken({ userId, kind: "machine", machineUid: machine.machineId }))
      const apiToken = (yield* reuse(saved?.apiToken, "api")) ?? (yield* store.issueToken({ userId, kind: "api" }))
      saveCredentials(config.paths, { serverUrl: server.url, machineToken, apiToken })
      const login = yield* store.issueToken({ userId, kind: "login-link", ttlMs: LOGIN_LINK_TTL_MS })
      return { serverUrl: server.url, machineToken, loginUrl: `${server.url}/auth?token=${login}` }
    }),
  ).pipe(
    Layer.provide(httpServerLayer({ hostname: config.host, port: config.port })),
    Layer.provide(sqliteLayer(config.paths.database)),
  )
