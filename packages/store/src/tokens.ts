/** Credentials are random 256-bit strings; the store keeps only their SHA-256. */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import type { TokenKind } from "./store.ts"

const PREFIX: Record<TokenKind, string> = {
  machine: "ovm",
  api: "ova",
  "login-link": "ovl",
  browser: "ovb",
  "pairing-key": "ovk",
}

export const newToken = (kind: TokenKind): string => `${PREFIX[kind]}_${randomBytes(32).toString("base64url")}`

export const hashToken = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex")

/** Constant-time comparison of two hex digests. */
export function tokensEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex")
  const y = Buffer.from(b, "hex")
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Setup and invite links (`ovs_`, `ovi_`) and device codes (`ovd_`): 256 random bits, stored hashed. */
export const newSecret = (prefix: "ovs" | "ovi" | "ovd"): string => `${prefix}_${randomBytes(32).toString("base64url")}`

/**
 * Letters of a device flow's user code: consonants only (no vowels, so no words; RFC 8628 §6.1),
 * 20^8 ≈ 2.6e10 codes, typed by a person and guessed only through the rate-limited API.
 */
const USER_CODE_LETTERS = "BCDFGHJKLMNPQRSTVWXZ"

/** `WDJB-MJHT`. */
export function newUserCode(): string {
  const bytes = randomBytes(8)
  let code = ""
  for (let i = 0; i < 8; i++) {
    // 256 % 20 = 16: a bias of at most 1/16 toward the first 16 letters, which costs < 0.1 bit per letter.
    code += USER_CODE_LETTERS[bytes[i]! % USER_CODE_LETTERS.length]
    if (i === 3) code += "-"
  }
  return code
}

/** A user code as typed (any case, with or without the dash or spaces), or null when it cannot be one. */
export function normalizeUserCode(input: string): string | null {
  const letters = input.toUpperCase().replace(/[\s-]/g, "")
  if (letters.length !== 8) return null
  for (const c of letters) if (!USER_CODE_LETTERS.includes(c)) return null
  return `${letters.slice(0, 4)}-${letters.slice(4)}`
}

/** Lower-cased, trimmed, and plausibly an address (one @, something on each side, no spaces). */
export function normalizeEmail(input: string): string | null {
  const email = input.trim().toLowerCase()
  return /^[^\s@]{1,64}@[^\s@]{1,190}$/.test(email) ? email : null
}
