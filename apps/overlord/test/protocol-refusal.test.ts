/**
 * The sync socket refuses what it cannot serve, with a message a person can act on, and closes:
 * a daemon speaking another protocol version, a token that is unknown or not this machine's.
 */
import { randomUUID } from "node:crypto"
import { Sync } from "@overlord/protocol"
import { accessPolicy, makeApp } from "@overlord/server"
import { fromEngine } from "@overlord/store"
import { SqliteEngine } from "@overlord/store/sqlite"
import type { Server } from "bun"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let server: Server<never> | null = null
let engine: SqliteEngine
let url = ""
let machineToken = ""
const machineId = randomUUID()

beforeAll(() => {
  engine = new SqliteEngine({ path: ":memory:" })
  const userId = engine.ensureUser("local")
  machineToken = engine.issueToken({ userId, kind: "machine", machineUid: machineId })
  const store = fromEngine(engine)
  // The Host check needs the real port, known only after binding: bind, then build the app.
  let app: ReturnType<typeof makeApp> | undefined
  const s = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // biome-ignore lint/suspicious/noExplicitAny: Bun's server generics vs the app's socket data
    fetch: (req, srv) => app!.fetch(req, srv as any),
    websocket: {
      // biome-ignore lint/suspicious/noExplicitAny: as above
      open: (ws) => app!.websocket.open(ws as any),
      // biome-ignore lint/suspicious/noExplicitAny: as above
      message: (ws, m) => app!.websocket.message(ws as any, m),
      // biome-ignore lint/suspicious/noExplicitAny: as above
      close: (ws) => app!.websocket.close(ws as any),
    },
  })
  app = makeApp({ store, policy: accessPolicy("127.0.0.1", s.port!) })
  server = s as unknown as Server<never>
  url = `ws://127.0.0.1:${s.port}/api/v1/sync`
})

afterAll(async () => {
  await server?.stop(true)
  engine?.close()
})

interface Outcome {
  readonly messages: Record<string, unknown>[]
  readonly closeCode: number | null
}

/** Opens the sync socket, sends `hello`, collects messages until the server closes (bounded). */
function helloAndWait(hello: Record<string, unknown>, options: { stayOpenMs?: number } = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    const messages: Record<string, unknown>[] = []
    const timer = setTimeout(() => {
      if (options.stayOpenMs !== undefined) {
        ws.close()
        resolve({ messages, closeCode: null })
      } else {
        ws.close()
        reject(new Error(`the server did not close within 10 s; got ${JSON.stringify(messages)}`))
      }
    }, options.stayOpenMs ?? 10_000)
    ws.onopen = () => ws.send(JSON.stringify(hello))
    ws.onmessage = (e) => messages.push(JSON.parse(String(e.data)) as Record<string, unknown>)
    ws.onerror = () => undefined
    ws.onclose = (e) => {
      clearTimeout(timer)
      resolve({ messages, closeCode: e.code })
    }
  })
}

const hello = (overrides: Record<string, unknown> = {}) => ({
  type: "hello",
  protocolVersion: Sync.PROTOCOL_VERSION,
  protocolMinor: Sync.PROTOCOL_MINOR,
  daemonVersion: "0.1.0",
  machineId,
  machineName: "refusal-test",
  token: machineToken,
  ...overrides,
})

