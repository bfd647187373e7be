/** The live client's command watches: resent from the last event on every reconnect, each event once. */
import type { Api } from "@overlord/protocol"
import { describe, expect, it } from "vitest"
import { LiveClient, type SocketLike } from "../src/live.ts"

class FakeSocket implements SocketLike {
  sent: string[] = []
  onopen: (() => void) | null = null
  onmessage: ((event: { data: unknown }) => void) | null = null
  onclose: (() => void) | null = null
  onerror: (() => void) | null = null
  send(data: string) {
    this.sent.push(data)
  }
  close() {
    this.onclose?.()
  }
}

const ev = (eventSeq: number): Api.CommandEventDto => ({
  eventSeq,
  at: "2026-12-06T12:00:00.000Z",
  event: { kind: "stdout", text: `e${eventSeq}` },
})

describe("LiveClient command watches", () => {
  it("sends watch-command when open, delivers each event once, and resumes after the last one on reconnect", () => {
    const sockets: FakeSocket[] = []
    const timers: (() => void)[] = []
    const client = new LiveClient({
      url: "ws://x/api/v1/live",
      createSocket: () => {
        const s = new FakeSocket()
        sockets.push(s)
        return s
      },
      setTimer: (fn) => timers.push(fn),
      clearTimer: () => undefined,
    })
    const got: number[] = []
    const changed: string[] = []
    client.onCommandEvents((m) => {
      if (m.commandId === "c1") got.push(...m.events.map((e) => e.eventSeq))
    })
    client.onCommand((c) => changed.push(`${c.commandId}:${c.status}`))
    client.watchCommand("c1", -1)
    client.start()
    const first = sockets[0]
    if (!first) throw new Error("no socket")
    first.onopen?.()
    expect(first.sent.map((s) => JSON.parse(s))).toContainEqual({
      type: "watch-command",
      commandId: "c1",
      afterEventSeq: -1,
    })
    const send = (s: FakeSocket, m: unknown) => s.onmessage?.({ data: JSON.stringify(m) })
    send(first, { type: "command-events", commandId: "c1", events: [ev(0), ev(1)] })
    send(first, { type: "command-events", commandId: "c1", events: [ev(1), ev(2)] })
    send(first, { type: "command-events", commandId: "other", events: [ev(0)] })
    send(first, { type: "command", command: { commandId: "c1", status: "running" } })
    expect(got).toEqual([0, 1, 2])
    expect(changed).toEqual(["c1:running"])
    // The socket drops; the reconnect asks for what follows event 2.
    first.close()
    timers.shift()?.()
    const second = sockets[1]
    if (!second) throw new Error("no reconnect")
    second.onopen?.()
    expect(second.sent.map((s) => JSON.parse(s))).toContainEqual({
      type: "watch-command",
      commandId: "c1",
      afterEventSeq: 2,
    })
    send(second, { type: "command-events", commandId: "c1", events: [ev(2), ev(3)] })
    expect(got).toEqual([0, 1, 2, 3])
    // Unwatched: nothing more is delivered, nor asked for on the next reconnect.
    client.unwatchCommand("c1")
    send(second, { type: "command-events", commandId: "c1", events: [ev(4)] })
    expect(got).toEqual([0, 1, 2, 3])
    client.stop()
  })
})
