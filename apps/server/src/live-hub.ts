/**
 * Fans stored lines out to the dashboards watching. It learns of new lines two ways: in-process from
 * the sync socket (`stored`, at once), and from the store's change feed, polled every 200 ms while a
 * dashboard is connected, which brings the lines other servers on the same database stored
 * (ARCHITECTURE.md "Scaling out").
 *
 * Each browser socket keeps the last seq it was sent and pulls from the store after it, so replay
 * after a reconnect, live streaming and the feed are the same code path: both ways of learning only
 * wake the pull, which sends each line once whichever woke it first.
 *
 * A socket may subscribe to a session another user shared with its user (issue #11 §5): it then reads
 * as the owner, exactly as the REST routes do (`http-accounts.ts`: the user's own session of that id
 * comes first), and is woken by the owner's lines. The share is checked again before every page sent,
 * so a withdrawal ends the stream at once wherever it was made: through this server `shareWithdrawn`
 * ends the subscription and tells the socket; through another server on the same database the next
 * page is refused, and the periodic check (every 2 s, with the machines) tells the socket.
 */
import type { Api, Live } from "@overlord/protocol"
import type { Actor, FeedChange, FeedPage, Interface as StoreApi, StoredRef } from "@overlord/store"
import { Effect } from "effect"
import { type PumpState, runPump } from "./pump.ts"

export interface LiveSocket {
  send(data: string): unknown
}

interface Watcher extends PumpState {
  readonly socket: LiveSocket
  readonly actor: Actor
  sessionId: string | null
  /**
   * Whose session the subscription reads: the actor itself, or the owner who shared it; null while
   * the subscription is being resolved (nothing is pulled then) or when there is none.
   */
  readAs: Actor | null
  lastSeq: number
}

const PAGE = 500
/**
 * How often the change feed is read while a dashboard is connected. A poll that finds nothing is one
 * primary-key read of the seq counter (measured in `scripts/bench/engines.ts`).
 */
export const FEED_POLL_MS = 200
/** Seqs one feed read covers at most (a backfill through another server: a few reads per poll). */
const FEED_SPAN = 20_000
const FEED_READS_PER_POLL = 4
/**
 * Machines (online, files, pending bytes) change through whichever server a daemon is connected to,
 * without a line stored: every this many polls (2 s) each watched user's machines are read and sent
 * when they differ from what this hub last saw.
 */
const MACHINES_EVERY_POLLS = 10
/** Session summaries (totals over every message) are recomputed at most this often while lines arrive. */
const SESSION_THROTTLE_MS = 1_000

export class LiveHub {
  private readonly watchers = new Set<Watcher>()
  private readonly pendingSessions = new Map<number, Set<string>>()
  private flushTimer: ReturnType<typeof setTimeout> | null = null

  constructor(
    private readonly store: StoreApi,
    private readonly options: { readonly feedPollMs?: number } = {},
  ) {}

  add(socket: LiveSocket, actor: Actor): Watcher {
    const w: Watcher = { socket, actor, sessionId: null, readAs: null, lastSeq: 0, pumping: false, dirty: false }
    this.watchers.add(w)
    void this.sendHealth(w)
    this.startFeed()
    return w
  }

  remove(w: Watcher): void {
    this.watchers.delete(w)
  }

  subscribe(w: Watcher, msg: Live.Subscribe): void {
    const sessionId = msg.sessionId ?? null
    w.sessionId = sessionId
    w.readAs = null
    w.lastSeq = msg.afterSeq
    if (sessionId) void this.resolve(w, sessionId)
  }

  /** Whose session `sessionId` the watcher reads (as `http-accounts.ts` decides for REST), then pulls. */
  private async resolve(w: Watcher, sessionId: string): Promise<void> {
    let readAs: Actor = w.actor
    try {
      const owner = await Effect.runPromise(this.store.sharedSessionOwner(w.actor, sessionId))
      if (owner !== null && (await Effect.runPromise(this.store.getSession(w.actor, sessionId))) === null) {
        readAs = { userId: owner }
      }
    } catch {
      // The store failed: the user's own session (never another's); the client resubscribes on reconnect.
    }
    // Superseded by a later subscribe while the store answered.
    if (w.sessionId !== sessionId || w.readAs !== null) return
    w.readAs = readAs
    void this.pump(w)
  }

  /**
   * The owner withdrew a share (through this server): the grantee's sockets reading that session stop
   * at once and are told, before the withdrawal is answered.
   */
  shareWithdrawn(ownerId: number, sessionId: string, granteeId: number): void {
    for (const w of this.watchers) {
      if (w.actor.userId === granteeId && w.sessionId === sessionId && isShared(w) && w.readAs?.userId === ownerId) {
        this.endShared(w, sessionId)
      }
    }
  }

