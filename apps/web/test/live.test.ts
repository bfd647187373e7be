import type { Api } from "@overlord/protocol"
import { describe, expect, it } from "vitest"
import { backoffDelay, LiveClient, liveUrl, SeqCursor, type SocketLike } from "../src/live.ts"

const entry = (seq: number, agentId: string | null = null): Api.Entry => ({
  seq,
  fileKey: "f",
  agentId,
  lineNo: seq,
  byteOffset: seq * 10,
  kind: "user",
  line: "{}",
})

class FakeSocket implements SocketLike {
  sent: string[] = []
  closed = false
  onopen: (() => void) | null = null
  onmessage: ((event: { data: unknown }) => void) | null = null
  onclose: (() => void) | null = null
  onerror: (() => void) | null = null
  send(data: string) {
    this.sent.push(data)
  }
  close() {
    this.closed = true
    this.onclose?.()
  }
}

const setup = () => {
  const sockets: FakeSocket[] = []
  const timers: { fn: () => void; ms: number }[] = []
  const client = new LiveClient({
    url: "ws://x/api/v1/live",
    createSocket: () => {
      const s = new FakeSocket()
      sockets.push(s)
      return s
    },
    setTimer: (fn, ms) => timers.push({ fn, ms }),
    clearTimer: () => undefined,
  })
  return { client, sockets, timers }
}

describe("SeqCursor", () => {
  it("drops entries at or below the last seen seq and sorts the rest", () => {
    const c = new SeqCursor(10)
    expect(c.accept([entry(9), entry(10), entry(12), entry(11)]).map((e) => e.seq)).toEqual([11, 12])
    expect(c.accept([entry(12), entry(13)]).map((e) => e.seq)).toEqual([13])
    expect(c.lastSeq).toBe(13)
  })

  it("drops duplicates within one batch", () => {
    expect(new SeqCursor(0).accept([entry(1), entry(1), entry(2)]).map((e) => e.seq)).toEqual([1, 2])
  })

  it("advance never moves backwards", () => {
    const c = new SeqCursor(5)
    c.advance(3)
    expect(c.lastSeq).toBe(5)
    c.advance(8)
    expect(c.lastSeq).toBe(8)
  })
})

