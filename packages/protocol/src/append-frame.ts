/**
 * The binary append frame, one codec for the daemon, the server and tests:
 *
 *   `[u32 big-endian header length][header JSON, UTF-8][payload][facts JSON, when the header has factsVersion]`
 *
 * (the fields are described at `AppendHeader` in `sync.ts`). Pure: Uint8Array, DataView and
 * TextEncoder/TextDecoder only, no I/O and nothing Node-only, because this package runs in browsers
 * too. The daemon reads each chunk straight into the frame that carries it, so it writes the header
 * in front of the payload in place (`writeAppendHeaderInPlace`) rather than copying the chunk
 * behind a header; `encodeAppendFrame` copies and is meant for tests and small frames.
 */
import { Data, Schema } from "effect"
import { AppendFacts, AppendFactsFromJson, type AppendHeader, AppendHeaderFromJson } from "./sync.ts"

/** Bytes of the length prefix in front of the header. */
export const APPEND_LENGTH_BYTES = 4
/** Longest header a reader accepts; real headers are a few hundred bytes (the file key dominates). */
export const APPEND_HEADER_MAX_BYTES = 64 * 1024

/** What makes a frame unreadable; its bytes are not stored and the sender is told. */
export type AppendFrameProblem =
  | "shorter_than_prefix"
  | "header_length_out_of_range"
  | "invalid_header"
  | "payload_length_mismatch"

export class AppendFrameError extends Data.TaggedError("AppendFrameError")<{
  readonly problem: AppendFrameProblem
  readonly message: string
  /** The Schema issue, for `invalid_header`. */
  readonly cause?: unknown
}> {}

/**
 * Why facts that were sent are not used. Facts are an optimisation: the frame stays valid and its
 * reader computes the facts from the payload itself.
 */
export interface FactsIgnored {
  readonly reason: "other_version" | "invalid" | "line_count_mismatch"
  readonly message: string
}

export interface AppendFrame {
  readonly _tag: "AppendFrame"
  readonly header: AppendHeader
  /** A view into the frame, not a copy: frames are up to 8 MB. */
  readonly payload: Uint8Array
  /** The sender's facts for the payload's lines, when it sent valid ones of the reader's version. */
  readonly facts?: AppendFacts
  readonly factsIgnored?: FactsIgnored
}

