/** Where a file stands, as the daemon is told: in an ack, at welcome and on a rejection. */
import type { Sync } from "@overlord/protocol"
import { concatBytes } from "../lines.ts"
import type { FileRow } from "./dialect.ts"

/** How many bytes before the offset a cursor carries, so the daemon can tell a file rewritten in place. */
export const TAIL_BYTES = 32
/** Live lines read for a tail: two are always enough for 32 bytes, or the file is shorter. */
export const TAIL_LINES = 2

/** An ack carries only where the file now stands; identity and tail matter at welcome and on rejection. */
export const ackCursor = (file: FileRow): Sync.FileCursor => ({
  fileKey: file.file_key,
  generation: file.generation,
  offset: file.offset,
})

/**
 * The last `TAIL_BYTES` of the file's last live lines (`lines`: last first, bytes without newline,
 * `terminated` saying whether a newline follows); empty when the file stands at 0.
 */
export function tailOf(
  file: FileRow,
  lines: readonly { readonly bytes: Uint8Array; readonly terminated: number }[],
): Uint8Array {
  if (file.offset === 0) return new Uint8Array()
  let bytes: Uint8Array = new Uint8Array()
  for (const line of lines) {
    const whole = line.terminated ? concatBytes(line.bytes, NEWLINE) : line.bytes
    bytes = concatBytes(whole, bytes)
    if (bytes.length >= TAIL_BYTES) break
  }
  return bytes.subarray(Math.max(0, bytes.length - TAIL_BYTES))
}

const NEWLINE = new Uint8Array([0x0a])

/** A welcome's cursor: the whole cursor, with `gone` when the file is held as gone from its machine. */
export const welcomeCursorOf = (file: FileRow, tail: Uint8Array | null): Sync.FileCursor => ({
  ...cursorOf(file, tail),
  ...(file.source_gone_at != null ? { gone: true } : {}),
})

/** The whole cursor: `tail` null when it is not known (the daemon then only adopts the offset). */
export function cursorOf(file: FileRow, tail: Uint8Array | null): Sync.FileCursor {
  const cursor: { -readonly [K in keyof Sync.FileCursor]: Sync.FileCursor[K] } = {
    fileKey: file.file_key,
    generation: file.generation,
    offset: file.offset,
  }
  if (file.identity) cursor.identity = file.identity
  if (file.live_end > file.offset) cursor.end = file.live_end
  if (tail && tail.length > 0) cursor.tail = Buffer.from(tail).toString("base64")
  return cursor
}
