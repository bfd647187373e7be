/**
 * The send scheduler alone: which file sends next and how much may await acks. The engine's tests
 * (live-priority, exactly-once) check the same through a real server; these pin the rules.
 */
import { describe, expect, it } from "vitest"
import { type Sendable, SendScheduler } from "../src/send-scheduler.ts"

interface File extends Sendable {
  readonly fileKey: string
  sent: number
  size: number
  live: boolean
  verified: boolean
  reading: boolean
  partialTimer: unknown
}

const MB = 1024 * 1024
const file = (fileKey: string, pending: number, extra: Partial<File> = {}): File => ({
  fileKey,
  sent: 0,
  size: pending,
  live: false,
  verified: true,
  reading: false,
  partialTimer: null,
  ...extra,
})

function scheduler(limits = { chunkBytes: MB, window: 8, windowBytes: 16 * MB }) {
  const tracked = new Set<string>()
  const s = new SendScheduler<File>(limits, (t) => tracked.has(t.fileKey))
  const track = (...files: File[]) => {
    for (const f of files) tracked.add(f.fileKey)
    return files
  }
  /** Sends one frame of `bytes` for `t`, as the engine does after a read. */
  const send = (t: File, bytes: number) => {
    const seq = s.nextSeq()
    s.launched(seq, { fileKey: t.fileKey, epoch: 0, bytes })
    t.sent += bytes
    return seq
  }
  return { s, tracked, track, send }
}

describe("send scheduler", () => {
  it("serves live files before backfill, backfill in the order queued", () => {
    const { s, track } = scheduler()
    const [older, newer, live] = track(file("older", 10), file("newer", 10), file("live", 10, { live: true }))
    s.queueBackfill(newer!)
    s.queueBackfill(older!)
    s.queueLive(live!)
    expect(s.pick()).toBe(live)
    live!.sent = live!.size
    expect(s.pick()).toBe(newer)
    newer!.sent = newer!.size
    expect(s.pick()).toBe(older)
    older!.sent = older!.size
    expect(s.pick()).toBeNull()
  })

  it("skips a live file that is being read, unverified or waiting out a fragment, and drops a finished one", () => {
    const { s, track } = scheduler()
    const [reading, unverified, waiting, done, ready] = track(
      file("reading", 10, { live: true, reading: true }),
      file("unverified", 10, { live: true, verified: false }),
      file("waiting", 10, { live: true, partialTimer: {} }),
      file("done", 0, { live: true }),
      file("ready", 10, { live: true }),
    )
    for (const f of [reading, unverified, waiting, done, ready]) s.queueLive(f!)
    expect(s.pick()).toBe(ready)
    ready!.sent = ready!.size
    // The skipped ones stay queued: each is served once it can be.
    reading!.reading = false
    expect(s.pick()).toBe(reading)
    reading!.sent = reading!.size
    unverified!.verified = true
    expect(s.pick()).toBe(unverified)
    unverified!.sent = unverified!.size
    expect(s.pick()).toBeNull()
    waiting!.partialTimer = null
    expect(s.pick()).toBe(waiting)
  })

  it("waits for the head of the backfill while it is read or unverified, rather than skipping it", () => {
    const { s, track } = scheduler()
    const [head, next] = track(file("head", 10, { reading: true }), file("next", 10))
    s.queueBackfill(head!)
    s.queueBackfill(next!)
    expect(s.pick()).toBeNull()
    head!.reading = false
    head!.verified = false
    expect(s.pick()).toBeNull()
    head!.verified = true
    expect(s.pick()).toBe(head)
  })

  it("drops files no longer tracked, and backfill files that turned live or wait for a fragment", () => {
    const { s, tracked, track } = scheduler()
    const [gone, turnedLive, waiting, last] = track(
      file("gone", 10),
      file("live", 10),
      file("waiting", 10),
      file("last", 10),
    )
    for (const f of [gone, turnedLive, waiting, last]) s.queueBackfill(f!)
    tracked.delete("gone")
    turnedLive!.live = true
    waiting!.partialTimer = {}
    expect(s.pick()).toBe(last)
    expect(s.backfillQueued()).toEqual(new Set([last]))
    const dropped = file("dropped", 10, { live: true })
    s.queueLive(dropped)
    expect(s.pick()).toBe(last)
  })

  it("stops at the window in frames; backfill leaves the last two frames to live files", () => {
    const { s, track, send } = scheduler({ chunkBytes: MB, window: 4, windowBytes: 64 * MB })
    const [backfill, live] = track(file("backfill", 100), file("live", 100, { live: true }))
    s.queueBackfill(backfill!)
    send(s.pick()!, 1)
    send(s.pick()!, 1)
    expect(s.framesInFlight).toBe(2)
    // Two frames in flight of four: backfill waits, a live file still sends.
    expect(s.pick()).toBeNull()
    s.queueLive(live!)
    expect(s.pick()).toBe(live)
    send(live!, 1)
    const last = send(live!, 1)
    expect(s.pick()).toBeNull()
    expect(s.landed(last)).toEqual({ fileKey: "live", epoch: 0, bytes: 1 })
    expect(s.pick()).toBe(live)
    expect(s.landed(last)).toBeUndefined()
  })

  it("stops at the window in bytes; backfill leaves two chunks of it to live files", () => {
    const { s, track, send } = scheduler({ chunkBytes: MB, window: 64, windowBytes: 8 * MB })
    const [backfill, live] = track(file("backfill", 100 * MB), file("live", 100 * MB, { live: true }))
    s.queueBackfill(backfill!)
    const first = send(s.pick()!, 3 * MB)
    send(s.pick()!, 3 * MB)
    // 6 MB of 8 in flight: within the window, but not two chunks below it.
    expect(s.pick()).toBeNull()
    s.queueLive(live!)
    expect(s.pick()).toBe(live)
    send(live!, 2 * MB)
    expect(s.pick()).toBeNull()
    s.landed(first)
    expect(s.pick()).toBe(live)
    live!.sent = live!.size
    // 5 MB in flight: backfill goes on below 6.
    expect(s.pick()).toBe(backfill)
  })

  it("forgets what was in flight when the connection drops; sequence numbers go on", () => {
    const { s, track, send } = scheduler({ chunkBytes: MB, window: 3, windowBytes: 64 * MB })
    const [live] = track(file("live", 100, { live: true }))
    s.queueLive(live!)
    const seqs = [send(live!, 1), send(live!, 1), send(live!, 1)]
    expect(s.pick()).toBeNull()
    s.dropInFlight()
    expect(s.framesInFlight).toBe(0)
    expect(s.landed(seqs[0]!)).toBeUndefined()
    expect(s.pick()).toBe(live)
    expect(s.nextSeq()).toBe(seqs[2]! + 1)
  })
})
