/**
 * A line's JSON text with the long strings its facts never read emptied: what `analyzeLine` parses
 * when a line is long, so the facts of a line never pay for the text they do not read.
 *
 * Most of a session file's bytes sit in nested strings (tool results and their `toolUseResult`, attached
 * tool descriptions, request shapes, images), and a line's facts read none of them but short fields
 * such as a block's `type`. Decoding those bytes and building their strings was most of the daemon's
 * work during a backfill. Here one pass over the bytes finds the string boundaries, checks each
 * emptied string as strictly as `JSON.parse` would, and copies the rest verbatim, so:
 *
 * - the result parses exactly when the line does, to the same value except that each emptied string
 *   is `""` (still a string: shape checks such as `typeof text === "string"` answer the same);
 * - whatever this pass is unsure of (an escaped key, a bad escape, a raw control character, an
 *   unterminated string, deep nesting, two root `type`s) returns null, and the caller parses the
 *   whole line.
 *
 * Kept whole, whatever their length, are the strings facts read: the root's (ids, titles, summaries),
 * `message`'s (a string prompt, the model, the message id), a `type` one level down (`attachment.type`,
 * `data.type`), and the text blocks of a user's `message.content` (a prompt's text). Everything else
 * longer than `ELIDE_MIN_BYTES` is emptied. `line-facts.test.ts` and the compatibility suite check that
 * the facts of both paths are equal, line for line and on thousands of damaged lines.
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

const QUOTE = 0x22
const BACKSLASH = 0x5c

const decoder = new TextDecoder("utf-8")

// Per open container: is it an object, and which key opened it (for the kept path). Shared by
// every call (each writes a level before reading it), like the output buffer up to `SCRATCH_BYTES`.
const isObject = new Uint8Array(MAX_DEPTH + 1)
const keyOf = new Uint8Array(MAX_DEPTH + 1)
const SCRATCH_BYTES = 1 << 20
let scratch = new Uint8Array(0)

/**
 * The line's text with the long strings facts do not read emptied, or null when the caller must
 * parse the whole line.
 * Expects a line that starts with `{` and ends with `}`; anything else is null.
 */
