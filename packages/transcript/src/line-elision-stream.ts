/**
 * `elideLongStrings` for a line read in chunks: a line too long to hold whole (a 100 MB base64 image
 * arrives in 1 MiB pieces) is scanned piece by piece, and only its elided text is kept, so what a store
 * holds to compute its facts (or its search text) does not follow the line's size (issue #14, finding 4:
 * the store read a 50 MB line back whole, copied it and parsed it, ~3 times the line at its end).
 *
 * Two policies:
 * - `"facts"`: exactly `elideLongStrings`'s output (same kept paths, same checks, same give-ups), fed in
 *   any cut; `line-elision-stream.test.ts` compares the two on every cut of many lines.
 * - `"search"`: every string kept up to its first `SEARCH_STRING_BYTES` bytes, cut before an escape or
 *   a UTF-8 sequence, so the text parses and each string keeps at least `SEARCH_TEXT_MAX` + 2 UTF-16
 *   units (6 bytes per unit at worst, `\uXXXX`; +4 so a surrogate pair cut in two lies past them): the search text, which stops at `SEARCH_TEXT_MAX`
 *   units, is the whole line's. Past `SEARCH_KEPT_BYTES` of kept text, strings are emptied (a line of
 *   hundreds of long strings; its search text would stop long before).
 *
 * Memory: the kept text plus three bytes of an unfinished UTF-8 sequence. Chunks are never retained.
 */
import {
  ELIDE_MIN_BYTES,
  HEX,
  KEY_CONTENT,
  KEY_MESSAGE,
  KEY_OTHER,
  KEY_TEXT,
  KEY_TYPE,
  MAX_DEPTH,
  SIMPLE_ESCAPES,
  TYPE_OTHER,
  TYPE_UNSEEN,
  TYPE_USER,
} from "./line-elision-tables.ts"
import { SEARCH_TEXT_MAX } from "./search-text.ts"

export type ElisionPolicy = "facts" | "search"

/** In "search": how much of each string is kept (bytes, escapes included). */
export const SEARCH_STRING_BYTES = 6 * (SEARCH_TEXT_MAX + 4)
/** In "search": kept text past which every further string is emptied. */
export const SEARCH_KEPT_BYTES = 16 * 1024 * 1024

const QUOTE = 0x22
const BACKSLASH = 0x5c

// What happens to the bytes of the string being scanned.
const STR_COPY = 0 // kept whole (keys, strings facts read)
const STR_PENDING = 1 // kept if it ends short, else emptied ("facts")
const STR_SKIP = 2 // emptied: nothing more is written until its closing quote
const STR_PREFIX = 3 // "search": kept up to the cap

const decoder = new TextDecoder("utf-8")

export class LineElisionStream {
  private readonly isObject = new Uint8Array(MAX_DEPTH + 1)
  private readonly keyOf = new Uint8Array(MAX_DEPTH + 1)
  private depth = 0
  private key = KEY_OTHER
  private rootType = TYPE_UNSEEN
  private prev = 0
  private length = 0
  private last = 0
  private failed = false
  private out = new Uint8Array(64 * 1024)
  private written = 0
  // The string being scanned.
  private inString = false
  private isKey = false
  private mode = STR_COPY
  /** Its bytes so far (escapes included) and its first bytes (for key names and the root type). */
  private strLen = 0
  private readonly head = new Uint8Array(8)
  /** Where its bytes start in `out` (STR_PENDING, STR_PREFIX). */
  private strOut = 0
  /** 0: not in an escape; 1: after a backslash; 2..5: hex digits of `\u` still to come (+1). */
  private esc = 0
  private escaped = false
  /** In the chunk being fed: the next quote and backslash at or after the scan; -1 none; -2 not looked up. */
  private quoteAt = -2
  private backslashAt = -2
  // UTF-8 check across chunks: an unfinished sequence waits for the next chunk.
  private readonly carry = new Uint8Array(4)
  private carryLen = 0
  private carryWant = 0

  constructor(
    private readonly policy: ElisionPolicy,
    private readonly isUtf8: (bytes: Uint8Array) => boolean,
  ) {}

