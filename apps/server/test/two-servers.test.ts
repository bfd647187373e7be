/**
 * Two servers on one database behave as one service: lines a daemon stores through server A reach a
 * dashboard connected to server B through the change feed (`LiveHub`'s poll of `feedAfter`), within a
 * second, and no socket of either server gets a line twice (A's learns in-process and from the feed).
 * Each server has its own engine and connection pool, as two `overlord serve` processes would.
 */
import { encodeAppendFrame, type Live, Sync } from "@overlord/protocol"
import { type Engine, fromEngine, Store } from "@overlord/store"
import { connectMysql2, MysqlEngine } from "@overlord/store/mysql"
import { testMariaDb } from "@overlord/testkit/mariadb"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { HttpServer, layer as httpServerLayer } from "../src/http-server.ts"

const enc = new TextEncoder()
const SID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
const KEY = `-home-dev-proj/${SID}.jsonl`
const APPENDS = 50

interface Running {
  readonly url: string
  readonly engine: Engine
  close(): Promise<void>
}

async function startServer(url: string): Promise<Running> {
  const engine = await MysqlEngine.open(connectMysql2({ url }))
  const scope = await Effect.runPromise(Scope.make())
  const layer = httpServerLayer({ hostname: "127.0.0.1", port: 0 }).pipe(
    Layer.provide(Layer.succeed(Store, fromEngine(engine))),
  )
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  return {
    url: Context.get(context, HttpServer).url,
    engine,
    async close() {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await engine.close()
    },
  }
}

/** A dashboard's live socket, subscribed to the session; every entry it receives, with when. */
async function watch(server: Running, apiToken: string) {
  const received: { seq: number; line: string; at: number }[] = []
  const health: Live.LiveMessage[] = []
  const ws = new WebSocket(`${server.url.replace("http", "ws")}/api/v1/live`, {
    headers: { authorization: `Bearer ${apiToken}` },
  } as unknown as string[])
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve()
    ws.onerror = () => reject(new Error(`live socket to ${server.url} failed`))
  })
  ws.onmessage = (e) => {
    const m = JSON.parse(String(e.data)) as Live.LiveMessage
    if (m.type === "entries") for (const entry of m.entries) received.push({ ...entry, at: performance.now() })
    if (m.type === "health") health.push(m)
  }
  ws.send(JSON.stringify({ type: "subscribe", sessionId: SID, afterSeq: 0 } satisfies Live.Subscribe))
  return { ws, received, health }
}

const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!

let a: Running
let b: Running

beforeAll(async () => {
  const db = testMariaDb()
  const url = db.url(await db.createDatabase())
  a = await startServer(url)
  b = await startServer(url)
}, 60_000)

afterAll(async () => {
  await a?.close()
  await b?.close()
})

describe("two servers on one MariaDB database", () => {
  it("shows each append stored through A on B's live socket once (p50/p99 reported), and the machine going offline", async () => {
    const userId = await a.engine.ensureUser("local")
    const machineToken = await a.engine.issueToken({ userId, kind: "machine", machineUid: "m-1" })
    const apiToken = await a.engine.issueToken({ userId, kind: "api" })
    const onB = await watch(b, apiToken)
    const onA = await watch(a, apiToken)

    const sync = new WebSocket(`${a.url.replace("http", "ws")}/api/v1/sync`)
    sync.binaryType = "arraybuffer"
    const acks: Sync.ServerMessage[] = []
    let welcomed: () => void = () => {}
    const welcome = new Promise<void>((resolve) => {
      welcomed = resolve
    })
    sync.onmessage = (e) => {
      const m = JSON.parse(String(e.data)) as Sync.ServerMessage
      if (m.type === "welcome") welcomed()
      else acks.push(m)
    }
    await new Promise<void>((resolve) => {
      sync.onopen = () => resolve()
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

    const sentAt: number[] = []
    const latencies: number[] = []
    let offset = 0
    for (let i = 0; i < APPENDS; i++) {
      const line = `${JSON.stringify({ type: "user", uuid: `u${i}`, sessionId: SID, timestamp: new Date(Date.UTC(2026, 10, 1, 10, 0, i)).toISOString(), message: { role: "user", content: `line ${i}` } })}\n`
      const payload = enc.encode(line)
      // At a random moment relative to B's polls, as a person's lines arrive.
      await Bun.sleep(Math.floor(Math.random() * 250))
      sentAt.push(performance.now())
      const frame: Uint8Array<ArrayBuffer> = encodeAppendFrame(
        {
          type: "append",
          seq: i + 1,
          fileKey: KEY,
          generation: 0,
          identity: "1:1",
          fromOffset: offset,
          toOffset: offset + payload.length,
        },
        payload,
      ) as Uint8Array<ArrayBuffer>
      sync.send(frame)
      offset += payload.length
      // Each line on its own, as a person typing into Claude Code produces them: wait until B has it.
      const deadline = Date.now() + 10_000
      while (onB.received.length <= i && Date.now() < deadline) await Bun.sleep(2)
      expect(onB.received.length, `append ${i} never reached server B`).toBeGreaterThan(i)
      latencies.push(onB.received[i]!.at - sentAt[i]!)
    }
    await Bun.sleep(600)

    expect(acks.filter((m) => m.type === "ack")).toHaveLength(APPENDS)
    for (const watcher of [onA, onB]) {
      const seqs = watcher.received.map((e) => e.seq)
      expect(new Set(seqs).size, "a line delivered twice").toBe(seqs.length)
      expect(seqs).toHaveLength(APPENDS)
      expect(watcher.received.map((e) => (JSON.parse(e.line) as { uuid?: string }).uuid)).toEqual(
        Array.from({ length: APPENDS }, (_, i) => `u${i}`),
      )
    }
    const sorted = [...latencies].sort((x, y) => x - y)
    console.log(
      `[two servers] append through A -> B's live socket, ${APPENDS} appends: p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms, max ${sorted[sorted.length - 1]!.toFixed(1)} ms`,
    )
    // The daemon disconnects from A: B's dashboard hears the machine is offline, without a line stored.
    sync.close()
    const deadline = Date.now() + 15_000
    const offline = () =>
      onB.health.some((m) => m.type === "health" && m.machines.some((x) => x.machineId === "m-1" && !x.online))
    while (!offline() && Date.now() < deadline) await Bun.sleep(20)
    expect(offline(), "B never heard the machine went offline").toBe(true)
    onA.ws.close()
    onB.ws.close()
  }, 120_000)
})
