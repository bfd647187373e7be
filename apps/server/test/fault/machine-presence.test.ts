/**
 * Finding 6 of issue #14: a daemon that reconnects opens its new sync socket while the old one's
 * close is still on its way; when that close arrived, the server marked the machine offline
 * although the new connection was live, and the dashboard showed it offline until the next status
 * message (15-20 s). Against a real running server, with the daemon's two sockets.
 */
import { Sync } from "@overlord/protocol"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer } from "./running-server.ts"

const MACHINE = "m-reconnecting"

let server: RunningServer
let apiToken = ""
let machineToken = ""

beforeAll(async () => {
  server = await startServer()
  apiToken = server.engine.issueToken({ userId: server.userId, kind: "api" })
  machineToken = server.engine.issueToken({ userId: server.userId, kind: "machine", machineUid: MACHINE })
})
afterAll(async () => {
  await server?.close()
})

interface DaemonSocket {
  readonly ws: WebSocket
  /** Sends a text message and waits for the server's next answer. */
  roundTrip(message: string): Promise<Sync.ServerMessage>
  close(): Promise<void>
}

/** A sync socket past its welcome, as the daemon opens it. */
async function connect(): Promise<DaemonSocket> {
  const ws = new WebSocket(`${server.url.replace("http", "ws")}/api/v1/sync`)
  const inbox: Sync.ServerMessage[] = []
  const waiting: ((m: Sync.ServerMessage) => void)[] = []
  ws.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as Sync.ServerMessage
    const next = waiting.shift()
    if (next) next(message)
    else inbox.push(message)
  }
  const receive = () =>
    new Promise<Sync.ServerMessage>((resolve) => {
      const queued = inbox.shift()
      if (queued) resolve(queued)
      else waiting.push(resolve)
    })
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve()
    ws.onerror = () => reject(new Error("sync socket failed to open"))
  })
  const roundTrip = (message: string) => {
    ws.send(message)
    return receive()
  }
  const welcome = await roundTrip(
    JSON.stringify({
      type: "hello",
      protocolVersion: Sync.PROTOCOL_VERSION,
      daemonVersion: "test",
      machineId: MACHINE,
      machineName: "laptop",
      token: machineToken,
    }),
  )
  expect(welcome.type).toBe("welcome")
  return {
    ws,
    roundTrip,
    close: () =>
      new Promise<void>((resolve) => {
        ws.onclose = () => resolve()
        ws.close()
      }),
  }
}

const machine = async () => {
  const res = await fetch(`${server.url}/api/v1/machines`, { headers: { authorization: `Bearer ${apiToken}` } })
  const { machines } = (await res.json()) as { machines: { machineUid?: string; name: string; online: boolean }[] }
  expect(machines).toHaveLength(1)
  return machines[0]!
}

describe("machine presence", () => {
  it("keeps a machine online while another of its connections is live, offline after the last closes", async () => {
    const old = await connect()
    const current = await connect()
    expect((await machine()).online).toBe(true)

    await old.close()
    // Let the server finish with the old socket's close: a message through the live one is answered
    // after it, and a few API reads follow (the offline write, when it came, came within a millisecond).
    const answer = await current.roundTrip("not a message")
    expect(answer.type).toBe("error")
    for (let i = 0; i < 5; i++) {
      expect((await machine()).online, `read ${i} after the old socket closed`).toBe(true)
      await Bun.sleep(20)
    }

    await current.close()
    await waitFor(
      "the machine to go offline once its last connection closed",
      async () => !(await machine()).online,
      10_000,
      20,
    )
  })
})
