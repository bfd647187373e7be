/**
 * The files a sync engine tails: per file, what the server holds (its cursor, adopted at each welcome)
 * and what was sent, what the disk says now (stat facts, applied in the order they were asked for),
 * and the bytes that tell an append from a rewrite. It reads and stats; it never sends: it says what it
 * found (a reset reason, an in-place change) and the engine acts on it.
 */
import { stat } from "node:fs/promises"
import type { Sync } from "@overlord/protocol"
import { type FileFacts, readBefore, statFile } from "./file-reader.ts"

export interface Tracked {
  readonly fileKey: string
  readonly path: string
  generation: number
  /** The server's offset as last acknowledged. */
  acked: number
  /** Where the next append starts (acked + in flight). */
  sent: number
  /**
   * Upper bound of where the server's stored lines end. Past `acked` after a reset (the server keeps
   * the lines that still fit while the file is re-read), so a shrink below it needs another reset.
   */
  storedEnd: number
  identity: string | null
  size: number
  mtimeMs: number
  /**
   * Ticket of the stat behind `size`. Stats resolve out of order (they run on a thread pool), so an
   * answer asked for before the one already applied is stale and must not shrink `size` back.
   */
  statTicket: number
  lastGrowthAt: number
  live: boolean
  /** Bumped on every resync, so late answers to abandoned appends are ignored. */
  epoch: number
  reading: boolean
  verified: boolean
  partialTimer: ReturnType<typeof setTimeout> | null
  /**
   * Its last read failed (made unreadable, an I/O error): what failed, how many times in a row, and
   * the timer of its next try (`SyncEngine.readFailed`). Null once a read succeeds.
   */
  readFailure: { reason: string; attempt: number; timer: ReturnType<typeof setTimeout> | null } | null
  /**
   * The last bytes (at most `TAIL_BYTES`) before `checkEnd`, as the server holds them: what this
   * daemon shipped there, or the server's `tail` at welcome. When `checkEnd === sent`, the next read
   * takes the bytes in front of `sent` with it and compares: a file rewritten in place (same inode,
   * O_TRUNC, then a longer write) only ever looks like growth, and its new bytes past the old length
   * must not be appended to the old ones.
   */
  check: Uint8Array
  checkEnd: number
  /** A look at the bytes before `checkEnd` after a change without growth is under way. */
  checkingInPlace: boolean
}

/** What new stat facts say about a file (`FileSource.observe`). */
export type Observed =
  /** A new inode or a file shorter than what was sent or stored: it must be re-read from byte 0. */
  | "replaced"
  | "shrunk"
  /** Its time changed but not its size: the bytes before `checkEnd` are to be compared again. */
  | "touched"
  | null

/** Bytes before an offset compared to tell a rewrite from an append: what the server's `tail` holds. */
const TAIL_BYTES = 32
export const NO_BYTES = new Uint8Array(0)
export const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)

export class FileSource {
  private readonly files = new Map<string, Tracked>()
  private statTickets = 0

  get(fileKey: string): Tracked | undefined {
    return this.files.get(fileKey)
  }

  has(fileKey: string): boolean {
    return this.files.has(fileKey)
  }

  values(): IterableIterator<Tracked> {
    return this.files.values()
  }

  get size(): number {
    return this.files.size
  }

  /** No longer read (deleted or gone). */
  delete(fileKey: string): void {
    this.files.delete(fileKey)
  }

  /** Bytes on disk the server has not acknowledged. */
  bytesPending(): number {
    let pending = 0
    for (const t of this.files.values()) pending += Math.max(0, t.size - t.acked)
    return pending
  }

  /** Starts tracking the file at `path` (`created`), or gives the one tracked already; null when it is not there. */
  async track(
    fileKey: string,
    path: string,
    /** A stat taken already (the start-up scan's): the file is not stat'ed again. */
    known?: FileFacts,
  ): Promise<{ t: Tracked; created: boolean } | null> {
    const { facts, ticket } = known ? { facts: known, ticket: ++this.statTickets } : await this.stat(path)
    if (!facts) return null
    const existing = this.files.get(fileKey)
    if (existing) return { t: existing, created: false }
    const t: Tracked = {
      fileKey,
      path,
      generation: 0,
      acked: 0,
      sent: 0,
      storedEnd: 0,
      identity: facts.identity,
      size: facts.size,
      mtimeMs: facts.mtimeMs,
      statTicket: ticket,
      lastGrowthAt: Date.now(),
      live: false,
      epoch: 0,
      reading: false,
      verified: false,
      partialTimer: null,
      readFailure: null,
      check: NO_BYTES,
      checkEnd: 0,
      checkingInPlace: false,
    }
    this.files.set(fileKey, t)
    return { t, created: true }
  }

  /** Whether the file at `path` is not what is known of `t` (a look for what the watcher missed). */
  async differs(t: Tracked, path: string): Promise<boolean> {
    const facts = await statFile(path)
    // The time too: an in-place edit that kept the size changes nothing else.
    return facts !== null && (facts.size !== t.size || facts.identity !== t.identity || facts.mtimeMs !== t.mtimeMs)
  }

  /** Stats `path`, with a ticket saying in which order it was asked for. */
  async stat(path: string): Promise<{ facts: FileFacts | null; ticket: number }> {
    const ticket = ++this.statTickets
    return { facts: await statFile(path), ticket }
  }

  /** Takes the stat with this ticket as `t`'s newest, unless a later-asked one was applied already. */
  private fresh(t: Tracked, ticket: number): boolean {
    if (ticket < t.statTicket) return false
    t.statTicket = ticket
    return true
  }

