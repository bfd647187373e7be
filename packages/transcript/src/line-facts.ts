/**
 * What a store derives from one line: the indexed columns, what the line says about its session,
 * and its deduplicable usage. Computed once per line, wherever the line is first in hand: the daemon
 * computes them while it reads (its thread is otherwise idle during a backfill) and sends them beside
 * the bytes, so the storing thread does not parse; a server that did not receive them computes them
 * itself with this same function.
 *
 * Absent facts are left out (not null) so the shape is also the compact wire shape,
 * `Sync.LineFacts` in `@overlord/protocol`.
 */
import { indexFields } from "./index-fields.ts"
import { elideLongStrings } from "./line-elision.ts"
import { LineElisionStream } from "./line-elision-stream.ts"
import { splitPieces } from "./lines.ts"
import { parseLine, type TranscriptRecord } from "./records.ts"
import { usageOf } from "./usage.ts"

/**
 * Bumped whenever `analyzeLine` would give a different answer for some line. A server uses facts a
 * daemon sent only when their version equals its own, and computes them itself otherwise.
 * 2: a prompt command (`/review 42`) is a first prompt (dc5b7d4); a daemon of version 1 gave none, and
 * its facts would have left the session untitled (`apps/server/test/fault/old-daemon-command-facts.test.ts`).
 */
export const FACTS_VERSION = 2

export interface LineUsage {
  /** `message.id:requestId` or `message.id`; absent when the response is counted on its own. */
  readonly dedupKey?: string
  readonly model: string
  readonly input: number
  readonly output: number
  readonly cacheWrite: number
  readonly cacheWrite1h: number
  readonly cacheRead: number
  readonly isSidechain?: boolean
}

export interface LineFacts {
  readonly kind: string
  readonly subtype?: string
  readonly uuid?: string
  readonly parentUuid?: string
  /** Only a plausible ISO timestamp: sanitised files carry placeholders. */
  readonly timestamp?: string
  readonly sessionId?: string
  readonly cwd?: string
  readonly model?: string
  readonly isError?: boolean
  readonly customTitle?: string
  readonly aiTitle?: string
  readonly summaryText?: string
  readonly firstPromptText?: string
  readonly usage?: LineUsage
  /** Why this line is not a readable record (shown in the daemon's status); absent when it is. */
  readonly notice?: string
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/
const decoder = new TextDecoder("utf-8")
const strictDecoder = new TextDecoder("utf-8", { fatal: true })

/** Lossy UTF-8 decode for parsing and display; the stored bytes stay as they were. */
export const decodeLine = (bytes: Uint8Array): string => decoder.decode(bytes)

/** Lines at least this long are parsed with the long strings facts do not read emptied (`line-elision.ts`). */
const ELIDE_FROM_BYTES = 4096

/** True when `bytes` are well-formed UTF-8. The daemon passes a native check; this one decodes. */
export type Utf8Check = (bytes: Uint8Array) => boolean

/**
 * The facts of one line (its bytes without the newline). Never throws. `isUtf8` only makes it
 * faster (Bun and Node have a native one in `node:buffer`; this package also runs in browsers).
 */
export function analyzeLine(bytes: Uint8Array, isUtf8: Utf8Check = isUtf8Strict): LineFacts {
  if (bytes.length >= ELIDE_FROM_BYTES) {
    // Emptied strings cannot change the facts, but they hide invalid UTF-8 and only a line that
    // parses gets here, so the notices a long line can carry are checked on the original.
    const text = elideLongStrings(bytes)
    if (text !== null && isUtf8(bytes)) {
      const record = parseLine(text)
      if (record.kind !== "malformed") return factsOfRecord(record, unknownTypeNotice(record))
    }
  }
  return analyzeWholeLine(bytes, isUtf8)
}

/**
 * `analyzeLine` for a line read in chunks, never held whole: a store ends a long line that came in
 * pieces by reading it back from where it keeps it, 1 MiB at a time, and only the elided text is kept
 * (`line-elision-stream.ts`). `finish` gives the facts `analyzeLine` would, or null when the line must
 * be read whole after all (one `elideLongStrings` gives up on, a malformed or short one).
 */
export class LineFactsStream {
  private readonly elision: LineElisionStream

