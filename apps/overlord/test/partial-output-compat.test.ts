/**
 * `command-partial` (text being written) goes only to a server whose welcome said `commandPartials`:
 * a server before it would answer each with a warning about a type it does not know. And never into
 * the reconnect outbox: held for a reconnect it would be stale, and the complete message is kept
 * anyway. The real `SyncEngine` against a hand-written sync server.
 */
import type { AddressInfo } from "node:net"
import type { Commands } from "@overlord/protocol"
import { waitFor } from "@overlord/testkit/wait"
import { afterEach, describe, expect, it } from "vitest"
import { WebSocketServer } from "ws"
import { testEngine, welcomeMessage } from "./support/engine-fixtures.ts"

function commandServer(welcome: string) {
  const types: string[] = []
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" })
  wss.on("connection", (s) => {
    s.on("message", (data: Buffer, isBinary) => {
      if (isBinary) return
      const msg = JSON.parse(String(data)) as { type: string }
      if (msg.type === "hello") s.send(welcome)
      else if (msg.type.startsWith("command-")) types.push(msg.type)
    })
  })
  const ready = new Promise<string>((r) =>
    wss.once("listening", () => r(`http://127.0.0.1:${(wss.address() as AddressInfo).port}`)),
  )
  return { types, ready, close: () => wss.close() }
}

const partial: Commands.CommandPartial = {
  type: "command-partial",
  commandId: "c1",
  blocks: [{ messageId: "msg_1", index: 0, kind: "text", afterEventSeq: 0, from: 0, text: "Once" }],
}
const event = (eventSeq: number): Commands.CommandEvent => ({
  type: "command-event",
  commandId: "c1",
  eventSeq,
  event: { kind: "stdout", text: `e${eventSeq}` },
})

describe("command-partial and the server's welcome", () => {
  const cleanups: (() => unknown)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  const connected = async (welcome: string) => {
    const server = commandServer(welcome)
    cleanups.push(server.close)
    const engine = testEngine(await server.ready)
    cleanups.push(() => engine.stop())
    // Before the welcome: an event is kept for it, a partial is not.
    engine.sendCommandMessage(event(0))
    engine.sendCommandMessage(partial)
    engine.start()
    await waitFor("the kept event", () => server.types.length >= 1 || null)
    return { server, engine }
  }

  it("sends it to a server that takes it, in order with the events, and keeps none for a reconnect", async () => {
    const { server, engine } = await connected(welcomeMessage({ commandPartials: true }))
    engine.sendCommandMessage(partial)
    engine.sendCommandMessage(event(1))
    await waitFor("the second event", () => server.types.length >= 3 || null)
    expect(server.types).toEqual(["command-event", "command-partial", "command-event"])
  })

  it("sends none to a server whose welcome does not say it takes them (one released before)", async () => {
    const { server, engine } = await connected(welcomeMessage())
    engine.sendCommandMessage(partial)
    engine.sendCommandMessage(event(1))
    await waitFor("the second event", () => server.types.length >= 2 || null)
    expect(server.types).toEqual(["command-event", "command-event"])
  })
})
