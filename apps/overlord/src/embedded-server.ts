/**
 * `overlord start` with no server configured: the server runs in this process on loopback, over
 * the embedded SQLite store, on a worker thread of its own (`embedded-server-worker.ts`), and this
 * daemon gets its credentials from it.
 */
import { Context, Effect, Layer } from "effect"
import type { StartMessage, WorkerReply } from "./embedded-server-worker.ts"
import type { HomePaths } from "./home.ts"
import { DaemonStartError } from "./start-error.ts"

export interface EmbeddedConfig {
  readonly paths: HomePaths
  readonly host: string
  readonly port: number
  /** What the store reports having repaired (the daemon logs it). */
  readonly onWarning?: (message: string) => void
}

export interface Interface {
  readonly serverUrl: string
  readonly machineToken: string
  /** One-time sign-in link for the dashboard. */
  readonly loginUrl: string
}

export class EmbeddedServer extends Context.Service<EmbeddedServer, Interface>()("overlord/EmbeddedServer") {}

const STOP_TIMEOUT_MS = 10_000

// Beside this module: the .ts source, or the .js entry in the daemon's bundle (scripts/build-daemon.ts).
const WORKER_URL = new URL(`./embedded-server-worker.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`, import.meta.url)
  .href

const awaitReply = (worker: Worker, accept: (r: WorkerReply) => boolean) =>
  new Promise<WorkerReply>((resolve, reject) => {
    const onMessage = (e: MessageEvent<WorkerReply>) => {
      if (!accept(e.data)) return
      worker.removeEventListener("message", onMessage)
      resolve(e.data)
    }
    worker.addEventListener("message", onMessage)
    worker.addEventListener("error", (e) => reject(new Error(`embedded server crashed: ${e.message}`)), { once: true })
  })

export const layer = (config: EmbeddedConfig) =>
  Layer.effect(
    EmbeddedServer,
    Effect.gen(function* () {
      const worker = yield* Effect.acquireRelease(
        // The environment as it is now: a worker otherwise sees the process's initial one, without
        // what the CLI set since (the --ollama-* flags, `ai-settings.ts`).
        Effect.sync(() => new Worker(WORKER_URL, { env: { ...process.env } as Record<string, string> })),
        (w) =>
          Effect.promise(async () => {
            // Let the worker close its scope (server, database) before the thread goes away.
            const stopped = awaitReply(w, (r) => r.type === "stopped")
            w.postMessage({ type: "stop" })
            await Promise.race([stopped.catch(() => undefined), Bun.sleep(STOP_TIMEOUT_MS)])
            w.terminate()
          }),
      )
      worker.addEventListener("message", (e: MessageEvent<WorkerReply>) => {
        if (e.data.type === "warning") config.onWarning?.(e.data.message)
      })
      const started = awaitReply(worker, (r) => r.type === "ready" || r.type === "failed")
      worker.postMessage({
        type: "start",
        paths: config.paths,
        host: config.host,
        port: config.port,
      } satisfies StartMessage)
      const reply = yield* Effect.tryPromise({ try: () => started, catch: (e) => e as Error })
      if (reply.type !== "ready") {
        return yield* Effect.fail(
          new DaemonStartError({
            message: reply.type === "failed" ? reply.message : "embedded server stopped",
          }),
        )
      }
      // After start-up, losing the server thread means nothing can be stored: exit and let the
      // user (or a supervisor) restart cleanly rather than run half alive.
      worker.addEventListener("error", (e) => {
        console.error(`overlord: the embedded server crashed: ${e.message}`)
        process.exit(1)
      })
      return { serverUrl: reply.serverUrl, machineToken: reply.machineToken, loginUrl: reply.loginUrl }
    }),
  )