  constructor(isUtf8: Utf8Check = isUtf8Strict) {
    this.elision = new LineElisionStream("facts", isUtf8)
  }

  /** The line's next bytes, without its newline. */
  feed(chunk: Uint8Array): void {
    this.elision.feed(chunk)
  }

  finish(): LineFacts | null {
    if (this.elision.bytes < ELIDE_FROM_BYTES) return null
    const text = this.elision.finish()
    if (text === null) return null
    const record = parseLine(text)
    return record.kind === "malformed" ? null : factsOfRecord(record, unknownTypeNotice(record))
  }
}

/** `analyzeLine` without the elision: parses every byte. The reference its fast path is tested against. */
export function analyzeWholeLine(bytes: Uint8Array, isUtf8: Utf8Check = isUtf8Strict): LineFacts {
  const line = decodeLine(bytes)
  const record = parseLine(line)
  return factsOfRecord(record, noticeOf(record, line, bytes, isUtf8))
}

function factsOfRecord(record: TranscriptRecord, notice: string | null): LineFacts {
  const f = indexFields(record)
  const facts: { -readonly [K in keyof LineFacts]: LineFacts[K] } = { kind: f.kind }
  if (f.subtype !== null) facts.subtype = f.subtype
  if (f.uuid !== null) facts.uuid = f.uuid
  if (f.parentUuid !== null) facts.parentUuid = f.parentUuid
  if (f.timestamp !== null && ISO.test(f.timestamp)) facts.timestamp = f.timestamp
  if (f.sessionId !== null) facts.sessionId = f.sessionId
  if (f.cwd !== null) facts.cwd = f.cwd
  if (f.model !== null) facts.model = f.model
  if (f.isError) facts.isError = true
  if (f.customTitle !== null) facts.customTitle = f.customTitle
  if (f.aiTitle !== null) facts.aiTitle = f.aiTitle
  if (f.summaryText !== null) facts.summaryText = f.summaryText
  if (f.firstPromptText !== null) facts.firstPromptText = f.firstPromptText
  const u = usageOf(record)
  if (u) {
    const usage: { -readonly [K in keyof LineUsage]: LineUsage[K] } = {
      model: u.model ?? "unknown",
      input: u.input,
      output: u.output,
      cacheWrite: u.cacheWrite,
      cacheWrite1h: u.cacheWrite1h,
      cacheRead: u.cacheRead,
    }
    if (u.dedupKey !== null) usage.dedupKey = u.dedupKey
    if (u.isSidechain) usage.isSidechain = true
    facts.usage = usage
  }
  if (notice !== null) facts.notice = notice
  return facts
}

/**
 * The facts of each line of `payload` (file bytes cut by `splitPieces`, as a store cuts an append):
 * one element per line, null for an unterminated trailing piece, whose facts wait until the line is
 * whole. A payload that starts inside a line gets facts for that fragment; a store holding the line
 * open ignores them.
 */
export function factsOfLines(payload: Uint8Array, isUtf8: Utf8Check = isUtf8Strict): (LineFacts | null)[] {
  return splitPieces(payload, 0).map((piece) => (piece.terminated ? analyzeLine(piece.bytes, isUtf8) : null))
}

/** input + output + cache writes + cache reads: the dedup criterion. */
export const usageTotal = (u: LineUsage): number => u.input + u.output + u.cacheWrite + u.cacheRead

function noticeOf(record: TranscriptRecord, line: string, bytes: Uint8Array, isUtf8: Utf8Check): string | null {
  // U+FFFD appears only if the decoder replaced something, or the text really contains it.
  if (line.includes("\uFFFD") && !isUtf8(bytes)) return "invalid UTF-8 (kept byte for byte)"
  if (record.kind === "malformed") {
    return record.reason === "non-object"
      ? "a JSON value that is not an object (kept raw)"
      : `malformed JSON (kept raw): ${record.error}`
  }
  return unknownTypeNotice(record)
}

function unknownTypeNotice(record: TranscriptRecord): string | null {
  return record.kind === "unknown" ? `unknown record type ${JSON.stringify(record.type)} (kept raw)` : null
}

function isUtf8Strict(bytes: Uint8Array): boolean {
  try {
    strictDecoder.decode(bytes)
    return true
  } catch {
    return false
  }
}
