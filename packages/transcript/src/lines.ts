/**
 * How file bytes become lines, the one rule every reader of an append payload follows (the daemon
 * computing facts, the server checking them, every store engine storing them), so they agree byte
 * for byte.
 *
 * A payload is a byte range of the source file. It usually ends on a newline, but it may end inside
 * a line (a line larger than a frame, or a trailing fragment the daemon shipped after the file went
 * idle). Such a line stays "open": the next payload's first piece continues it.
 */

export interface LinePiece {
  /** Offset of the piece's first byte in the source file. */
  readonly byteOffset: number
  /** The piece without its newline. */
  readonly bytes: Uint8Array
  /** True when the piece ended with `\n` (the newline byte belongs to the line). */
  readonly terminated: boolean
}

const NEWLINE = 0x0a

/** Splits `payload` (file bytes starting at `fromOffset`) into pieces at each newline. */
export function splitPieces(payload: Uint8Array, fromOffset: number): LinePiece[] {
  const pieces: LinePiece[] = []
  let start = 0
  while (start < payload.length) {
    const nl = payload.indexOf(NEWLINE, start)
    if (nl < 0) {
      pieces.push({ byteOffset: fromOffset + start, bytes: payload.subarray(start), terminated: false })
      break
    }
    pieces.push({ byteOffset: fromOffset + start, bytes: payload.subarray(start, nl), terminated: true })
    start = nl + 1
  }
  return pieces
}

/** How many pieces `splitPieces` would cut `payload` into, without cutting it. */
export function countPieces(payload: Uint8Array): number {
  let count = 0
  let start = 0
  while (start < payload.length) {
    const nl = payload.indexOf(NEWLINE, start)
    count += 1
    if (nl < 0) break
    start = nl + 1
  }
  return count
}