  /**
   * Notes new stat facts; a shrink or a new inode means the file must be re-read from byte 0.
   * Facts from a stat asked for before the last one applied are older than what we know: ignored.
   * The identity is the caller's to update (with the reset it sends, or at once when it cannot).
   */
  observe(t: Tracked, facts: FileFacts, ticket: number): Observed {
    if (!this.fresh(t, ticket)) return null
    if (facts.size !== t.size || facts.mtimeMs !== t.mtimeMs) t.lastGrowthAt = Date.now()
    const replaced = t.identity !== null && facts.identity !== t.identity
    const shrunk = facts.size < Math.max(t.sent, t.storedEnd)
    const touchedInPlace = !replaced && !shrunk && facts.size === t.size && facts.mtimeMs !== t.mtimeMs
    t.size = facts.size
    t.mtimeMs = facts.mtimeMs
    if (replaced) return "replaced"
    if (shrunk) return "shrunk"
    return touchedInPlace ? "touched" : null
  }

  /**
   * Adopts the server's cursor for a file and says whether the file on disk no longer matches what
   * the server stored (shrunk, replaced, or rewritten before the cursor): then it must be re-read from
   * 0. Null when the file is not there.
   */
  async adopt(
    t: Tracked,
    cursor: Sync.FileCursor | undefined,
    /** The stat `t` was just tracked from: looking again would learn nothing new. */
    known?: FileFacts,
  ): Promise<{ readonly reset: Sync.Reset["reason"] | null; readonly identity: string } | null> {
    const { facts, ticket } = known ? { facts: known, ticket: t.statTicket } : await this.stat(t.path)
    if (!facts) return null
    if (this.fresh(t, ticket)) t.size = facts.size
    t.epoch += 1
    t.generation = cursor?.generation ?? 0
    t.acked = t.sent = cursor?.offset ?? 0
    t.storedEnd = Math.max(cursor?.offset ?? 0, cursor?.end ?? 0)
    t.verified = true
    // What the server holds before its offset is what the next read must find there.
    t.check = cursor?.tail ? new Uint8Array(Buffer.from(cursor.tail, "base64")) : NO_BYTES
    t.checkEnd = t.sent
    if (!cursor || t.storedEnd === 0) {
      // Nothing stored yet: whatever file is at this path now is read from the start.
      t.identity = facts.identity
      return { reset: null, identity: facts.identity }
    }
    let reason: Sync.Reset["reason"] | null = null
    // Below `end`, not just `offset`: lines kept past the offset after a reset must not outlive the file.
    if (facts.size < t.storedEnd) reason = "shrunk"
    else if (cursor.identity && cursor.identity !== facts.identity) reason = "replaced"
    else if (cursor.tail) {
      const expected = Buffer.from(cursor.tail, "base64")
      // A file that cannot be read now (chmod 000) is not thereby rewritten: its next read compares
      // the same bytes (`check`), once it can be read.
      const actual = await readBefore(t.path, cursor.offset, TAIL_BYTES).catch(() => null)
      if (
        actual !== null &&
        !Buffer.from(actual)
          .subarray(Math.max(0, actual.length - expected.length))
          .equals(expected)
      ) {
        reason = "rewritten"
      }
    }
    t.identity = facts.identity
    return { reset: reason, identity: facts.identity }
  }

  /** `t` is re-read from byte 0 under a new generation (the caller sends the `reset`). */
  reset(t: Tracked, identity: string): void {
    t.generation += 1
    t.epoch += 1
    // The server keeps only the lines that fit in `size`: its stored end is now at most that.
    t.storedEnd = Math.min(Math.max(t.storedEnd, t.sent, t.acked), t.size)
    t.acked = t.sent = 0
    t.check = NO_BYTES
    t.checkEnd = 0
    t.identity = identity
  }

  /** The bytes the next read must find in front of `sent`: what the server holds there, when known. */
  expectedBefore(t: Tracked): Uint8Array {
    return t.checkEnd === t.sent ? t.check : NO_BYTES
  }

  /** Keeps the last bytes shipped, the check for the next read, which starts where they end. */
  shipped(t: Tracked, before: Uint8Array, bytes: Uint8Array, end: number): void {
    if (bytes.length >= TAIL_BYTES) {
      t.check = bytes.slice(bytes.length - TAIL_BYTES)
    } else {
      const keep = Math.min(before.length, TAIL_BYTES - bytes.length)
      const check = new Uint8Array(keep + bytes.length)
      check.set(before.subarray(before.length - keep))
      check.set(bytes, keep)
      t.check = check
    }
    t.checkEnd = end
  }

  /**
   * Compares the bytes before `checkEnd` on disk with those the server holds, as a read would:
   * "stale" when `t` was reset, resynced or read further meanwhile, or cannot be read now.
   */
  async compareCheck(t: Tracked): Promise<"same" | "differs" | "stale"> {
    const { check, checkEnd, generation, epoch } = t
    const actual =
      check.length > 0 && checkEnd > 0 ? await readBefore(t.path, checkEnd, check.length).catch(() => null) : check
    // Unreadable now: nothing is known (the next read compares the same bytes).
    if (actual === null || t.generation !== generation || t.epoch !== epoch || t.checkEnd !== checkEnd) return "stale"
    return sameBytes(actual, check) ? "same" : "differs"
  }
}

/** The files that are not there (a stat each): only ENOENT, as one we may not read is not gone. */
export async function goneFrom(files: readonly { fileKey: string; path: string }[]): Promise<string[]> {
  const gone: string[] = []
  for (const f of files) {
    try {
      await stat(f.path)
    } catch (error) {
      // Only a file that is not there: one we may not read is not gone.
      if ((error as NodeJS.ErrnoException).code === "ENOENT") gone.push(f.fileKey)
    }
  }
  return gone
}
