/**
 * Runs inside a Bun Worker: the local-AI indexer (`@overlord/ai`'s `makeIndexer`), so digests,
 * parsing, chunking, Ollama's HTTP calls and vector normalisation never run on the thread that stores
 * lines and answers the API. The store stays on that thread: the indexer's port (`IndexerStore`) is a
 * request/response over messages, answered there by `ai-indexer.ts` with the engine's `AiStore`, a
 * few short statements per session.
 */
import {
  type EmbeddedChunk,
  type GeneratedTitleRecord,
  type IndexerOptions,
  type IndexerStatus,
  type IndexerStore,
  makeIndexer,
  type OllamaConfig,
  layer as ollamaLayer,
  type SessionLine,
} from "@overlord/ai"
import { Effect, Exit, Fiber } from "effect"

/** The port's methods, as the worker asks the storing thread to run them. */
export type PortCall =
  | { readonly method: "pendingSessions"; readonly args: readonly [number] }
  | { readonly method: "sessionLines"; readonly args: readonly [string, number | null] }
  | { readonly method: "saveTitle"; readonly args: readonly [string, GeneratedTitleRecord] }
  | {
      readonly method: "saveChunks"
      readonly args: readonly [string, readonly EmbeddedChunk[], number, string]
    }

export type ToIndexer =
  | { readonly type: "start"; readonly ollama: OllamaConfig; readonly options: IndexerOptions }
  | { readonly type: "reply"; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly type: "reply"; readonly id: number; readonly ok: false; readonly message: string }
  | { readonly type: "wake" }
  | { readonly type: "stop" }

export type FromIndexer =
  | ({ readonly type: "call"; readonly id: number } & PortCall)
  | { readonly type: "status"; readonly status: IndexerStatus }
  | { readonly type: "stopped" }

declare const self: Worker
const post = (m: FromIndexer) => self.postMessage(m)

/** A failure the storing thread reported; the indexer shows its message and backs off. */
class PortCallFailed extends Error {}

let nextId = 1
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>()

const call = <A>(c: PortCall): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const id = nextId++
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
    post({ type: "call", id, ...c })
  })

const port: IndexerStore = {
  pendingSessions: (limit) => call({ method: "pendingSessions", args: [limit] }),
  sessionLines: (key, after) => call<readonly SessionLine[]>({ method: "sessionLines", args: [key, after] }),
  saveTitle: (key, title) => call({ method: "saveTitle", args: [key, title] }),
  saveChunks: (key, chunks, through, model) => call({ method: "saveChunks", args: [key, chunks, through, model] }),
}

let fiber: Fiber.Fiber<unknown, unknown> | null = null
let wake: (() => void) | null = null
let statusTimer: ReturnType<typeof setInterval> | null = null

self.onmessage = (event: MessageEvent<ToIndexer>) => {
  const msg = event.data
  if (msg.type === "reply") {
    const waiting = pending.get(msg.id)
    pending.delete(msg.id)
    if (!waiting) return
    if (msg.ok) waiting.resolve(msg.value)
    else waiting.reject(new PortCallFailed(msg.message))
  } else if (msg.type === "start" && !fiber) {
    const indexer = makeIndexer(port, msg.options)
    wake = indexer.wake
    let last = ""
    const report = () => {
      const status = indexer.status()
      const text = JSON.stringify(status)
      if (text !== last) {
        last = text
        post({ type: "status", status })
      }
    }
    // Status is small and changes per session at most: sent when it changed, looked at 4 times a second.
    statusTimer = setInterval(report, 250)
    fiber = Effect.runFork(indexer.run.pipe(Effect.provide(ollamaLayer(msg.ollama))))
    fiber.addObserver((exit) => {
      if (Exit.isFailure(exit)) report()
    })
  } else if (msg.type === "wake") {
    wake?.()
  } else if (msg.type === "stop") {
    if (statusTimer) clearInterval(statusTimer)
    const running = fiber
    fiber = null
    for (const waiting of pending.values()) waiting.reject(new PortCallFailed("stopping"))
    pending.clear()
    if (running) Effect.runFork(Fiber.interrupt(running)).addObserver(() => post({ type: "stopped" }))
    else post({ type: "stopped" })
  }
}
