/**
 * What `elideLongStrings` (a whole line) and `LineElisionStream` (a line in chunks) share, so the
 * streamed "facts" policy stays the whole-line one: the length past which a string facts do not read
 * is emptied, the nesting limit, the escape tables, and the codes of the keys and root types that
 * decide whether a string is kept. Plain constants and lookup tables: both scanners read them per byte.
 */

/** Strings longer than this (in bytes, escapes included) are emptied unless facts read them. */
export const ELIDE_MIN_BYTES = 64
export const MAX_DEPTH = 256

/** The characters a JSON escape may name after the backslash (`u` handled apart). */
export const SIMPLE_ESCAPES = new Uint8Array(256)
for (const c of '"\\/bfnrt') SIMPLE_ESCAPES[c.charCodeAt(0)] = 1

export const HEX = new Uint8Array(256)
for (const c of "0123456789abcdefABCDEF") HEX[c.charCodeAt(0)] = 1

// The keys that say a long string is read by facts: message.content[i].text, attachment.type, ...
export const KEY_OTHER = 0
export const KEY_MESSAGE = 1
export const KEY_CONTENT = 2
export const KEY_TEXT = 3
export const KEY_TYPE = 4

// What the root's `type` says, as far as the kept path cares: only a user's text blocks are a prompt.
export const TYPE_UNSEEN = 0
export const TYPE_USER = 1
export const TYPE_OTHER = 2