  private endShared(w: Watcher, sessionId: string): void {
    w.sessionId = null
    w.readAs = null
    send(w, { type: "share-withdrawn", sessionId })
  }

  /**
   * Whether the share a watcher reads through still stands; null when the store cannot say now (nothing
   * is sent then, and the socket is not told the share ended: it may not have).
   */
  private async stillShared(w: Watcher, sessionId: string, ownerId: number): Promise<boolean | null> {
    try {
      return (await Effect.runPromise(this.store.sharedSessionOwner(w.actor, sessionId))) === ownerId
    } catch {
      return null
    }
  }

  /** When lines were last stored: background work (the search index) yields to ingest. */
  lastStoredAt = 0

  /** Called after each committed append. */
  stored(userId: number, refs: readonly StoredRef[]): void {
    this.lastStoredAt = Date.now()
    this.announce(userId, refs)
    this.changed(userId, new Set(refs.map((r) => r.sessionId).filter((s) => s !== "")))
  }

  /** Wakes the pulls of the sockets watching these sessions, and queues their summaries. */
  private changed(userId: number, sessions: ReadonlySet<string>): void {
    for (const w of this.watchers) {
      if (w.readAs?.userId === userId && w.sessionId && sessions.has(w.sessionId)) void this.pump(w)
    }
    const pending = this.pendingSessions.get(userId) ?? new Set<string>()
    this.pendingSessions.set(userId, pending)
    for (const s of sessions) pending.add(s)
    this.flushTimer ??= setTimeout(() => void this.flushSessions(), SESSION_THROTTLE_MS)
  }

  /** A message for every dashboard of the user (remote commands' `command`, `command-relay.ts`). */
  broadcast(userId: number, message: Live.LiveMessage): void {
    for (const w of this.watchers) if (w.actor.userId === userId) send(w, message)
  }

  machinesChanged(userId: number): void {
    for (const w of this.watchers) if (w.actor.userId === userId) void this.sendHealth(w)
  }

  // ---- the change feed: what other servers on this database stored ---------------------------------

  /** The feed position this hub has read up to; null while nobody watches (no polling then). */
  private feedAt: number | null = null
  private feedTimer: ReturnType<typeof setTimeout> | null = null
  private polls = 0
  /** Per watched user, the machines as last sent (JSON), to send health only when they changed. */
  private readonly machinesSeen = new Map<number, string>()
  /** The highest seq `stored` announced per user and session, until the feed passes it. */
  private readonly announced = new Map<string, number>()

  private announce(userId: number, refs: readonly StoredRef[]): void {
    // Not polling: the next start reads the feed from its head, past all of these.
    if (this.feedTimer === null) return
    for (const r of refs) {
      if (r.sessionId === "") continue
      const key = `${userId}\u0000${r.sessionId}`
      if ((this.announced.get(key) ?? 0) < r.seq) this.announced.set(key, r.seq)
    }
  }

  private startFeed(): void {
    this.feedTimer ??= setTimeout(() => void this.pollFeed(), 0)
  }

  private async pollFeed(): Promise<void> {
    if (this.watchers.size === 0) {
      // Nobody watches: stop; the next dashboard starts from the feed's head again.
      this.feedAt = null
      this.feedTimer = null
      this.announced.clear()
      this.machinesSeen.clear()
      return
    }
    try {
      if (this.feedAt === null) {
        this.feedAt = await Effect.runPromise(this.store.feedPosition())
        // A socket that subscribed while the position was read may have pulled before lines that
        // committed below it: one more pull each covers them (the feed covers everything above).
        for (const w of this.watchers) void this.pump(w)
      } else {
        let from: number = this.feedAt
        for (let i = 0; i < FEED_READS_PER_POLL; i++) {
          const page: FeedPage = await Effect.runPromise(this.store.feedAfter(from, FEED_SPAN))
          this.deliverFeed(page.changes)
          this.feedAt = page.position
          for (const [key, seq] of this.announced) if (seq <= page.position) this.announced.delete(key)
          if (page.position - from < FEED_SPAN) break
          from = page.position
        }
      }
      if (++this.polls % MACHINES_EVERY_POLLS === 0) {
        await this.pollMachines()
        await this.pollShares()
      }
    } catch {
      // The database is unreachable: keep the position and read on from it at the next poll.
    }
    this.feedTimer = setTimeout(() => void this.pollFeed(), this.options.feedPollMs ?? FEED_POLL_MS)
  }

