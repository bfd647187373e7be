/**
 * Which file sends next, and how much may be awaiting acks: the live queue before the backfill queue,
 * within a window counted in frames and in bytes. Plain state, no I/O and no timers: the engine reads
 * and sends, and tells this what it sent and what landed.
 */

/** What the scheduler looks at in a tracked file (`FileSource`'s `Tracked`). */
export interface Sendable {
  readonly fileKey: string
  /** Where the next append starts. */
  readonly sent: number
  /** The file's size as last stat'ed. */
  readonly size: number
  /** Created or appended to since start: never served from the backfill queue. */
  readonly live: boolean
  /** The server's cursor adopted on this connection: nothing is sent before. */
  readonly verified: boolean
  /** A read of it is under way. */
  readonly reading: boolean
  /** Waiting out a trailing fragment without newline. */
  readonly partialTimer: unknown
}

export interface InFlight {
  readonly fileKey: string
  readonly epoch: number
  /** The frame's length: header, lines and facts. */
  readonly bytes: number
}

export interface WindowLimits {
  /** Largest payload per append frame. */
  readonly chunkBytes: number
  /** Append frames awaiting acks at once. */
  readonly window: number
  /** Frame bytes (header, lines, facts) awaiting acks at once. */
  readonly windowBytes: number
}

export class SendScheduler<T extends Sendable> {
  private readonly backfill: T[] = []
  private readonly liveQueue = new Set<T>()
  private readonly inflight = new Map<number, InFlight>()
  private inflightBytes = 0
  private seq = 1

  /** `isTracked`: false once a file is dropped (deleted); it then leaves the queues. */
  constructor(
    private readonly limits: WindowLimits,
    private readonly isTracked: (t: T) => boolean,
  ) {}

  /** A file found by the initial scan (the caller adds them newest first). */
  queueBackfill(t: T): void {
    this.backfill.push(t)
  }

  /** A file with new bytes (or rewound, or reset): served ahead of backfill. */
  queueLive(t: T): void {
    this.liveQueue.add(t)
  }

  /** Out of the live queue (dropped, or waiting out a trailing fragment). */
  unqueueLive(t: T): void {
    this.liveQueue.delete(t)
  }

  /** The files in the backfill queue now. */
  backfillQueued(): ReadonlySet<T> {
    return new Set(this.backfill)
  }

  get framesInFlight(): number {
    return this.inflight.size
  }

  /** The next file with bytes to send: live files first; backfill keeps two window slots free. */
  pick(): T | null {
    const { window, windowBytes, chunkBytes } = this.limits
    if (this.inflight.size >= window || this.inflightBytes >= windowBytes) return null
    for (const t of this.liveQueue) {
      if (!this.isTracked(t)) {
        this.liveQueue.delete(t)
        continue
      }
      if (!t.verified || t.reading || t.partialTimer) continue
      if (t.sent < t.size) return t
      this.liveQueue.delete(t)
    }
    if (this.inflight.size >= window - 2 || this.inflightBytes >= windowBytes - 2 * chunkBytes) return null
    while (this.backfill.length > 0) {
      const t = this.backfill[0]!
      // A file waiting out a trailing fragment leaves the backfill; its timer queues it again.
      if (!this.isTracked(t) || t.live || t.partialTimer || (t.verified && t.sent >= t.size && !t.reading)) {
        this.backfill.shift()
        continue
      }
      if (!t.verified || t.reading) return null
      return t
    }
    return null
  }

  /** The sequence number of the next append. */
  nextSeq(): number {
    return this.seq++
  }

  /**
   * An append handed to the socket: in the window until it lands. The whole frame counts: facts can be
   * as large as the lines (every line a long prompt), and the window bounds the memory frames hold on
   * both sides until they are stored.
   */
  launched(seq: number, flight: InFlight): void {
    this.inflight.set(seq, flight)
    this.inflightBytes += flight.bytes
  }

  /** An append answered: out of the window. */
  landed(seq: number): InFlight | undefined {
    const flight = this.inflight.get(seq)
    if (flight) {
      this.inflight.delete(seq)
      this.inflightBytes -= flight.bytes
    }
    return flight
  }

  /** The connection dropped: no answer will come for what was in flight. */
  dropInFlight(): void {
    this.inflight.clear()
    this.inflightBytes = 0
  }
}
