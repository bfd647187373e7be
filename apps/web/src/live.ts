/**
 * The tab's single live-feed connection. It reconnects with capped exponential backoff and, on
 * every (re)connect, resubscribes from the last seq delivered, so the server replays exactly what
 * was missed; anything at or below that seq is dropped, so nothing is shown twice.
 */
import type { Api, Commands, Live } from "@overlord/protocol"

export type LiveStatus = "connecting" | "open" | "closed"

export type SocketLike = {
  send(data: string): void
  close(): void
  onopen: (() => void) | null
  onmessage: ((event: { data: unknown }) => void) | null
  onclose: (() => void) | null
  onerror: (() => void) | null
}

export type HealthState = { readonly machines: readonly Api.Machine[]; readonly headSeq: number; readonly at: number }

type Listener<T> = (value: T) => void

export const backoffDelay = (attempt: number, random: number = Math.random()): number => {
  const base = Math.min(30_000, 500 * 2 ** Math.min(attempt, 10))
  // Jitter keeps many tabs from reconnecting in lockstep after a server restart.
  return Math.round(base * (0.75 + random * 0.5))
}

/** Which entries are new for the current subscription. Pure, so it is tested without sockets. */
export class SeqCursor {
  lastSeq: number
  constructor(afterSeq: number) {
    this.lastSeq = afterSeq
  }
  accept(entries: readonly Api.Entry[]): Api.Entry[] {
    const fresh = entries.filter((e) => e.seq > this.lastSeq).sort((a, b) => a.seq - b.seq)
    const out: Api.Entry[] = []
    for (const e of fresh) {
      if (e.seq <= this.lastSeq) continue
      this.lastSeq = e.seq
      out.push(e)
    }
    return out
  }
  /** REST pages can run ahead of the feed (e.g. the first tail page); never go backwards. */
  advance(seq: number): void {
    if (seq > this.lastSeq) this.lastSeq = seq
  }
}

export type LiveClientOptions = {
  readonly url: string
  readonly createSocket?: (url: string) => SocketLike
  readonly setTimer?: (fn: () => void, ms: number) => unknown
  readonly clearTimer?: (handle: unknown) => void
}

export class LiveClient {
  private socket: SocketLike | null = null
  private attempt = 0
  private timer: unknown = null
  private stopped = true
  private sessionId: string | undefined = undefined
  private cursor = new SeqCursor(0)
  private readonly entryListeners = new Set<Listener<{ sessionId: string; entries: Api.Entry[] }>>()
  private readonly sessionListeners = new Set<Listener<Api.SessionSummary>>()
  private readonly healthListeners = new Set<Listener<HealthState>>()
  private readonly statusListeners = new Set<Listener<LiveStatus>>()
  /** Watched commands: id -> the last `eventSeq` delivered (-1: none yet), resent on every reconnect. */
  private readonly commandWatches = new Map<string, number>()
  private readonly commandListeners = new Set<Listener<Api.CommandSummary>>()
  private readonly shareWithdrawnListeners = new Set<Listener<string>>()
  private readonly commandEventListeners = new Set<
    Listener<{ commandId: string; events: readonly Api.CommandEventDto[] }>
  >()
  private readonly commandPartialListeners = new Set<
    Listener<{ commandId: string; blocks: readonly Commands.PartialBlock[] }>
  >()
  status: LiveStatus = "closed"
  health: HealthState | null = null

  constructor(private readonly options: LiveClientOptions) {}

  get lastSeq(): number {
    return this.cursor.lastSeq
  }
  get subscribedSession(): string | undefined {
    return this.sessionId
  }

  start(): void {
    if (!this.stopped) return
    this.stopped = false
    this.connect()
  }

  stop(): void {
    this.stopped = true
    if (this.timer !== null) (this.options.clearTimer ?? clearTimeout)(this.timer as ReturnType<typeof setTimeout>)
    this.timer = null
    const s = this.socket
    this.socket = null
    if (s) {
      s.onclose = null
      s.close()
    }
    this.setStatus("closed")
  }