describe("LiveClient", () => {
  it("subscribes on open with the last seq, and dispatches only fresh entries of the session", () => {
    const { client, sockets } = setup()
    const got: number[] = []
    client.onEntries(({ entries }) => got.push(...entries.map((e) => e.seq)))
    client.subscribe("s1", 100)
    client.start()
    sockets[0]?.onopen?.()
    expect(JSON.parse(sockets[0]?.sent[0] ?? "")).toEqual({ type: "subscribe", sessionId: "s1", afterSeq: 100 })

    client.handleMessage(JSON.stringify({ type: "entries", sessionId: "s1", entries: [entry(99), entry(101)] }))
    client.handleMessage(JSON.stringify({ type: "entries", sessionId: "other", entries: [entry(500)] }))
    client.handleMessage(JSON.stringify({ type: "entries", sessionId: "s1", entries: [entry(101), entry(102)] }))
    expect(got).toEqual([101, 102])
    expect(client.lastSeq).toBe(102)
  })

  it("reconnects with backoff and resumes after the last delivered seq, without duplicates", () => {
    const { client, sockets, timers } = setup()
    const got: number[] = []
    client.onEntries(({ entries }) => got.push(...entries.map((e) => e.seq)))
    client.subscribe("s1", 0)
    client.start()
    sockets[0]?.onopen?.()
    sockets[0]?.onmessage?.({
      data: JSON.stringify({ type: "entries", sessionId: "s1", entries: [entry(1), entry(2)] }),
    })
    sockets[0]?.close()
    expect(client.status).toBe("closed")
    expect(timers).toHaveLength(1)

    timers[0]?.fn()
    expect(sockets).toHaveLength(2)
    sockets[1]?.onopen?.()
    expect(JSON.parse(sockets[1]?.sent[0] ?? "")).toEqual({ type: "subscribe", sessionId: "s1", afterSeq: 2 })
    // The server replays from afterSeq; an overlapping replay must not duplicate.
    sockets[1]?.onmessage?.({
      data: JSON.stringify({ type: "entries", sessionId: "s1", entries: [entry(2), entry(3)] }),
    })
    expect(got).toEqual([1, 2, 3])
  })

  it("a withdrawn share ends the subscription: listeners are told, later entries dropped, a reconnect does not ask again", () => {
    const { client, sockets, timers } = setup()
    const got: number[] = []
    const withdrawn: string[] = []
    client.onEntries(({ entries }) => got.push(...entries.map((e) => e.seq)))
    client.onShareWithdrawn((sessionId) => withdrawn.push(sessionId))
    client.subscribe("shared", 0)
    client.start()
    sockets[0]?.onopen?.()
    client.handleMessage(JSON.stringify({ type: "entries", sessionId: "shared", entries: [entry(1)] }))
    // Another session's notice is not this one's.
    client.handleMessage(JSON.stringify({ type: "share-withdrawn", sessionId: "other" }))
    expect(withdrawn).toEqual([])
    client.handleMessage(JSON.stringify({ type: "share-withdrawn", sessionId: "shared" }))
    expect(withdrawn).toEqual(["shared"])
    expect(client.subscribedSession).toBeUndefined()
    client.handleMessage(JSON.stringify({ type: "entries", sessionId: "shared", entries: [entry(2)] }))
    expect(got).toEqual([1])
    sockets[0]?.close()
    timers[0]?.fn()
    sockets[1]?.onopen?.()
    expect(JSON.parse(sockets[1]?.sent[0] ?? "")).toEqual({ type: "subscribe", afterSeq: 1 })
  })

  it("counts REST-loaded entries as seen for the next resubscribe", () => {
    const { client, sockets } = setup()
    client.subscribe("s1", 10)
    client.noteSeen("s1", 40)
    client.noteSeen("other", 99)
    client.start()
    sockets[0]?.onopen?.()
    expect(JSON.parse(sockets[0]?.sent[0] ?? "").afterSeq).toBe(40)
  })

  it("subscribes without a session for overview pages and forwards health and session messages", () => {
    const { client, sockets } = setup()
    const heads: number[] = []
    const sessions: string[] = []
    client.onHealth((h) => heads.push(h.headSeq))
    client.onSession((s) => sessions.push(s.sessionId))
    client.start()
    sockets[0]?.onopen?.()
    client.subscribe(undefined, 0)
    expect(JSON.parse(sockets[0]?.sent.at(-1) ?? "")).toEqual({ type: "subscribe", afterSeq: 0 })
    client.handleMessage(JSON.stringify({ type: "health", machines: [], headSeq: 77 }))
    client.handleMessage(JSON.stringify({ type: "session", session: { sessionId: "abc" } }))
    client.handleMessage("not json")
    expect(heads).toEqual([77])
    expect(sessions).toEqual(["abc"])
    expect(client.health?.headSeq).toBe(77)
  })

  it("reconnectNow() skips the pending backoff, and does nothing while a socket is up", () => {
    const { client, sockets, timers } = setup()
    client.subscribe("s1", 0)
    client.start()
    client.reconnectNow()
    expect(sockets).toHaveLength(1) // still connecting: no second socket
    sockets[0]?.onopen?.()
    sockets[0]?.onmessage?.({ data: JSON.stringify({ type: "entries", sessionId: "s1", entries: [entry(4)] }) })
    sockets[0]?.close()
    expect(timers).toHaveLength(1)
    client.reconnectNow()
    expect(sockets).toHaveLength(2)
    sockets[1]?.onopen?.()
    expect(client.status).toBe("open")
    expect(JSON.parse(sockets[1]?.sent[0] ?? "")).toEqual({ type: "subscribe", sessionId: "s1", afterSeq: 4 })
    // The skipped timer firing later must not open a third socket.
    timers[0]?.fn()
    expect(sockets).toHaveLength(2)
  })

  it("stop() closes the socket and does not reconnect", () => {
    const { client, sockets, timers } = setup()
    client.start()
    sockets[0]?.onopen?.()
    client.stop()
    expect(sockets[0]?.closed).toBe(true)
    expect(timers).toHaveLength(0)
  })
})

describe("helpers", () => {
  it("backoff grows, is capped and jittered", () => {
    expect(backoffDelay(0, 0.5)).toBe(500)
    expect(backoffDelay(3, 0.5)).toBe(4000)
    expect(backoffDelay(50, 0.5)).toBe(30_000)
    expect(backoffDelay(0, 0)).toBe(375)
  })
  it("builds ws/wss URLs", () => {
    expect(liveUrl({ protocol: "https:", host: "o.test" })).toBe("wss://o.test/api/v1/live")
    expect(liveUrl({ protocol: "http:", host: "localhost:3000" })).toBe("ws://localhost:3000/api/v1/live")
  })
})
