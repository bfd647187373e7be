/**
 * The server as a scoped resource: Bun.serve plus the background search indexer, both stopped
 * when the scope closes. Used by `overlord serve` and, embedded, by `overlord start`.
 */
import { Store } from "@overlord/store"
import { Context, Data, Duration, Effect, Layer, Schedule } from "effect"
import { type AiService, type AiServiceOptions, startAiService } from "./ai-service.ts"
import { makeApp, type SocketData } from "./app.ts"
import { accessPolicy, PublicUrlError, parsePublicUrl } from "./auth.ts"
import { TrustedProxies, TrustProxyError } from "./client-address.ts"
import { internalError } from "./http-api.ts"

export interface ServerConfig {
  readonly hostname: string
  /** 0 picks a free port. */
  readonly port: number
  readonly webDir?: string
  readonly extraHosts?: readonly string[]
  /**
   * Where users reach the server through a reverse proxy (`--public-url`): its Host and Origin are
   * accepted besides loopback's, and an https one makes cookies `Secure`.
   */
  readonly publicUrl?: string
  /**
   * Behind a reverse proxy, the proxies (addresses and CIDR ranges, comma-separated) whose
   * `X-Forwarded-For` names the client for per-client limits (`--trust-proxy`, `client-address.ts`);
   * absent: the socket's peer is the client.
   */
  readonly trustProxy?: string
  /**
   * Local AI (issue #13): Ollama's settings (`@overlord/ai`'s `ollamaConfig`); absent: no indexer, and
   * search and the dashboard say semantic features are off.
   */
  readonly ollama?: AiServiceOptions["ollama"] | undefined
  readonly aiIndexer?: AiServiceOptions["indexer"]
  readonly maxVectors?: number
}

export interface Interface {
  /** Where this process listens (loopback when it listens on every address). */
  readonly url: string
  /** Where users open it: the public URL behind a proxy, else `url`. */
  readonly publicUrl: string
  readonly port: number
  /** The local-AI service when `ollama` was configured. */
  readonly ai?: AiService
}

export class HttpServer extends Context.Service<HttpServer, Interface>()("@overlord/server/HttpServer") {}

/** Another process listens on the address: said in one line by `overlord serve` and `overlord start`. */
export class PortInUseError extends Data.TaggedError("PortInUseError")<{
  readonly hostname: string
  readonly port: number
  readonly message: string
}> {}

const isAddressInUse = (error: unknown): boolean =>
  (error as { code?: unknown } | null)?.code === "EADDRINUSE" || /\bin use\b/i.test(String(error))

/** Every HTTP request body, whatever its route (see `maxRequestBodySize` below). */
export const MAX_REQUEST_BODY_BYTES = 8 * 1024 * 1024

/** Small transactions: the server answers requests on this thread, so no batch may hold it for long. */
const INDEX_BATCH = 250
const INDEX_BATCH_BUSY = 50
const INGEST_QUIET_MS = 500
/** With nothing to index, how often to look again: search lags new lines by at most this. */
const INDEX_IDLE_POLL_MS = 1_000

