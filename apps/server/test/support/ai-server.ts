/**
 * A real server (HTTP, sync socket, store, the AI worker) against a fake Ollama, fed through the real
 * sync socket: what the local-AI tests and the benchmark share.
 */
import type { IndexerOptions, OllamaConfig } from "@overlord/ai"
import { encodeAppendFrame, Sync } from "@overlord/protocol"
import { type Engine, fromEngine, Store } from "@overlord/store"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { HttpServer, layer as httpServerLayer } from "../../src/http-server.ts"

const enc = new TextEncoder()

export interface AiTestServer {
  readonly url: string
  readonly engine: Engine
  readonly apiToken: string
  readonly get: <T>(path: string) => Promise<T>
  readonly getResponse: (path: string) => Promise<Response>
  /** Appends `text` to the file (the socket's next frame), resolved once acknowledged. */
  readonly append: (fileKey: string, text: string) => Promise<void>
  readonly close: () => Promise<void>
}

export async function startAiServer(
  engine: Engine,
  ollama: OllamaConfig | undefined,
  indexer: IndexerOptions = { idleMs: 200, minBackoffMs: 100, maxBackoffMs: 400 },
): Promise<AiTestServer> {
  const scope = await Effect.runPromise(Scope.make())
  const layer = httpServerLayer({
    hostname: "127.0.0.1",
    port: 0,
    ...(ollama ? { ollama, aiIndexer: indexer } : {}),
  }).pipe(Layer.provide(Layer.succeed(Store, fromEngine(engine))))
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const url = Context.get(context, HttpServer).url
  const userId = await engine.ensureUser("local")
  const machineToken = await engine.issueToken({ userId, kind: "machine", machineUid: "m-1" })
  const apiToken = await engine.issueToken({ userId, kind: "api" })

  const sync = new WebSocket(`${url.replace("http", "ws")}/api/v1/sync`)
  sync.binaryType = "arraybuffer"
  const waiting = new Map<number, (m: Sync.ServerMessage) => void>()
  let welcomed: () => void = () => {}
  const welcome = new Promise<void>((resolve) => {
    welcomed = resolve
  })
  sync.onmessage = (e) => {
    const m = JSON.parse(String(e.data)) as Sync.ServerMessage
    if (m.type === "welcome") welcomed()
    else if (m.type === "ack" || m.type === "rejected") waiting.get(m.seq)?.(m)
  }
  await new Promise<void>((resolve, reject) => {
    sync.onopen = () => resolve()
    sync.onerror = () => reject(new Error("sync socket failed"))
  })
  sync.send(
    JSON.stringify({
      type: "hello",
      protocolVersion: Sync.PROTOCOL_VERSION,
      daemonVersion: "test",
      machineId: "m-1",
      machineName: "laptop",
      token: machineToken,
    }),
  )
  await welcome
  const offsets = new Map<string, number>()
  let frame = 0
  const append = async (fileKey: string, text: string) => {
    const payload = enc.encode(text)
    const from = offsets.get(fileKey) ?? 0
    const seq = ++frame
    const answered = new Promise<Sync.ServerMessage>((resolve) => waiting.set(seq, resolve))
    sync.send(
      encodeAppendFrame(
        {
          type: "append",
          seq,
          fileKey,
          generation: 0,
          identity: "1:1",
          fromOffset: from,
          toOffset: from + payload.length,
        },
        payload,
      ) as Uint8Array<ArrayBuffer>,
    )
    const m = await answered
    waiting.delete(seq)
    if (m.type !== "ack") throw new Error(`append refused: ${JSON.stringify(m)}`)
    offsets.set(fileKey, m.offset)
  }
  const getResponse = (path: string) => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${apiToken}` } })
  const get = async <T>(path: string): Promise<T> => {
    const res = await getResponse(path)
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
    return (await res.json()) as T
  }
  return {
    url,
    engine,
    apiToken,
    get,
    getResponse,
    append,
    close: async () => {
      sync.close()
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await engine.close()
    },
  }
}

/** Polls until `done` holds (or throws after `timeoutMs`, saying what it saw last). */
export async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: T = await read()
  while (!done(last)) {
    if (Date.now() > deadline) throw new Error(`timed out; last: ${JSON.stringify(last)}`)
    await Bun.sleep(100)
    last = await read()
  }
  return last
}