  /** The line's next bytes (no newline). */
  feed(b: Uint8Array): void {
    if (this.failed || b.length === 0) return
    if (this.length === 0 && b[0] !== 0x7b) {
      this.fail()
      return
    }
    this.length += b.length
    this.last = b[b.length - 1]!
    if (hasControlByte(b) || !this.checkUtf8(b)) {
      this.fail()
      return
    }
    let i = 0
    const n = b.length
    this.quoteAt = -2
    this.backslashAt = -2
    while (i < n) {
      if (this.inString) {
        i = this.scanString(b, i)
        if (this.failed) return
        continue
      }
      const c = b[i]!
      if (c === QUOTE) {
        this.openString()
        if (this.failed) return
        this.emit(b, i, i + 1)
        i++
        continue
      }
      switch (c) {
        case 0x7b:
        case 0x5b:
          if (this.depth === MAX_DEPTH) {
            this.fail()
            return
          }
          this.depth++
          this.isObject[this.depth] = c === 0x7b ? 1 : 0
          this.keyOf[this.depth] = this.isObject[this.depth - 1] === 1 ? this.key : KEY_OTHER
          this.key = KEY_OTHER
          this.prev = c
          break
        case 0x7d:
        case 0x5d:
          if (this.depth === 0) {
            this.fail()
            return
          }
          this.depth--
          this.prev = c
          break
        case 0x2c:
          this.key = KEY_OTHER
          this.prev = c
          break
        case 0x20:
          break
        default:
          this.prev = c
      }
      // Runs outside strings are copied as they are.
      let j = i + 1
      while (j < n && b[j] !== QUOTE && !isStructural(b[j]!)) j++
      if (j > i + 1) for (let k = i + 1; k < j; k++) if (b[k] !== 0x20) this.prev = b[k]!
      this.emit(b, i, j)
      i = j
    }
  }

  /** The elided text, or null when the line must be parsed whole (what `elideLongStrings` gives up on). */
  finish(): string | null {
    if (this.failed || this.inString || this.carryLen > 0 || this.length < 2 || this.last !== 0x7d) return null
    return decoder.decode(this.out.subarray(0, this.written))
  }

  /** Bytes fed so far. */
  get bytes(): number {
    return this.length
  }

  private fail(): void {
    this.failed = true
    this.out = new Uint8Array(0)
  }

  private openString(): void {
    const inObject = this.depth > 0 && this.isObject[this.depth] === 1
    this.inString = true
    this.isKey = inObject && (this.prev === 0x7b || this.prev === 0x2c)
    this.strLen = 0
    this.esc = 0
    this.escaped = false
    this.strOut = this.written + 1
    if (this.isKey) {
      this.mode = STR_COPY
      return
    }
    if (this.policy === "search") {
      this.mode = this.written < SEARCH_KEPT_BYTES ? STR_PREFIX : STR_SKIP
      return
    }
    const d = this.depth
    const key = this.key
    const keep =
      d === 1 ||
      (d === 2 && (key === KEY_TYPE || this.keyOf[2] === KEY_MESSAGE)) ||
      (d === 4 &&
        this.rootType !== TYPE_OTHER &&
        inObject &&
        key === KEY_TEXT &&
        this.keyOf[2] === KEY_MESSAGE &&
        this.keyOf[3] === KEY_CONTENT &&
        this.isObject[2] === 1)
    this.mode = keep ? STR_COPY : STR_PENDING
  }

  /** Scans string bytes from `i`; returns where it stopped (past the closing quote when the string ended). */
  private scanString(b: Uint8Array, i: number): number {
    const n = b.length
    while (i < n) {
      if (this.esc > 0) {
        const e = b[i]!
        if (this.esc === 1) {
          if (e === 0x75) this.esc = 5
          else if (SIMPLE_ESCAPES[e] === 1) this.esc = 0
          else {
            this.fail()
            return n
          }
        } else {
          if (HEX[e] !== 1) {
            this.fail()
            return n
          }
          this.esc = this.esc === 2 ? 0 : this.esc - 1
        }
        this.content(b, i, i + 1)
        i++
        continue
      }
      // Next quote and backslash, looked up once per chunk each as the scan passes them (a chunk of
      // text with thousands of escapes would otherwise be searched to its end at each one).
      if (this.quoteAt !== -1 && this.quoteAt < i) this.quoteAt = b.indexOf(QUOTE, i)
      if (this.backslashAt !== -1 && this.backslashAt < i) this.backslashAt = b.indexOf(BACKSLASH, i)
      const q = this.quoteAt
      let bs = this.backslashAt
      if (bs >= 0 && q >= 0 && bs > q) bs = -1
      if (bs >= 0) {
        this.content(b, i, bs + 1)
        this.escaped = true
        this.esc = 1
        i = bs + 1
        continue
      }
      if (q < 0) {
        this.content(b, i, n)
        return n
      }
      this.content(b, i, q)
      this.closeString()
      if (this.failed) return n
      this.emit(b, q, q + 1)
      this.prev = QUOTE
      return q + 1
    }
    return n
  }

