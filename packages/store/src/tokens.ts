/** Credentials are random 256-bit strings; the store keeps only their SHA-256. */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import type { TokenKind } from "./store.ts"

const PREFIX: Record<TokenKind, string> = { machine: "ovm", api: "ova", "login-link": "ovl", browser: "ovb" }

export const newToken = (kind: TokenKind): string => `${PREFIX[kind]}_${randomBytes(32).toString("base64url")}`

export const hashToken = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex")

/** Constant-time comparison of two hex digests. */
export function tokensEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex")
  const y = Buffer.from(b, "hex")
  return x.length === y.length && timingSafeEqual(x, y)
}
