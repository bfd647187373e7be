/**
 * Fault: behind a reverse proxy (`--public-url`) every request's peer is the proxy, so the
 * unauthenticated account routes' per-address rate limit was one bucket for every client: one client
 * sending 60 requests locked every other client out of sign-up, invites and pairing. With
 * `--trust-proxy` the client is the right-most X-Forwarded-For hop that is not a trusted proxy; the
 * header is ignored without the flag, and from a peer that is not a trusted proxy.
 */
import { afterEach, describe, expect, it } from "vitest"
import { clientAddress, LOOPBACK_PROXIES, TrustedProxies, TrustProxyError } from "../../src/client-address.ts"
import { type RunningServer, startServer } from "./running-server.ts"

/** The unauthenticated routes allow 60 requests at once per address (`http-accounts.ts`). */
const BURST = 60

const trusted = (spec: string) => {
  const t = TrustedProxies.parse(spec)
  if (t instanceof TrustProxyError) throw t
  return t
}

describe("clientAddress", () => {
  const proxies = trusted("127.0.0.0/8,::1,10.0.0.0/8,fd00::/8")

  it("is the peer without trusted proxies, or when the peer is not one", () => {
    expect(clientAddress("198.51.100.7", "203.0.113.1", null)).toBe("198.51.100.7")
    expect(clientAddress("198.51.100.7", "203.0.113.1", proxies)).toBe("198.51.100.7")
    expect(clientAddress("127.0.0.1", null, proxies)).toBe("127.0.0.1")
  })

  it("is the right-most untrusted hop: entries the client wrote to the left are ignored", () => {
    expect(clientAddress("127.0.0.1", "203.0.113.1", proxies)).toBe("203.0.113.1")
    expect(clientAddress("127.0.0.1", "6.6.6.6, 203.0.113.1", proxies)).toBe("203.0.113.1")
    // Two proxies in a row (an edge proxy in 10/8, then the local one).
    expect(clientAddress("::1", "6.6.6.6,203.0.113.1, 10.1.2.3", proxies)).toBe("203.0.113.1")
    expect(clientAddress("::ffff:127.0.0.1", "2001:db8::5, fd00::1", proxies)).toBe("2001:db8::5")
    // Ports and brackets as some proxies write them; IPv4-mapped IPv6 as IPv4.
    expect(clientAddress("127.0.0.1", "[2001:db8::6]:4711", proxies)).toBe("2001:db8::6")
    expect(clientAddress("127.0.0.1", "203.0.113.9:5000", proxies)).toBe("203.0.113.9")
    expect(clientAddress("127.0.0.1", "::ffff:203.0.113.4", proxies)).toBe("203.0.113.4")
    // Every hop a trusted proxy: the left-most.
    expect(clientAddress("127.0.0.1", "10.0.0.9, 10.0.0.8", proxies)).toBe("10.0.0.9")
  })

  it("parses addresses and ranges, v4 and v6, and refuses anything else", () => {
    const t = trusted("192.168.1.0/24, 2001:db8:abcd::/48")
    expect(t.has("192.168.1.200")).toBe(true)
    expect(t.has("192.168.2.1")).toBe(false)
    expect(t.has("2001:db8:abcd:12::1")).toBe(true)
    expect(t.has("2001:db8:abce::1")).toBe(false)
    expect(t.has("::ffff:192.168.1.3")).toBe(true)
    expect(trusted(LOOPBACK_PROXIES).has("127.5.6.7")).toBe(true)
    for (const bad of ["", "localhost", "10.0.0.0/33", "::1/129", "1.2.3", "10.0.0.0/x"]) {
      expect(TrustedProxies.parse(bad), bad).toBeInstanceOf(TrustProxyError)
    }
  })
})

describe("the unauthenticated routes' rate limit behind a proxy", () => {
  let server: RunningServer | undefined
  afterEach(async () => {
    await server?.close()
    server = undefined
  })

  /** An unauthenticated route (a link's status), as the proxy forwards it for `client`. */
  const linkStatus = (s: RunningServer, forwardedFor: string) =>
    fetch(`${s.url}/api/v1/links/not-a-link`, { headers: { "x-forwarded-for": forwardedFor } })

  it("with --trust-proxy: each client has its own allowance, and a forged left-most hop does not reset it", async () => {
    server = await startServer({ trustProxy: LOOPBACK_PROXIES })
    for (let i = 0; i < BURST; i++) expect((await linkStatus(server, "203.0.113.1")).status).toBe(404)
    expect((await linkStatus(server, "203.0.113.1")).status).toBe(429)
    // The same client claiming another address to the left of the proxy's entry: still itself.
    expect((await linkStatus(server, "198.51.100.99, 203.0.113.1")).status).toBe(429)
    // Another client behind the same proxy is not locked out.
    expect((await linkStatus(server, "203.0.113.2")).status).toBe(404)
  })

  it("without it: the header is ignored (anyone could send it), so the proxy's address is the client", async () => {
    server = await startServer()
    for (let i = 0; i < BURST; i++) expect((await linkStatus(server, `203.0.113.${i + 1}`)).status).toBe(404)
    expect((await linkStatus(server, "203.0.113.200")).status).toBe(429)
  })

  it("a --trust-proxy that names no address fails the server's start", async () => {
    await expect(startServer({ trustProxy: "proxy.example" })).rejects.toBeDefined()
  })
})
