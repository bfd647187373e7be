/**
 * Runs inside a Bun Worker: the embedded server (HTTP, sync socket, SQLite) on its own thread, so
 * storing lines and tailing files use both cores. Talks to `embedded-server.ts` by messages.
 */
import { HttpServer, httpServerLayer, LOGIN_LINK_TTL_MS } from "@overlord/server"
import { Store } from "@overlord/store"
import { layer as sqliteLayer } from "@overlord/store/sqlite"
import { Cause, Deferred, Effect, Exit, type Fiber, Layer } from "effect"
import { serverAiConfig } from "./ai-settings.ts"
import { type HomePaths, loadCredentials, loadMachine, saveCredentials } from "./home.ts"

export interface StartMessage {
  readonly type: "start"
  readonly paths: HomePaths
  readonly host: string
  readonly port: number
}

export type WorkerReply =
  | { readonly type: "ready"; readonly serverUrl: string; readonly machineToken: string; readonly loginUrl: string }
  | { readonly type: "failed"; readonly message: string }
  /** Something the store repaired at open (a line log cut short), for the daemon's log. */
  | { readonly type: "warning"; readonly message: string }
  | { readonly type: "stopped" }

export const LOCAL_USER = "local"

declare const self: Worker
const reply = (m: WorkerReply) => self.postMessage(m)

// To the daemon's thread, which keeps it among its warnings (`overlord status`) and logs it.
const workerWarn = (message: string) => reply({ type: "warning", message })

const serve = (start: StartMessage, stop: Deferred.Deferred<void>) =>
  Effect.gen(function* () {
    const store = yield* Store
    const server = yield* HttpServer
    const userId = yield* store.ensureUser(LOCAL_USER)
    const machine = loadMachine(start.paths)
    const saved = loadCredentials(start.paths)
    const reuse = (token: string | undefined, kind: "machine" | "api") =>
      token
        ? store.verifyToken(token, [kind]).pipe(Effect.map((g) => (g && g.userId === userId ? token : null)))
        : Effect.succeed(null)
    const machineToken =
      (yield* reuse(saved?.machineToken, "machine")) ??
      (yield* store.issueToken({ userId, kind: "machine", machineUid: machine.machineId }))
    const apiToken = (yield* reuse(saved?.apiToken, "api")) ?? (yield* store.issueToken({ userId, kind: "api" }))
    saveCredentials(start.paths, { serverUrl: server.url, machineToken, apiToken })
    const login = yield* store.issueToken({ userId, kind: "login-link", ttlMs: LOGIN_LINK_TTL_MS })
    reply({ type: "ready", serverUrl: server.url, machineToken, loginUrl: `${server.url}/auth?token=${login}` })
    yield* Deferred.await(stop)
  }).pipe(
    Effect.provide(
      httpServerLayer({ hostname: start.host, port: start.port, ...serverAiConfig(start.paths.home, workerWarn) }).pipe(
        Layer.provideMerge(
          sqliteLayer(start.paths.database, { onWarning: (message) => workerWarn(`store: ${message}`) }),
        ),
      ),
    ),
    Effect.scoped,
  )

let stop: Deferred.Deferred<void> | null = null
let fiber: Fiber.Fiber<void, unknown> | null = null

self.onmessage = (event: MessageEvent<StartMessage | { type: "stop" }>) => {
  const msg = event.data
  if (msg.type === "start" && !fiber) {
    stop = Deferred.makeUnsafe<void>()
    fiber = Effect.runFork(serve(msg, stop))
    fiber.addObserver((exit) => {
      if (Exit.isFailure(exit)) {
        // The error's own sentence (a port in use, say), not the printed Cause around it.
        const error = Cause.squash(exit.cause)
        reply({ type: "failed", message: error instanceof Error ? error.message : String(exit.cause) })
      }
      reply({ type: "stopped" })
    })
  } else if (msg.type === "stop") {
    if (stop) Deferred.doneUnsafe(stop, Exit.void)
    else reply({ type: "stopped" })
  }
}
