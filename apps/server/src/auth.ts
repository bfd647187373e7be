/**
 * Who is asking, and from where. Loopback dashboards are still attackable through the browser
 * (DNS rebinding, cross-site WebSockets), so Host and Origin are checked before any credential.
 */
import type { Actor, Interface as StoreApi, TokenKind } from "@overlord/store"
import { Data, Effect } from "effect"
import type { TrustedProxies } from "./client-address.ts"

export const SESSION_COOKIE = "overlord_session"
export const BROWSER_SESSION_TTL_MS = 30 * 24 * 3600 * 1000

export interface AccessPolicy {
  /** `host:port` values the server answers to (the Host header). */
  readonly allowedHosts: ReadonlySet<string>
  /** Origins (`scheme://host[:port]`) allowed to open sockets and send non-GET requests. */
  readonly allowedOrigins: ReadonlySet<string>
  /** Where users reach the server through a proxy (`overlord serve --public-url`), if anywhere. */
  readonly publicUrl: URL | null
  /** Proxies whose `X-Forwarded-For` names the client (`overlord serve --trust-proxy`); null: none. */
  readonly trustedProxies: TrustedProxies | null
}

/** A `--public-url` that cannot be served behind, and why. */
export class PublicUrlError extends Data.TaggedError("PublicUrlError")<{
  readonly url: string
  readonly message: string
}> {}

/**
 * The URL users open when the server sits behind a reverse proxy: http or https, a host, and
 * nothing the server could not honour (the dashboard and API live at the root, credentials in a
 * URL would leak into logs).
 */
export function parsePublicUrl(value: string): URL | PublicUrlError {
  const fail = (why: string) =>
    new PublicUrlError({ url: value, message: `public URL ${JSON.stringify(value)}: ${why}` })
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return fail("not a URL; expected something like https://overlord.example.com")
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return fail("must start with https:// or http://")
  if (url.hostname === "") return fail("has no host")
  if (url.username !== "" || url.password !== "") return fail("must not contain a user name or password")
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "") {
    return fail("must be an origin only (no path, query or fragment): the server is served from the root")
  }
  return url
}

export function accessPolicy(
  hostname: string,
  port: number,
  extraHosts: readonly string[] = [],
  publicUrl: URL | null = null,
  trustedProxies: TrustedProxies | null = null,
): AccessPolicy {
  const hosts = new Set<string>(extraHosts.map((h) => h.toLowerCase()))
  const names = hostname === "0.0.0.0" || hostname === "::" ? ["127.0.0.1", "localhost", "[::1]"] : [hostname]
  if (hostname === "127.0.0.1") names.push("localhost")
  for (const h of names) hosts.add(`${h}:${port}`.toLowerCase())
  // Direct (unproxied) hosts keep accepting either scheme, as before; the public host only its own.
  const origins = new Set<string>([...hosts].flatMap((h) => [`http://${h}`, `https://${h}`]))
  if (publicUrl) {
    hosts.add(publicUrl.host.toLowerCase())
    origins.add(publicUrl.origin.toLowerCase())
  }
  return { allowedHosts: hosts, allowedOrigins: origins, publicUrl, trustedProxies }
}

export const hostAllowed = (policy: AccessPolicy, req: Request): boolean => {
  const host = req.headers.get("host")
  return host !== null && policy.allowedHosts.has(host.toLowerCase())
}

/** Browsers always send Origin on WebSocket upgrades; non-browser clients (the daemon) may omit it. */
export const originAllowed = (policy: AccessPolicy, req: Request): boolean => {
  const origin = req.headers.get("origin")
  if (origin === null) return true
  try {
    const url = new URL(origin)
    return (
      (url.protocol === "http:" || url.protocol === "https:") && policy.allowedOrigins.has(url.origin.toLowerCase())
    )
  } catch {
    return false
  }
}

/**
 * Every value of the cookie `name` the request carries, decoded. Another service on the same host
 * can set cookies for it (cookies do not keep ports apart), so a value that is not valid
 * percent-encoding is skipped as if absent, and a planted one cannot hide ours.
 */
export function readCookies(req: Request, name: string): string[] {
  const header = req.headers.get("cookie")
  if (!header) return []
  const values: string[] = []
  for (const part of header.split(";")) {
    const [k, ...v] = part.trim().split("=")
    if (k !== name) continue
    try {
      values.push(decodeURIComponent(v.join("=")))
    } catch {
      // Malformed percent-encoding (URIError): not a value we ever set.
    }
  }
  return values
}

/** Session cookies tried per request: ours, and a few planted ones in front of it. */
export const MAX_COOKIE_CANDIDATES = 4

/**
 * Bearer tokens a request may carry: API tokens always; a paired machine's own token for reads
 * (`overlord sessions`, `export` on a laptop that keeps only `server.json`), never to change anything.
 */
const bearerKinds = (req: Request): readonly TokenKind[] =>
  req.method === "GET" || req.method === "HEAD" ? ["api", "machine"] : ["api"]

/** The actor behind a request: the dashboard's cookie, or a bearer token for scripts. */
export async function authenticate(store: StoreApi, req: Request): Promise<Actor | null> {
  const auth = req.headers.get("authorization")
  if (auth?.toLowerCase().startsWith("bearer ")) {
    const token = auth.slice(7).trim()
    if (!token) return null
    const grant = await Effect.runPromise(store.verifyToken(token, bearerKinds(req)))
    return grant ? { userId: grant.userId } : null
  }
  for (const token of readCookies(req, SESSION_COOKIE).slice(0, MAX_COOKIE_CANDIDATES)) {
    if (!token) continue
    const grant = await Effect.runPromise(store.verifyToken(token, ["browser"]))
    if (grant) return { userId: grant.userId }
  }
  return null
}

export const sessionCookie = (token: string, secure: boolean) =>
  `${SESSION_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${BROWSER_SESSION_TTL_MS / 1000}${secure ? "; Secure" : ""}`

/** The session cookie removed (sign-out): the same attributes, no value, expired. */
export const clearedSessionCookie = (secure: boolean) =>
  `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${secure ? "; Secure" : ""}`