export function elideLongStrings(b: Uint8Array): string | null {
  const n = b.length
  if (n < 2 || b[0] !== 0x7b || b[n - 1] !== 0x7d) return null
  // JSON allows no raw control character in a string, and outside strings only as whitespace,
  // which Claude Code never writes: a line with any is left to JSON.parse.
  if (hasControlByte(b)) return null
  let depth = 0
  let key = KEY_OTHER
  let rootType = TYPE_UNSEEN
  // The last significant byte outside strings: a string right after `{` or `,` in an object is a key.
  let prev = 0
  let out: Uint8Array | null = null
  let written = 0
  let copyFrom = 0
  // Where the next backslash at or after the scan is; -1: none left; -2: not looked up yet.
  let nextBackslash = -2
  let i = 0
  while (i < n) {
    const c = b[i]!
    if (c === QUOTE) {
      const start = i + 1
      // The string ends at the first quote after an even run of backslashes: memchr-fast jumps
      // (raw control characters were ruled out for the whole line up front).
      let k = b.indexOf(QUOTE, start)
      for (;;) {
        if (k < 0) return null
        let j = k - 1
        while (b[j] === BACKSLASH) j-- // stops at the opening quote at the latest
        if (((k - 1 - j) & 1) === 0) break
        k = b.indexOf(QUOTE, k + 1)
      }
      if (nextBackslash !== -1 && nextBackslash < start) nextBackslash = b.indexOf(BACKSLASH, start)
      const escaped = nextBackslash !== -1 && nextBackslash < k
      const inObject = depth > 0 && isObject[depth] === 1
      if (inObject && (prev === 0x7b || prev === 0x2c)) {
        // A key: only four names matter, and an escaped key could spell one of them.
        if (escaped) return null
        key = keyId(b, start, k)
        // JSON.parse keeps the last of duplicate keys; a second root type is not worth following.
        if (key === KEY_TYPE && depth === 1 && rootType !== TYPE_UNSEEN) return null
      } else {
        if (key === KEY_TYPE && depth === 1) {
          rootType = k - start === 4 && matches(b, start, "user") ? TYPE_USER : TYPE_OTHER
        }
        const keep =
          k - start <= ELIDE_MIN_BYTES ||
          depth === 1 ||
          // message.content (a prompt), .id, .model; attachment.type, data.type (subtypes).
          (depth === 2 && (key === KEY_TYPE || keyOf[2] === KEY_MESSAGE)) ||
          // message.content[i].text of a user record: a prompt's text blocks.
          (depth === 4 &&
            rootType !== TYPE_OTHER &&
            inObject &&
            key === KEY_TEXT &&
            keyOf[2] === KEY_MESSAGE &&
            keyOf[3] === KEY_CONTENT &&
            isObject[2] === 1)
        if (!keep) {
          // Kept text meets JSON.parse; emptied text must pass its escape rules here.
          if (escaped && !escapesValid(b, nextBackslash, k)) return null
          if (out === null) {
            if (n <= SCRATCH_BYTES && scratch.length < n) scratch = new Uint8Array(Math.max(n, 64 * 1024))
            out = n <= SCRATCH_BYTES ? scratch : new Uint8Array(n)
          }
          // Up to and including the opening quote; the closing quote starts the next copy. Runs
          // between emptied strings are short, and a loop skips a subarray per run.
          if (start - copyFrom > 128) out.set(b.subarray(copyFrom, start), written)
          else for (let j = copyFrom; j < start; j++) out[written + j - copyFrom] = b[j]!
          written += start - copyFrom
          copyFrom = k
        }
        key = KEY_OTHER
      }
      prev = QUOTE
      i = k + 1
      continue
    }
    switch (c) {
      case 0x7b: // {
      case 0x5b: // [
        if (depth === MAX_DEPTH) return null
        depth++
        isObject[depth] = c === 0x7b ? 1 : 0
        keyOf[depth] = isObject[depth - 1] === 1 ? key : KEY_OTHER
        key = KEY_OTHER
        prev = c
        break
      case 0x7d: // }
      case 0x5d: // ]
        if (depth === 0) return null
        depth--
        prev = c
        break
      case 0x2c: // ,
        key = KEY_OTHER
        prev = c
        break
      case 0x20:
        break
      default:
        prev = c
    }
    i++
  }
  if (out === null) return decoder.decode(b)
  out.set(b.subarray(copyFrom), written)
  written += n - copyFrom
  return decoder.decode(out.subarray(0, written))
}

/** True when every backslash in `[from, to)` (the first at `from`) starts a JSON escape. */
function escapesValid(b: Uint8Array, from: number, to: number): boolean {
  let p = from
  while (p !== -1 && p < to) {
    const e = b[p + 1] ?? 0
    if (e === 0x75) {
      if (!(HEX[b[p + 2] ?? 0] && HEX[b[p + 3] ?? 0] && HEX[b[p + 4] ?? 0] && HEX[b[p + 5] ?? 0])) return false
      p = b.indexOf(BACKSLASH, p + 6)
    } else {
      if (SIMPLE_ESCAPES[e] === 0) return false
      p = b.indexOf(BACKSLASH, p + 2)
    }
  }
  return true
}

/** True when some byte is below 0x20, four bytes at a time (`hasless` of Bit Twiddling Hacks). */
function hasControlByte(b: Uint8Array): boolean {
  const n = b.length
  let i = 0
  const head = Math.min(n, (4 - (b.byteOffset & 3)) & 3)
  for (; i < head; i++) if (b[i]! < 0x20) return true
  const count = (n - i) >> 2
  if (count > 0) {
    const words = new Int32Array(b.buffer, b.byteOffset + i, count)
    for (let w = 0; w < count; w++) {
      const v = words[w]!
      if ((((v - 0x20202020) | 0) & ~v & 0x80808080) !== 0) return true
    }
    i += count * 4
  }
  for (; i < n; i++) if (b[i]! < 0x20) return true
  return false
}

function keyId(b: Uint8Array, from: number, to: number): number {
  const len = to - from
  if (len === 4) return matches(b, from, "text") ? KEY_TEXT : matches(b, from, "type") ? KEY_TYPE : KEY_OTHER
  if (len !== 7) return KEY_OTHER
  if (matches(b, from, "message")) return KEY_MESSAGE
  if (matches(b, from, "content")) return KEY_CONTENT
  return KEY_OTHER
}

function matches(b: Uint8Array, from: number, word: string): boolean {
  for (let j = 0; j < word.length; j++) if (b[from + j] !== word.charCodeAt(j)) return false
  return true
}