describe("the sync socket refuses clearly", () => {
  it("accepts the right protocol and token (control)", async () => {
    const out = await helloAndWait(hello(), { stayOpenMs: 500 })
    expect(out.messages[0]).toMatchObject({ type: "welcome", protocolVersion: Sync.PROTOCOL_VERSION, cursors: [] })
    expect(out.closeCode).toBeNull()
  })

  it("refuses a daemon speaking protocol 99 with incompatible_protocol, then closes", async () => {
    const out = await helloAndWait(hello({ protocolVersion: 99 }))
    expect(out.messages).toHaveLength(1)
    const refused = out.messages[0]!
    expect(refused).toMatchObject({ type: "refused", code: "incompatible_protocol" })
    // A message a person can act on: both versions and which side to upgrade.
    expect(refused.message).toMatch(new RegExp(`\\b${Sync.PROTOCOL_VERSION}\\b`))
    expect(refused.message).toMatch(/\b99\b/)
    expect(refused.message).toMatch(/upgrade the server/)
    expect(out.closeCode).not.toBeNull()
    expect(out.closeCode).not.toBe(1000)
  })

  it("refuses an older protocol telling the daemon to upgrade", async () => {
    const out = await helloAndWait(hello({ protocolVersion: 0 }))
    expect(out.messages[0]).toMatchObject({ type: "refused", code: "incompatible_protocol" })
    expect(out.messages[0]!.message).toMatch(/upgrade the daemon/)
  })

  it("accepts a daemon one minor newer, one older, and one that predates protocolMinor (minor 0)", async () => {
    for (const minor of [Sync.PROTOCOL_MINOR + 1, Sync.PROTOCOL_MINOR - 1, undefined]) {
      const { protocolMinor: _, ...base } = hello()
      const out = await helloAndWait(minor === undefined ? base : { ...base, protocolMinor: minor }, {
        stayOpenMs: 300,
      })
      expect(out.messages[0], `minor ${minor}`).toMatchObject({
        type: "welcome",
        protocolVersion: Sync.PROTOCOL_VERSION,
        protocolMinor: Sync.PROTOCOL_MINOR,
      })
      expect(out.closeCode).toBeNull()
    }
  })

  it("refuses a daemon two minors newer, naming both versions and the server as the side to upgrade", async () => {
    const out = await helloAndWait(hello({ protocolMinor: Sync.PROTOCOL_MINOR + 2, daemonVersion: "0.3.0" }))
    expect(out.messages).toHaveLength(1)
    expect(out.messages[0]).toMatchObject({ type: "refused", code: "incompatible_protocol" })
    const message = String(out.messages[0]!.message)
    expect(message).toContain(`1.${Sync.PROTOCOL_MINOR + 2}`)
    expect(message).toContain(`1.${Sync.PROTOCOL_MINOR}`)
    expect(message).toMatch(/upgrade the server to overlord 0\.3\.0 or later/)
    expect(out.closeCode).not.toBeNull()
  })

  it("refuses a hello of another major that does not decode as this one's, still saying which side", async () => {
    const out = await helloAndWait({ type: "hello", protocolVersion: 2, protocolMinor: 0, daemonVersion: "1.0.0" })
    expect(out.messages[0]).toMatchObject({ type: "refused", code: "incompatible_protocol" })
    expect(out.messages[0]!.message).toMatch(/upgrade the server to overlord 1\.0\.0 or later/)
  })

  it("ignores a message of a type it does not know (a newer daemon's) without an error", async () => {
    const out = await new Promise<Record<string, unknown>[]>((resolve) => {
      const ws = new WebSocket(url)
      const messages: Record<string, unknown>[] = []
      ws.onopen = () => ws.send(JSON.stringify(hello()))
      ws.onmessage = (e) => {
        const m = JSON.parse(String(e.data)) as Record<string, unknown>
        messages.push(m)
        if (m.type === "welcome") {
          ws.send(JSON.stringify({ type: "machine-renamed", name: "from the future" }))
          // A broken message of a known type is still answered as an error: the end marker.
          ws.send(JSON.stringify({ type: "status", filesTracked: -1 }))
        }
        if (m.type === "error") {
          ws.close()
          resolve(messages)
        }
      }
    })
    expect(out.map((m) => m.type)).toEqual(["welcome", "error"])
    expect(String(out[1]!.message)).not.toContain("machine-renamed")
  })

  it("refuses an unknown token with unauthorized, then closes", async () => {
    const out = await helloAndWait(hello({ token: "ovl_machine_not-a-real-token" }))
    expect(out.messages).toEqual([{ type: "refused", code: "unauthorized", message: expect.stringMatching(/token/) }])
    expect(out.closeCode).not.toBeNull()
  })

  it("refuses a real machine token presented for another machine id", async () => {
    const out = await helloAndWait(hello({ machineId: randomUUID() }))
    expect(out.messages[0]).toMatchObject({ type: "refused", code: "unauthorized" })
    expect(out.closeCode).not.toBeNull()
  })

  it("refuses a message before hello with bad_message", async () => {
    const out = await helloAndWait({ type: "status", filesTracked: 0, bytesPending: 0 })
    expect(out.messages[0]).toMatchObject({ type: "refused", code: "bad_message" })
    expect(out.closeCode).not.toBeNull()
  })
})