  /**
   * Reconnect at once instead of waiting out the backoff, e.g. when the browser reports that the
   * network is back. A no-op while a socket is open or connecting.
   */
  reconnectNow(): void {
    if (this.stopped || this.socket) return
    if (this.timer !== null) (this.options.clearTimer ?? clearTimeout)(this.timer as ReturnType<typeof setTimeout>)
    this.timer = null
    this.attempt = 0
    this.connect()
  }

  /** Replaces the current subscription; `afterSeq` is the last seq the caller has rendered. */
  subscribe(sessionId: string | undefined, afterSeq: number): void {
    this.sessionId = sessionId
    this.cursor = new SeqCursor(afterSeq)
    this.sendSubscribe()
  }

  /** Entries the caller loaded over REST count as seen: a later resubscribe starts after them. */
  noteSeen(sessionId: string, seq: number): void {
    if (sessionId === this.sessionId) this.cursor.advance(seq)
  }

  subscribeMessage(): Live.ClientMessage {
    return this.sessionId === undefined
      ? { type: "subscribe", afterSeq: this.cursor.lastSeq }
      : { type: "subscribe", sessionId: this.sessionId, afterSeq: this.cursor.lastSeq }
  }

  /**
   * Streams a command's events after `afterEventSeq` (-1: all of them); several at once. Events at or
   * below the last one delivered are dropped, so REST pages and the feed can overlap.
   */
  watchCommand(commandId: string, afterEventSeq: number): void {
    const known = this.commandWatches.get(commandId)
    if (known !== undefined && known >= afterEventSeq) return
    this.commandWatches.set(commandId, afterEventSeq)
    this.sendWatch(commandId)
  }
  /** Stops dispatching a command's events (the server stops at the command's end on its own). */
  unwatchCommand(commandId: string): void {
    this.commandWatches.delete(commandId)
  }
  onCommand(fn: Listener<Api.CommandSummary>): () => void {
    this.commandListeners.add(fn)
    return () => this.commandListeners.delete(fn)
  }
  onCommandEvents(fn: Listener<{ commandId: string; events: readonly Api.CommandEventDto[] }>): () => void {
    this.commandEventListeners.add(fn)
    return () => this.commandEventListeners.delete(fn)
  }

  /** Text of a watched command that the model is still writing (`Live.CommandPartials`). */
  onCommandPartial(fn: Listener<{ commandId: string; blocks: readonly Commands.PartialBlock[] }>): () => void {
    this.commandPartialListeners.add(fn)
    return () => this.commandPartialListeners.delete(fn)
  }

  onEntries(fn: Listener<{ sessionId: string; entries: Api.Entry[] }>): () => void {
    this.entryListeners.add(fn)
    return () => this.entryListeners.delete(fn)
  }
  onSession(fn: Listener<Api.SessionSummary>): () => void {
    this.sessionListeners.add(fn)
    return () => this.sessionListeners.delete(fn)
  }
  /** The owner withdrew the share of the session this tab read (the server ended the subscription). */
  onShareWithdrawn(fn: Listener<string>): () => void {
    this.shareWithdrawnListeners.add(fn)
    return () => this.shareWithdrawnListeners.delete(fn)
  }
  onHealth(fn: Listener<HealthState>): () => void {
    this.healthListeners.add(fn)
    return () => this.healthListeners.delete(fn)
  }
  onStatus(fn: Listener<LiveStatus>): () => void {
    this.statusListeners.add(fn)
    return () => this.statusListeners.delete(fn)
  }

