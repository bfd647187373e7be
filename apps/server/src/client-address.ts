/**
 * The address a request came from, for what is limited per client (the unauthenticated account
 * routes' rate limit, `http-accounts.ts`).
 *
 * Directly, it is the socket's peer. Behind a reverse proxy (`--public-url`) every request's peer is
 * the proxy, so one client could spend every client's allowance. With `overlord serve --trust-proxy`
 * the client is the right-most `X-Forwarded-For` hop that is not a trusted proxy: each proxy appends
 * the address it received the request from, so the right-most entries were written by proxies we
 * trust, and everything left of the first untrusted one was written by the client itself and may be
 * forged. A peer that is not a trusted proxy is the client whatever it sends (the header is ignored).
 * Off by default: without a proxy in front, anyone could send the header.
 */
import { isIP } from "node:net"
import { Data } from "effect"

/** `--trust-proxy` without addresses: a proxy on this host (the server listens on loopback by default). */
export const LOOPBACK_PROXIES = "127.0.0.0/8,::1"

interface Range {
  readonly v6: boolean
  readonly base: bigint
  readonly bits: number
}

/** A `--trust-proxy` value that names no address or range, and why. */
export class TrustProxyError extends Data.TaggedError("TrustProxyError")<{ readonly message: string }> {}

/** The proxies whose `X-Forwarded-For` entries are believed: addresses and CIDR ranges, v4 and v6. */
export class TrustedProxies {
  private constructor(private readonly ranges: readonly Range[]) {}

  /** `spec`: comma-separated addresses or CIDR ranges (`10.0.0.0/8`, `fd00::/8`, `::1`). */
  static parse(spec: string): TrustedProxies | TrustProxyError {
    const ranges: Range[] = []
    for (const part of spec.split(",")) {
      const item = part.trim()
      if (item === "") continue
      const [addr = "", prefix] = item.split("/")
      const parsed = parseAddress(addr)
      const max = parsed?.v6 ? 128 : 32
      const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : -1
      if (!parsed || bits < 0 || bits > max) {
        return new TrustProxyError({
          message: `--trust-proxy: ${JSON.stringify(item)} is not an IP address or CIDR range (e.g. 127.0.0.1, 10.0.0.0/8, ::1)`,
        })
      }
      ranges.push({ v6: parsed.v6, base: mask(parsed.value, bits, max), bits })
    }
    if (ranges.length === 0) return new TrustProxyError({ message: "--trust-proxy: no address given" })
    return new TrustedProxies(ranges)
  }

  has(address: string): boolean {
    const parsed = parseAddress(address)
    if (!parsed) return false
    const max = parsed.v6 ? 128 : 32
    return this.ranges.some((r) => r.v6 === parsed.v6 && mask(parsed.value, r.bits, max) === r.base)
  }
}

/**
 * The client's address: `peer` itself, unless it is a trusted proxy; then the right-most
 * `X-Forwarded-For` entry that is not one (the left-most entry when every one is trusted), or `peer`
 * when there is no header.
 */
export function clientAddress(peer: string, forwardedFor: string | null, trusted: TrustedProxies | null): string {
  const direct = normalise(peer)
  if (!trusted?.has(direct) || !forwardedFor) return direct
  const hops = forwardedFor
    .split(",")
    .map((h) => normalise(h.trim()))
    .filter((h) => h !== "")
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!
    // Not trusted, or not an address at all (what the nearest untrusted party wrote): the client.
    if (!trusted.has(hop)) return hop
  }
  return hops[0] ?? direct
}

/** An address without port or brackets, IPv4-mapped IPv6 as IPv4, lower-case. */
function normalise(raw: string): string {
  let s = raw.toLowerCase()
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(s)
  if (bracketed) s = bracketed[1]!
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(s)) s = s.slice(0, s.lastIndexOf(":"))
  const mapped = /^::ffff:(\d{1,3}(\.\d{1,3}){3})$/.exec(s)
  return mapped ? mapped[1]! : s
}

function parseAddress(raw: string): { v6: boolean; value: bigint } | null {
  const s = normalise(raw)
  const kind = isIP(s)
  if (kind === 4) return { v6: false, value: ipv4Value(s) }
  if (kind !== 6) return null
  // Expand `::` and an embedded IPv4 tail into eight 16-bit groups.
  let text = s
  const v4 = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text)
  if (v4) {
    const n = ipv4Value(v4[1]!)
    text = `${text.slice(0, v4.index)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`
  }
  const [head = "", tail] = text.split("::")
  const left = head === "" ? [] : head.split(":")
  const right = tail === undefined || tail === "" ? [] : tail.split(":")
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right]
  let value = 0n
  for (const g of groups) value = (value << 16n) | BigInt(Number.parseInt(g, 16))
  return { v6: true, value }
}

function ipv4Value(s: string): bigint {
  return s.split(".").reduce((n, octet) => (n << 8n) | BigInt(Number(octet)), 0n)
}

function mask(value: bigint, bits: number, max: number): bigint {
  const hostBits = BigInt(max - bits)
  return (value >> hostBits) << hostBits
}
