/**
 * Reading the next chunk of a session file. Memory is bounded by `maxBytes` whatever the line or
 * file size: a line longer than a chunk is shipped in pieces that the server joins back.
 */
import { closeSync, openSync, readSync } from "node:fs"
import { open, stat } from "node:fs/promises"

export interface FileFacts {
  readonly size: number
  /** `dev:ino`: a replaced file (new inode at the same path) must be re-read from byte 0. */
  readonly identity: string
  readonly mtimeMs: number
}

export async function statFile(path: string): Promise<FileFacts | null> {
  try {
    const s = await stat(path, { bigint: true })
    if (!s.isFile()) return null
    return { size: Number(s.size), identity: `${s.dev}:${s.ino}`, mtimeMs: Number(s.mtimeMs) }
  } catch {
    return null
  }
}

export interface Chunk {
  readonly from: number
  readonly bytes: Uint8Array
  /**
   * The bytes just before `from`, read in the same `pread` as `bytes` (empty unless asked for): the
   * caller compares them with what it shipped there, to tell an append from a rewrite.
   */
  readonly before: Uint8Array
}

/**
 * What to send from a read at `from`:
 * - up to and including the last newline;
 * - a whole full-size read with no newline (a huge line, continued by the next chunk);
 * - a trailing fragment without newline only when the file has been idle (`shipPartial`), since
 *   Claude Code writes whole lines and a fragment is usually a write in progress.
 */
export function chooseChunk(
  read: Uint8Array,
  from: number,
  full: boolean,
  shipPartial: boolean,
  before: Uint8Array = EMPTY,
): Chunk | null {
  if (read.length === 0) return null
  if (shipPartial) return { from, bytes: read, before }
  const nl = read.lastIndexOf(0x0a)
  if (nl >= 0) return { from, bytes: read.subarray(0, nl + 1), before }
  return full ? { from, bytes: read, before } : null
}

const EMPTY = new Uint8Array(0)

/**
 * Reads up to `buffer.length - before` bytes at `from`, and the `before` bytes in front of them, in
 * one `pread` at `from - before` into `buffer`: the caller sizes it to what it expects to find (at
 * most a chunk, plus `before`), so a small file does not cost a whole chunk of memory. The chunk is
 * `buffer[before..]`, the bytes in front of it `chunk.before` (shorter when the file no longer
 * reaches `from`).
 *
 * When a chunk came back, the bytes in front of it are read once more, after it: `chunk.before` is
 * never older than the chunk. A pread is not atomic against a concurrent O_TRUNC + write: Linux
 * copies page batch by page batch and reads the size per batch, so with `from` on a page boundary
 * one pread can return the old file's bytes before `from` and the new file's bytes from `from` on,
 * and that pair passes the caller's comparison (from reading the kernel's `filemap_read`; a window of
 * microseconds, never seen in a test). Read after the chunk, the bytes in front of it
 * come from the new file whenever any byte of the chunk did (a rewrite writes from the start), and
 * differ. One more pread of 32 bytes from the page cache per chunk.
 *
 * Synchronous: session files are local and a chunk is at most 1 MiB, so a read holds this thread for
 * tens of microseconds (a few hundred for a whole chunk). Through `fs/promises` the open, read and
 * close were three round trips through the thread pool, 110–200 µs a file on this VM against 22–29 µs
 * here (2,451 small files of the benchmark corpus), and a backfill of a history reads one file after
 * another. (The engine still `await`s it: tests hold reads at a gate to drive interleavings.)
 */
export function readChunk(
  path: string,
  from: number,
  buffer: Uint8Array,
  chunkBytes: number,
  shipPartial: boolean,
  before = 0,
): Chunk | null {
  const ahead = Math.min(before, from)
  const fd = openSync(path, "r")
  try {
    const bytesRead = readSync(fd, buffer, before - ahead, buffer.length - (before - ahead), from - ahead)
    const region = buffer.subarray(before - ahead, before - ahead + bytesRead)
    const got = Math.max(0, bytesRead - ahead)
    const checked = got > 0 && ahead > 0 ? readSync(fd, buffer, before - ahead, ahead, from - ahead) : 0
    // "Full" means a whole chunk without a newline: a line longer than a chunk. Reaching the end
    // of the file, or of a smaller buffer, is not that: its last fragment waits for its newline or
    // for the file to go idle.
    return chooseChunk(
      region.subarray(Math.min(ahead, bytesRead)),
      from,
      got >= chunkBytes,
      shipPartial,
      buffer.subarray(before - ahead, before - ahead + checked),
    )
  } finally {
    closeSync(fd)
  }
}

/** The `length` bytes before `offset`, to compare with what the server stored there. */
export async function readBefore(path: string, offset: number, length: number): Promise<Uint8Array> {
  const start = Math.max(0, offset - length)
  const handle = await open(path, "r")
  try {
    const buf = new Uint8Array(offset - start)
    const { bytesRead } = await handle.read(buf, 0, buf.length, start)
    return buf.subarray(0, bytesRead)
  } finally {
    await handle.close()
  }
}