  /** Decodes and dispatches one server message; exposed so the dedup logic is testable directly. */
  handleMessage(raw: string): void {
    let msg: Live.LiveMessage
    try {
      msg = JSON.parse(raw) as Live.LiveMessage
    } catch {
      return
    }
    if (msg.type === "entries") {
      if (msg.sessionId !== this.sessionId) return
      const fresh = this.cursor.accept(msg.entries)
      if (fresh.length === 0) return
      for (const fn of this.entryListeners) fn({ sessionId: msg.sessionId, entries: fresh })
    } else if (msg.type === "session") {
      for (const fn of this.sessionListeners) fn(msg.session)
    } else if (msg.type === "health") {
      this.health = { machines: msg.machines, headSeq: msg.headSeq, at: Date.now() }
      for (const fn of this.healthListeners) fn(this.health)
    } else if (msg.type === "share-withdrawn") {
      if (msg.sessionId !== this.sessionId) return
      // Ended by the server: a reconnect must not ask again.
      this.sessionId = undefined
      for (const fn of this.shareWithdrawnListeners) fn(msg.sessionId)
    } else if (msg.type === "command") {
      for (const fn of this.commandListeners) fn(msg.command)
    } else if (msg.type === "command-events") {
      const last = this.commandWatches.get(msg.commandId)
      if (last === undefined) return
      const fresh = msg.events.filter((e) => e.eventSeq > last)
      if (fresh.length === 0) return
      this.commandWatches.set(msg.commandId, Math.max(last, ...fresh.map((e) => e.eventSeq)))
      for (const fn of this.commandEventListeners) fn({ commandId: msg.commandId, events: fresh })
    } else if (msg.type === "command-partial") {
      if (!this.commandWatches.has(msg.commandId)) return
      for (const fn of this.commandPartialListeners) fn({ commandId: msg.commandId, blocks: msg.blocks })
    }
  }

  private sendWatch(commandId: string): void {
    const after = this.commandWatches.get(commandId)
    if (after === undefined || this.status !== "open" || !this.socket) return
    const msg: Live.ClientMessage = { type: "watch-command", commandId, afterEventSeq: after }
    this.socket.send(JSON.stringify(msg))
  }

  private sendSubscribe(): void {
    if (this.status === "open" && this.socket) this.socket.send(JSON.stringify(this.subscribeMessage()))
  }

  private setStatus(status: LiveStatus): void {
    if (this.status === status) return
    this.status = status
    for (const fn of this.statusListeners) fn(status)
  }

  private connect(): void {
    if (this.stopped) return
    this.setStatus("connecting")
    const create = this.options.createSocket ?? ((url: string) => new WebSocket(url) as unknown as SocketLike)
    let socket: SocketLike
    try {
      socket = create(this.options.url)
    } catch {
      this.scheduleReconnect()
      return
    }
    this.socket = socket
    socket.onopen = () => {
      this.attempt = 0
      this.setStatus("open")
      this.sendSubscribe()
      for (const commandId of this.commandWatches.keys()) this.sendWatch(commandId)
    }
    socket.onmessage = (event) => {
      if (typeof event.data === "string") this.handleMessage(event.data)
    }
    socket.onerror = () => socket.close()
    socket.onclose = () => {
      if (this.socket !== socket) return
      this.socket = null
      this.setStatus("closed")
      this.scheduleReconnect()
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped) return
    const delay = backoffDelay(this.attempt++)
    const handle: unknown = (this.options.setTimer ?? setTimeout)(() => {
      // A timer that was superseded (reconnectNow, stop) must not open a second socket.
      if (this.timer !== handle) return
      this.timer = null
      this.connect()
    }, delay)
    this.timer = handle
  }
}

let shared: LiveClient | null = null

export const liveUrl = (loc: { protocol: string; host: string }): string =>
  `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/api/v1/live`

export const getLiveClient = (): LiveClient => {
  if (!shared) {
    const client = new LiveClient({ url: liveUrl(window.location) })
    shared = client
    client.start()
    // Backoff can grow to 30 s; when the network comes back, do not make the reader wait for it.
    window.addEventListener("online", () => client.reconnectNow())
  }
  return shared
}
