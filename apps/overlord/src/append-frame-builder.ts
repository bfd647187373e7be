/**
 * A chunk's append frame, built around the chunk where it was read: the chunk is read into a buffer
 * with room in front for the length prefix and header and room behind for its lines' facts, so its
 * bytes are never copied. The layout is `@overlord/protocol`'s append codec (`append-frame.ts`); this
 * only places its parts. Hot path: plain TypeScript.
 */
import { isUtf8 } from "node:buffer"
import { encodeAppendFrame, type Sync, writeAppendFactsInPlace, writeAppendHeaderInPlace } from "@overlord/protocol"
import { FACTS_VERSION, factsOfLines, type LineFacts } from "@overlord/transcript"

/** Space in front of each chunk for its frame's length prefix and header. */
const HEADER_ROOM = 1024
/**
 * Space behind a chunk for its lines' facts, which are written in place rather than concatenated
 * (a copy of every byte shipped). Facts run at ~4 % of the bytes; frames of short lines that need
 * more are assembled by copying.
 */
const FACTS_ROOM = 64 * 1024

/** A buffer for a chunk of up to `want` bytes and the frame around it. */
export function allocFrame(want: number): Buffer {
  return Buffer.allocUnsafe(HEADER_ROOM + want + FACTS_ROOM)
}

/** Where to read the chunk (`want` bytes) with the `before` bytes in front of it: in the header's room. */
export function chunkRoom(frame: Buffer, want: number, before: number): Buffer {
  return frame.subarray(HEADER_ROOM - before, HEADER_ROOM + want)
}

/** The header's fields but those the frame decides (`toOffset` from the chunk, `factsVersion`). */
export type AppendOf = Omit<Sync.AppendHeader, "type" | "toOffset" | "factsVersion">

/**
 * The frame for the chunk at `frame[HEADER_ROOM, HEADER_ROOM + length)`: its header written just in
 * front of it and its facts, when the server takes them (`factsFrameLimit` > 0, from welcome), just
 * behind it. `onFacts` sees each frame's line facts.
 */
export function finishFrame(
  frame: Buffer,
  length: number,
  append: AppendOf,
  factsFrameLimit: number,
  onFacts?: (facts: readonly (LineFacts | null)[]) => void,
): Uint8Array {
  const end = HEADER_ROOM + length
  const payload = frame.subarray(HEADER_ROOM, end)
  // Facts written in place behind the payload (`factsInPlace` bytes), or built apart when they
  // did not fit there.
  let factsInPlace = 0
  let facts: Uint8Array | null = null
  if (factsFrameLimit > 0) {
    // The server's storing thread is the backfill's bottleneck; this thread has time to parse.
    const lineFacts = factsOfLines(payload, isUtf8)
    onFacts?.(lineFacts)
    const written = writeAppendFactsInPlace(frame, end, lineFacts)
    if (typeof written === "number") factsInPlace = written
    else facts = written
    // Frames of many short lines can carry more facts than bytes: then the server parses them.
    if (end + factsInPlace + (facts?.length ?? 0) > factsFrameLimit) {
      factsInPlace = 0
      facts = null
    }
  }
  const hasFacts = factsInPlace > 0 || facts !== null
  const header: Sync.AppendHeader = {
    type: "append",
    ...append,
    toOffset: append.fromOffset + length,
    ...(hasFacts ? { factsVersion: FACTS_VERSION } : {}),
  }
  // The header goes just in front of the chunk, in place: the chunk's bytes are never copied.
  const start = writeAppendHeaderInPlace(frame, HEADER_ROOM, header)
  let message: Uint8Array
  if (start !== null) {
    message = frame.subarray(start, end + factsInPlace)
    if (facts) message = Buffer.concat([message, facts])
  } else {
    // A header longer than the room (a very long path): copy once.
    message = encodeAppendFrame(header, payload, facts ?? frame.subarray(end, end + factsInPlace))
  }
  return message
}