  private async pollMachines(): Promise<void> {
    const users = new Set([...this.watchers].map((w) => w.actor.userId))
    for (const userId of this.machinesSeen.keys()) if (!users.has(userId)) this.machinesSeen.delete(userId)
    for (const userId of users) {
      const machines = await Effect.runPromise(this.store.listMachines({ userId }))
      const seen = JSON.stringify(machines)
      const before = this.machinesSeen.get(userId)
      this.machinesSeen.set(userId, seen)
      if (before !== undefined && before !== seen) this.machinesChanged(userId)
    }
  }

  /** Shares withdrawn through another server: their sockets are told (no page was sent since, `pump`). */
  private async pollShares(): Promise<void> {
    for (const w of this.watchers) {
      const sessionId = w.sessionId
      const owner = w.readAs
      if (!sessionId || !owner || !isShared(w)) continue
      const stands = await this.stillShared(w, sessionId, owner.userId)
      if (stands === false && w.sessionId === sessionId && w.readAs === owner) this.endShared(w, sessionId)
    }
  }

  private deliverFeed(changes: readonly FeedChange[]): void {
    const byUser = new Map<number, Set<string>>()
    for (const c of changes) {
      // Stored through this server: its sockets were woken by `stored` already.
      if ((this.announced.get(`${c.userId}\u0000${c.sessionId}`) ?? 0) >= c.lastSeq) continue
      const set = byUser.get(c.userId) ?? new Set<string>()
      byUser.set(c.userId, set)
      set.add(c.sessionId)
    }
    for (const [userId, sessions] of byUser) this.changed(userId, sessions)
  }

  private async flushSessions(): Promise<void> {
    this.flushTimer = null
    const pending = [...this.pendingSessions]
    this.pendingSessions.clear()
    for (const [userId, sessionIds] of pending) {
      // Nobody of this user, nor anyone it shared one of these sessions with, is watching: nothing to compute.
      const sharedWatchers = [...this.watchers].filter(
        (w) => isShared(w) && w.readAs?.userId === userId && w.sessionId !== null && sessionIds.has(w.sessionId),
      )
      if (sharedWatchers.length === 0 && ![...this.watchers].some((w) => w.actor.userId === userId)) continue
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
      // A grantee gets the summary of the shared session it reads, and nothing else of the owner's.
      for (const w of sharedWatchers) {
        for (const session of summaries) if (session.sessionId === w.sessionId) send(w, { type: "session", session })
      }
    }
  }

  private async sendHealth(w: Watcher, headSeq?: number): Promise<void> {
    const machines = await Effect.runPromise(this.store.listMachines(w.actor)).catch(() => [])
    const head = headSeq ?? (await Effect.runPromise(this.store.headSeq(w.actor)).catch(() => 0))
    send(w, { type: "health", machines, headSeq: head })
  }

  private async pump(w: Watcher): Promise<void> {
    try {
      await runPump(w, async () => {
        const sessionId = w.sessionId
        const readAs = w.readAs
        if (!sessionId || !readAs) return
        const shared = readAs.userId !== w.actor.userId
        for (;;) {
          const page = await Effect.runPromise(
            this.store.listEntries(readAs, sessionId, { allFiles: true, after: w.lastSeq, limit: PAGE }),
          )
          if (!page || page.entries.length === 0 || w.sessionId !== sessionId || w.readAs !== readAs) return
          // Checked after the read: what is sent was read while the share stood (a withdrawal through
          // another server is seen here before anything more leaves).
          const stands = shared ? await this.stillShared(w, sessionId, readAs.userId) : true
          if (stands !== true) {
            if (stands === false && w.sessionId === sessionId && w.readAs === readAs) this.endShared(w, sessionId)
            return
          }
          if (w.sessionId !== sessionId || w.readAs !== readAs) return
          send(w, { type: "entries", sessionId, entries: page.entries })
          w.lastSeq = page.entries[page.entries.length - 1]!.seq
          if (page.nextCursor === null) return
        }
      })
    } catch {
      // The socket closed or the store failed; the client resubscribes with its last seq.
    }
  }
}

/** The watcher reads a session another user shared with its user. */
const isShared = (w: Watcher): boolean => w.readAs !== null && w.readAs.userId !== w.actor.userId

function send(w: Watcher, m: Live.LiveMessage): void {
  try {
    w.socket.send(JSON.stringify(m))
  } catch {
    // closed socket: removed on its close event
  }
}
