/**
 * Fans stored lines out to the dashboards watching. In-process: one server instance. (Several
 * instances on one database will share a change feed kept in the database; see ARCHITECTURE.md.)
 *
 * Each browser socket keeps the last seq it was sent and pulls from the store after it, so replay
 * after a reconnect and live streaming are the same code path: nothing missed, nothing twice.
 */
import type { Api, Live } from "@overlord/protocol"
import type { Actor, Interface as StoreApi, StoredRef } from "@overlord/store"
import { Effect } from "effect"

export interface LiveSocket {
  send(data: string): unknown
}

interface Watcher {
  readonly socket: LiveSocket
  readonly actor: Actor
  sessionId: string | null
  lastSeq: number
  pumping: boolean
  dirty: boolean
}

const PAGE = 500
/** Session summaries (totals over every message) are recomputed at most this often while lines arrive. */
const SESSION_THROTTLE_MS = 1_000

export class LiveHub {
  private readonly watchers = new Set<Watcher>()
  private readonly pendingSessions = new Map<number, Set<string>>()
  private flushTimer: ReturnType<typeof setTimeout> | null = null

  constructor(private readonly store: StoreApi) {}

  add(socket: LiveSocket, actor: Actor): Watcher {
    const w: Watcher = { socket, actor, sessionId: null, lastSeq: 0, pumping: false, dirty: false }
    this.watchers.add(w)
    void this.sendHealth(w)
    return w
  }

  remove(w: Watcher): void {
    this.watchers.delete(w)
  }

  subscribe(w: Watcher, msg: Live.Subscribe): void {
    w.sessionId = msg.sessionId ?? null
    w.lastSeq = msg.afterSeq
    if (w.sessionId) void this.pump(w)
  }

  /** When lines were last stored: background work (the search index) yields to ingest. */
  lastStoredAt = 0

  /** Called after each committed append. */
  stored(userId: number, refs: readonly StoredRef[]): void {
    this.lastStoredAt = Date.now()
    const sessions = new Set(refs.map((r) => r.sessionId).filter((s) => s !== ""))
    for (const w of this.watchers) {
      if (w.actor.userId === userId && w.sessionId && sessions.has(w.sessionId)) void this.pump(w)
    }
    const pending = this.pendingSessions.get(userId) ?? new Set<string>()
    this.pendingSessions.set(userId, pending)
    for (const s of sessions) pending.add(s)
    this.flushTimer ??= setTimeout(() => void this.flushSessions(), SESSION_THROTTLE_MS)
  }

  machinesChanged(userId: number): void {
    for (const w of this.watchers) if (w.actor.userId === userId) void this.sendHealth(w)
  }

  private async flushSessions(): Promise<void> {
    this.flushTimer = null
    const pending = [...this.pendingSessions]
    this.pendingSessions.clear()
    for (const [userId, sessionIds] of pending) {
      // Nobody of this user is watching: nothing to compute.
      if (![...this.watchers].some((w) => w.actor.userId === userId)) continue
      const actor = { userId }
      const summaries: Api.SessionSummary[] = []
      for (const id of sessionIds) {
        const detail = await Effect.runPromise(this.store.getSession(actor, id)).catch(() => null)
        if (detail) summaries.push(detail.session)
      }
      const headSeq = await Effect.runPromise(this.store.headSeq(actor)).catch(() => 0)
      for (const w of this.watchers) {
        if (w.actor.userId !== userId) continue
        for (const session of summaries) send(w, { type: "session", session })
        void this.sendHealth(w, headSeq)
      }
    }
  }

  private async sendHealth(w: Watcher, headSeq?: number): Promise<void> {
    const machines = await Effect.runPromise(this.store.listMachines(w.actor)).catch(() => [])
    const head = headSeq ?? (await Effect.runPromise(this.store.headSeq(w.actor)).catch(() => 0))
    send(w, { type: "health", machines, headSeq: head })
  }

  private async pump(w: Watcher): Promise<void> {
    if (w.pumping) {
      w.dirty = true
      return
    }
    w.pumping = true
    try {
      do {
        w.dirty = false
        const sessionId = w.sessionId
        if (!sessionId) break
        for (;;) {
          const page = await Effect.runPromise(
            this.store.listEntries(w.actor, sessionId, { allFiles: true, after: w.lastSeq, limit: PAGE }),
          )
          if (!page || page.entries.length === 0 || w.sessionId !== sessionId) break
          send(w, { type: "entries", sessionId, entries: page.entries })
          w.lastSeq = page.entries[page.entries.length - 1]!.seq
          if (page.nextCursor === null) break
        }
      } while (w.dirty)
    } catch {
      // The socket closed or the store failed; the client resubscribes with its last seq.
    } finally {
      w.pumping = false
    }
  }
}

function send(w: Watcher, m: Live.LiveMessage): void {
  try {
    w.socket.send(JSON.stringify(m))
  } catch {
    // closed socket: removed on its close event
  }
}
