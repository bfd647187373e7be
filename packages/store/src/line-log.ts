/**
 * The line log: the bytes of every stored line, appended to one file beside the SQLite database, which
 * keeps only where each line lies (`entries.raw_at`, `raw_len`).
 *
 * Why: a line stored as a blob is written twice, into the WAL and again by the checkpoint, and SQLite
 * checksums and copies it page by page on the way. Line bytes are ~99 % of what a backfill writes; in
 * the log each byte is written once, by one `writev` per group of appends (BENCHMARKS.md).
 *
 * How it stays exactly-once without a disk sync per commit:
 * - a group's bytes are written before the transaction that names them commits, so a crash of the
 *   process leaves at most bytes that nothing names (the next group writes after them);
 * - each commit records the log's end (`meta.line_log_end`). After a power loss the database may have
 *   reached the disk ahead of the log; at open, a log shorter than that end makes the engine roll back
 *   each file to its first line the log lost, and the daemon sends those bytes again
 *   (`sqlite/line-log-recovery.ts`);
 * - the checkpointer syncs the log before each checkpoint, so such a loss is at most what the WAL
 *   would have lost too.
 *
 * Appends are only made under SQLite's write lock, so several processes may share a database: the log's
 * end is read from the file at the start of each write transaction (`begin`).
 */
import { closeSync, constants, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writevSync } from "node:fs"

export interface LineLog {
  /**
   * Starts a write transaction's appends at `committedEnd` (the end the last commit recorded, read under
   * the write lock), or at the log's current end; forgets any not written. Bytes past the committed end
   * were written by a transaction that rolled back or a process that died before its commit: nothing
   * names them, and appending over them keeps a line that arrives in pieces growing in place (each kill
   * during a 50 MB line otherwise left the line's bytes so far behind as garbage and appended them again).
   */
  begin(committedEnd?: number): void
  /** Queues bytes to be written at the returned position (written by `flush`, before the commit). */
  append(bytes: Uint8Array): number
  /** Where the next append would land. */
  end(): number
  /** Writes what was appended since the last flush. */
  flush(): void
  /** Forgets what was appended and not written (the transaction rolled back). */
  discard(): void
  /**
   * Bytes [at, at + length), which a committed or flushed append wrote. With `into` (at least `length`
   * long) they are read into it and a view of it is returned: a long line read a chunk at a time
   * reuses one buffer rather than leaving a chunk of garbage per read (100 MB for a 100 MB line).
   */
  read(at: number, length: number, into?: Uint8Array): Uint8Array
  /** Bytes in the log as it stands (on disk, for a file). */
  size(): number
  /** Cuts the log to `length` bytes (a new database starts an empty log). */
  truncate(length: number): void
  /** Waits until what was written is on disk. */
  sync(): void
  /** The file it is, or null in memory. */
  readonly path: string | null
  /** Opens `path` again (it was replaced by a compacted log, `sqlite/line-log-compaction.ts`). */
  reopen(): void
  close(): void
}

/** `writev` takes at most this many buffers (IOV_MAX on Linux). */
const MAX_IOVECS = 1024

class FileLineLog implements LineLog {
  private fd: number
  private next = 0
  /** Position of the first queued buffer. */
  private queuedAt = 0
  private queued: Uint8Array[] = []

  constructor(readonly path: string) {
    // Not O_APPEND: positions are chosen here (`begin`), and writes go exactly there.
    this.fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600)
    this.begin()
  }

  begin(committedEnd?: number): void {
    this.queued = []
    const size = this.size()
    // A committed end past the file's size is a log that lost its tail, which the engine repairs at open.
    this.next = committedEnd !== undefined && committedEnd < size ? committedEnd : size
    this.queuedAt = this.next
  }

  reopen(): void {
    closeSync(this.fd)
    this.fd = openSync(this.path, constants.O_RDWR | constants.O_CREAT, 0o600)
    this.begin()
  }

  append(bytes: Uint8Array): number {
    const at = this.next
    const last = this.queued[this.queued.length - 1]
    // Lines of one payload sit side by side in its buffer: one view, not one per line.
    if (last && last.buffer === bytes.buffer && last.byteOffset + last.length === bytes.byteOffset) {
      this.queued[this.queued.length - 1] = new Uint8Array(last.buffer, last.byteOffset, last.length + bytes.length)
    } else {
      this.queued.push(bytes)
    }
    this.next += bytes.length
    return at
  }

  end(): number {
    return this.next
  }

  discard(): void {
    this.queued = []
    this.next = this.queuedAt
  }

  flush(): void {
    let at = this.queuedAt
    const queued = this.queued
    this.queued = []
    for (let i = 0; i < queued.length; i += MAX_IOVECS) {
      let batch = queued.slice(i, i + MAX_IOVECS)
      let want = 0
      for (const b of batch) want += b.length
      // A short write (a full disk returns one before it fails) is resumed where it stopped.
      while (want > 0) {
        const wrote = writevSync(this.fd, batch, at)
        at += wrote
        want -= wrote
        if (want > 0) batch = dropPrefix(batch, wrote)
      }
    }
    this.queuedAt = at
  }

  read(at: number, length: number, into?: Uint8Array): Uint8Array {
    if (this.queued.length > 0) this.flush()
    const out = into ? into.subarray(0, length) : Buffer.allocUnsafe(length)
    let got = 0
    while (got < length) {
      const n = readSync(this.fd, out, got, length - got, at + got)
      if (n === 0) throw new Error(`line log: ${length} bytes at ${at} asked, the log ends at ${this.size()}`)
      got += n
    }
    return out
  }

  size(): number {
    return fstatSync(this.fd).size
  }

  truncate(length: number): void {
    ftruncateSync(this.fd, length)
    this.begin()
  }

  sync(): void {
    fsyncSync(this.fd)
  }

  close(): void {
    closeSync(this.fd)
  }
}

