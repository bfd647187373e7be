/**
 * Byte helpers for stored lines. How a payload is cut into lines is `splitPieces` in
 * `@overlord/transcript`, shared with the daemon.
 */

/** Bytes a stored line occupies in its file. */
export const storedLength = (bytes: Uint8Array, terminated: boolean): number => bytes.length + (terminated ? 1 : 0)

export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