export const layer = (config: ServerConfig) =>
  Layer.effect(
    HttpServer,
    Effect.gen(function* () {
      const store = yield* Store
      const publicUrl = config.publicUrl === undefined ? null : parsePublicUrl(config.publicUrl)
      if (publicUrl instanceof PublicUrlError) return yield* publicUrl
      const trustedProxies = config.trustProxy === undefined ? null : TrustedProxies.parse(config.trustProxy)
      if (trustedProxies instanceof TrustProxyError) return yield* trustedProxies
      // Local AI: the indexer's worker and the vector index, stopped after the HTTP server (scope order).
      let latestApp: ReturnType<typeof makeApp> | undefined
      const ollama = config.ollama
      const ai = ollama
        ? yield* Effect.acquireRelease(
            Effect.sync(() =>
              startAiService({
                store,
                ollama,
                ...(config.aiIndexer ? { indexer: config.aiIndexer } : {}),
                ...(config.maxVectors ? { maxVectors: config.maxVectors } : {}),
                lastStoredAt: () => latestApp?.hub.lastStoredAt ?? 0,
              }),
            ),
            (service) => Effect.promise(() => service.close()),
          )
        : undefined
      const { server, app } = yield* Effect.acquireRelease(
        Effect.suspend(() => {
          // The Host check needs the real port, known only after binding: bind, then build the app.
          let app: ReturnType<typeof makeApp> | undefined
          let s: Bun.Server<SocketData>
          try {
            s = Bun.serve<SocketData>({
              hostname: config.hostname,
              port: config.port,
              // Bun's development mode answers a thrown error with its error page: stack, source lines
              // and working directory, to anyone. `app.fetch` answers failures itself; this is the net.
              development: false,
              // Bun 1.4.5 turns SO_REUSEPORT on with `development: false`: a second `overlord serve` or
              // `overlord start` on a port in use bound it too, and the kernel split connections between
              // the two servers (a daemon's lines went to whichever answered). Measured: two processes
              // both bound 127.0.0.1:7531; with `reusePort: false` the second gets EADDRINUSE.
              reusePort: false,
              // Bun reads a body of up to 128 MiB by default before a route can refuse it, a chunked one
              // (no Content-Length) whole: 60 at once per address on the unauthenticated routes. The largest
              // body a route takes is a remote command's (`http-commands.ts`, 2 Mi characters, at most
              // 8 MiB of UTF-8); anything larger is answered 413 unread. Sockets have their own limit below.
              maxRequestBodySize: MAX_REQUEST_BODY_BYTES,
              error: (error) => {
                Effect.runFork(Effect.logError("request failed", error))
                return internalError()
              },
              fetch: (req, srv) => app!.fetch(req, srv),
              websocket: {
                open: (ws) => app!.websocket.open(ws),
                message: (ws, m) => app!.websocket.message(ws, m),
                close: (ws) => app!.websocket.close(ws),
                maxPayloadLength: 8 * 1024 * 1024 + 64 * 1024,
                idleTimeout: 120,
              },
            })
          } catch (error) {
            if (!isAddressInUse(error)) throw error
            return Effect.fail(
              new PortInUseError({
                hostname: config.hostname,
                port: config.port,
                message: `${config.hostname}:${config.port} is already in use (another \`overlord serve\` or \`overlord start\`?): stop that one, or pick another port with --port`,
              }),
            )
          }
          app = makeApp({
            store,
            policy: accessPolicy(
              config.hostname,
              s.port ?? config.port,
              config.extraHosts ?? [],
              publicUrl,
              trustedProxies,
            ),
            secureCookies: publicUrl?.protocol === "https:",
            ...(ai ? { ai } : {}),
            ...(config.webDir ? { webDir: config.webDir } : {}),
          })
          return Effect.succeed({ server: s, app: app! })
        }),
        ({ server: s }) => Effect.promise(() => s.stop(true)),
      )
      latestApp = app
      // The index catches up in the background, in small transactions, and backs off while lines are
      // arriving, so a large backfill is never slowed by it.
      const indexStep = Effect.suspend(() => {
        const busy = Date.now() - app.hub.lastStoredAt < INGEST_QUIET_MS
        return store
          .indexForSearch(busy ? INDEX_BATCH_BUSY : INDEX_BATCH)
          .pipe(
            Effect.flatMap((n) =>
              n === 0
                ? Effect.sleep(Duration.millis(INDEX_IDLE_POLL_MS))
                : busy
                  ? Effect.sleep(Duration.millis(250))
                  : Effect.yieldNow,
            ),
          )
      })
      yield* indexStep.pipe(
        Effect.catch((e) =>
          Effect.logWarning("search indexing failed", e).pipe(Effect.andThen(Effect.sleep("2 seconds"))),
        ),
        Effect.repeat(Schedule.forever),
        Effect.forkScoped,
      )
      const host = config.hostname === "0.0.0.0" || config.hostname === "::" ? "127.0.0.1" : config.hostname
      const url = `http://${host}:${server.port}`
      return {
        url,
        publicUrl: publicUrl ? publicUrl.origin : url,
        port: server.port ?? config.port,
        ...(ai ? { ai } : {}),
      }
    }),
  )