function dropPrefix(buffers: Uint8Array[], bytes: number): Uint8Array[] {
  const rest: Uint8Array[] = []
  let skip = bytes
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length
      continue
    }
    rest.push(skip > 0 ? b.subarray(skip) : b)
    skip = 0
  }
  return rest
}

/** For `:memory:` databases (tests): the same contract, in one growing buffer. */
class MemoryLineLog implements LineLog {
  readonly path = null
  private bytes = new Uint8Array(64 * 1024)
  private length = 0
  private next = 0

  begin(committedEnd?: number): void {
    this.next = committedEnd !== undefined && committedEnd < this.length ? committedEnd : this.length
  }

  reopen(): void {}

  append(bytes: Uint8Array): number {
    const at = this.next
    this.reserve(at + bytes.length)
    this.bytes.set(bytes, at)
    this.next += bytes.length
    // Nothing to write later: the copy is the write.
    this.length = this.next
    return at
  }

  end(): number {
    return this.next
  }

  flush(): void {}
  discard(): void {}

  read(at: number, length: number, into?: Uint8Array): Uint8Array {
    if (at + length > this.length)
      throw new Error(`line log: ${length} bytes at ${at} asked, the log ends at ${this.length}`)
    if (!into) return this.bytes.slice(at, at + length)
    into.set(this.bytes.subarray(at, at + length))
    return into.subarray(0, length)
  }

  size(): number {
    return this.length
  }

  truncate(length: number): void {
    this.length = Math.min(this.length, length)
    this.next = this.length
  }

  sync(): void {}
  close(): void {}

  private reserve(size: number): void {
    if (size <= this.bytes.length) return
    const grown = new Uint8Array(Math.max(size, this.bytes.length * 2))
    grown.set(this.bytes.subarray(0, this.length))
    this.bytes = grown
  }
}

/** The log beside the database at `databasePath`, or one in memory for `:memory:`. */
export const openLineLog = (databasePath: string): LineLog =>
  databasePath === ":memory:" ? new MemoryLineLog() : new FileLineLog(lineLogPath(databasePath))

export const lineLogPath = (databasePath: string): string => `${databasePath}-lines`

/** Where a stored line's bytes lie in the log (a terminated line's newline follows them). */
export interface LineSpan {
  readonly raw_at: number
  readonly raw_len: number
  readonly terminated: number
}

/**
 * Calls `run(i, j, at, length)` for each run of spans `i..j-1` that lie side by side in the log (the
 * lines of one append do), at most `maxRunBytes` long unless one line alone is longer; `length` covers
 * the last line's newline.
 */
function forEachRun(
  spans: readonly LineSpan[],
  maxRunBytes: number,
  run: (i: number, j: number, at: number, length: number) => void,
): void {
  let i = 0
  while (i < spans.length) {
    const first = spans[i]!
    let end = first.raw_at + first.raw_len + first.terminated
    let j = i + 1
    while (j < spans.length) {
      const s = spans[j]!
      const sEnd = s.raw_at + s.raw_len + s.terminated
      if (s.raw_at !== end || sEnd - first.raw_at > maxRunBytes) break
      end = sEnd
      j++
    }
    run(i, j, first.raw_at, end - first.raw_at)
    i = j
  }
}

const RUN_BYTES = 4 * 1024 * 1024

/** The lines' bytes, without their newline, read a run at a time: a page of entries costs a few reads. */
export function readLines(log: LineLog, spans: readonly LineSpan[]): Uint8Array[] {
  const out: Uint8Array[] = new Array(spans.length)
  forEachRun(spans, RUN_BYTES, (i, j, at, length) => {
    const bytes = log.read(at, length)
    for (let k = i; k < j; k++) {
      const from = spans[k]!.raw_at - at
      out[k] = bytes.subarray(from, from + spans[k]!.raw_len)
    }
  })
  return out
}

/**
 * The lines as the source file held them, newlines included, one buffer per run. For a file's lines in
 * byte order these are the file's bytes.
 */
export function readRuns(log: LineLog, spans: readonly LineSpan[]): Uint8Array[] {
  const out: Uint8Array[] = []
  forEachRun(spans, RUN_BYTES, (_i, _j, at, length) => {
    out.push(log.read(at, length))
  })
  return out
}