  /** String bytes `b[from, to)`. */
  private content(b: Uint8Array, from: number, to: number): void {
    for (let k = from; k < to && this.strLen + k - from < 8; k++) this.head[this.strLen + k - from] = b[k]!
    this.strLen += to - from
    switch (this.mode) {
      case STR_COPY:
        this.emit(b, from, to)
        break
      case STR_PENDING:
        if (this.strLen > ELIDE_MIN_BYTES) {
          // Too long to keep: emptied, but still checked as JSON.parse would check it.
          this.written = this.strOut
          this.mode = STR_SKIP
        } else this.emit(b, from, to)
        break
      case STR_PREFIX: {
        const room = this.strOut + SEARCH_STRING_BYTES - this.written
        if (to - from <= room) this.emit(b, from, to)
        else {
          this.emit(b, from, from + room)
          this.cutPrefix()
          this.mode = STR_SKIP
        }
        break
      }
    }
  }

  /** Ends a kept prefix where its text still parses: after a whole escape and a whole UTF-8 sequence. */
  private cutPrefix(): void {
    const o = this.out
    const end = this.written
    let k = this.strOut
    let safe = k
    while (k < end) {
      const c = o[k]!
      const step = c === BACKSLASH ? (o[k + 1] === 0x75 ? 6 : 2) : c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2
      if (k + step > end) break
      k += step
      safe = k
    }
    this.written = safe
  }

  private closeString(): void {
    this.inString = false
    const len = this.strLen
    const h = this.head
    if (this.isKey) {
      // Only four names matter, and an escaped key could spell one of them.
      if (this.escaped) {
        this.fail()
        return
      }
      this.key =
        len === 4 && matches(h, "text")
          ? KEY_TEXT
          : len === 4 && matches(h, "type")
            ? KEY_TYPE
            : len === 7 && matches(h, "message")
              ? KEY_MESSAGE
              : len === 7 && matches(h, "content")
                ? KEY_CONTENT
                : KEY_OTHER
      // JSON.parse keeps the last of duplicate keys; a second root type is not worth following.
      if (this.key === KEY_TYPE && this.depth === 1 && this.rootType !== TYPE_UNSEEN) {
        this.fail()
        return
      }
      return
    }
    if (this.key === KEY_TYPE && this.depth === 1) {
      this.rootType = len === 4 && matches(h, "user") ? TYPE_USER : TYPE_OTHER
    }
    this.key = KEY_OTHER
  }

  private emit(b: Uint8Array, from: number, to: number): void {
    const len = to - from
    if (len <= 0) return
    if (this.written + len > this.out.length) {
      const grown = new Uint8Array(Math.max(this.out.length * 2, this.written + len))
      grown.set(this.out.subarray(0, this.written))
      this.out = grown
    }
    if (len > 32) this.out.set(b.subarray(from, to), this.written)
    else for (let k = 0; k < len; k++) this.out[this.written + k] = b[from + k]!
    this.written += len
  }

  /** Well-formed UTF-8 across chunks: a sequence cut by a chunk's end is checked once completed. */
  private checkUtf8(b: Uint8Array): boolean {
    let from = 0
    while (this.carryLen > 0 && from < b.length) {
      this.carry[this.carryLen++] = b[from++]!
      if (this.carryLen === this.carryWant) {
        const ok = this.isUtf8(this.carry.subarray(0, this.carryLen))
        this.carryLen = 0
        if (!ok) return false
      }
    }
    if (from >= b.length) return true
    // The last sequence, if the chunk ends inside it, waits for the next chunk.
    let end = b.length
    for (let k = b.length - 1; k >= Math.max(from, b.length - 3); k--) {
      const c = b[k]!
      if (c < 0x80) break
      if (c >= 0xc0) {
        const want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2
        if (k + want > b.length) {
          end = k
          this.carryWant = want
        }
        break
      }
    }
    for (let k = end; k < b.length; k++) this.carry[this.carryLen++] = b[k]!
    return this.isUtf8(b.subarray(from, end))
  }
}

/** A byte that starts a token the scanner reads (quote, brackets, comma, space). */
function isStructural(c: number): boolean {
  return c === 0x7b || c === 0x7d || c === 0x5b || c === 0x5d || c === 0x2c || c === 0x20
}

function matches(b: Uint8Array, word: string): boolean {
  for (let j = 0; j < word.length; j++) if (b[j] !== word.charCodeAt(j)) return false
  return true
}

/** True when some byte is below 0x20. */
function hasControlByte(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i]! < 0x20) return true
  return false
}