/** What a reader needs to judge facts; both come from `@overlord/transcript`, which this package does not load. */
export interface AppendFrameReader {
  /** The `FACTS_VERSION` the reader computes; facts of any other are ignored. */
  readonly factsVersion: number
  /** How many lines the payload holds (`countPieces`): facts come one per line. */
  readonly countLines: (payload: Uint8Array) => number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const decodeHeader = Schema.decodeUnknownExit(AppendHeaderFromJson)
const decodeFacts = Schema.decodeUnknownExit(AppendFactsFromJson)
// Valid facts are the rule: checking them in place is ~2x cheaper than decoding them into new
// objects, and the decoder runs only to say what is wrong with invalid ones.
const isFacts = Schema.is(AppendFacts)
const EMPTY = new Uint8Array(0)

const factsBytes = (facts: AppendFacts | string | Uint8Array): Uint8Array =>
  facts instanceof Uint8Array ? facts : encoder.encode(typeof facts === "string" ? facts : JSON.stringify(facts))

/**
 * A whole frame in a new buffer. Writes what it is given: the header's offsets and `factsVersion`
 * are the caller's (tests build wrong frames on purpose); `facts` may be given already as JSON.
 */
export function encodeAppendFrame(
  header: AppendHeader,
  payload: Uint8Array,
  facts?: AppendFacts | string | Uint8Array,
): Uint8Array {
  const head = encoder.encode(JSON.stringify(header))
  const tail = facts === undefined ? EMPTY : factsBytes(facts)
  const out = new Uint8Array(APPEND_LENGTH_BYTES + head.length + payload.length + tail.length)
  new DataView(out.buffer).setUint32(0, head.length)
  out.set(head, APPEND_LENGTH_BYTES)
  out.set(payload, APPEND_LENGTH_BYTES + head.length)
  out.set(tail, APPEND_LENGTH_BYTES + head.length + payload.length)
  return out
}

/**
 * Writes the length prefix and the header into `buffer` just in front of `payloadStart`, where the
 * payload already lies, and returns the index at which the frame now starts; `null` when they do
 * not fit in front of it (the caller then copies once, with `encodeAppendFrame`).
 */
export function writeAppendHeaderInPlace(
  buffer: Uint8Array,
  payloadStart: number,
  header: AppendHeader,
): number | null {
  const head = encoder.encode(JSON.stringify(header))
  const start = payloadStart - APPEND_LENGTH_BYTES - head.length
  if (start < 0) return null
  new DataView(buffer.buffer, buffer.byteOffset + start, APPEND_LENGTH_BYTES).setUint32(0, head.length)
  buffer.set(head, start + APPEND_LENGTH_BYTES)
  return start
}

/**
 * Writes the facts section into `buffer` from `factsStart` (just behind the payload) and returns how
 * many bytes it took; when it does not fit there, returns it encoded apart instead, to be sent
 * behind the frame.
 */
export function writeAppendFactsInPlace(
  buffer: Uint8Array,
  factsStart: number,
  facts: AppendFacts,
): number | Uint8Array {
  const json = JSON.stringify(facts)
  const written = encoder.encodeInto(json, buffer.subarray(factsStart))
  return written.read === json.length ? written.written : encoder.encode(json)
}

const frameError = (problem: AppendFrameProblem, message: string, cause?: unknown) =>
  new AppendFrameError(cause === undefined ? { problem, message } : { problem, message, cause })

/**
 * Splits a frame into its header (Schema-validated), payload and facts. Unreadable frames give an
 * `AppendFrameError`; facts that cannot be used give the frame without them and `factsIgnored`.
 */
export function decodeAppendFrame(frame: Uint8Array, reader: AppendFrameReader): AppendFrame | AppendFrameError {
  if (frame.length < APPEND_LENGTH_BYTES) {
    return frameError("shorter_than_prefix", "append frame shorter than its length prefix")
  }
  const headerLength = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0)
  if (headerLength > frame.length - APPEND_LENGTH_BYTES || headerLength > APPEND_HEADER_MAX_BYTES) {
    return frameError("header_length_out_of_range", "append header length out of range")
  }
  const start = APPEND_LENGTH_BYTES + headerLength
  const exit = decodeHeader(decoder.decode(frame.subarray(APPEND_LENGTH_BYTES, start)))
  if (exit._tag === "Failure") {
    return frameError("invalid_header", `invalid append header: ${String(exit.cause)}`, exit.cause)
  }
  const header = exit.value
  const end = start + header.toOffset - header.fromOffset
  // Without facts the payload is the rest of the frame; with them, it must at least fit in it.
  const fits = header.factsVersion === undefined ? end === frame.length : end <= frame.length
  if (header.toOffset < header.fromOffset || !fits) {
    return frameError("payload_length_mismatch", `append ${header.seq}: payload length does not match its offsets`)
  }
  const payload = frame.subarray(start, end)
  const read = (factsIgnored?: FactsIgnored, facts?: AppendFacts): AppendFrame => ({
    _tag: "AppendFrame",
    header,
    payload,
    ...(facts ? { facts } : {}),
    ...(factsIgnored ? { factsIgnored } : {}),
  })
  if (header.factsVersion === undefined) return read()
  if (header.factsVersion !== reader.factsVersion) {
    return read({
      reason: "other_version",
      message: `facts version ${header.factsVersion}, this reader's is ${reader.factsVersion}`,
    })
  }
  const json = decoder.decode(frame.subarray(end))
  const facts = parsedFacts(json)
  if (!facts) {
    const exit = decodeFacts(json)
    return read({ reason: "invalid", message: `invalid facts: ${exit._tag === "Failure" ? String(exit.cause) : "?"}` })
  }
  const lines = reader.countLines(payload)
  if (facts.length !== lines) {
    return read({ reason: "line_count_mismatch", message: `facts for ${facts.length} lines, the payload has ${lines}` })
  }
  return read(undefined, facts)
}

function parsedFacts(json: string): AppendFacts | null {
  try {
    const value: unknown = JSON.parse(json)
    return isFacts(value) ? value : null
  } catch {
    // Not JSON: `decodeFacts` says why.
    return null
  }
}
