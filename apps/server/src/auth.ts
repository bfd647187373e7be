/**
 * Who is asking, and from where. Loopback dashboards are still attackable through the browser
 * (DNS rebinding, cross-site WebSockets), so Host and Origin are checked before any credential.
 */
import type { Actor, Interface as StoreApi, TokenKind } from "@overlord/store"
import { Effect } from "effect"

export const SESSION_COOKIE = "overlord_session"
export const BROWSER_SESSION_TTL_MS = 30 * 24 * 3600 * 1000

export interface AccessPolicy {
  /** `host:port` values the server answers to (the Host header). */
  readonly allowedHosts: ReadonlySet<string>
}

export function accessPolicy(hostname: string, port: number, extraHosts: readonly string[] = []): AccessPolicy {
  const hosts = new Set<string>(extraHosts)
  const names = hostname === "0.0.0.0" || hostname === "::" ? ["127.0.0.1", "localhost", "[::1]"] : [hostname]
  if (hostname === "127.0.0.1") names.push("localhost")
  for (const h of names) hosts.add(`${h}:${port}`)
  return { allowedHosts: hosts }
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
    return (url.protocol === "http:" || url.protocol === "https:") && policy.allowedHosts.has(url.host.toLowerCase())
  } catch {
    return false
  }
}

export function readCookie(req: Request, name: string): string | null {
  const header = req.headers.get("cookie")
  if (!header) return null
  for (const part of header.split(";")) {
    const [k, ...v] = part.trim().split("=")
    if (k === name) return decodeURIComponent(v.join("="))
  }
  return null
}

/** The actor behind a request: the dashboard's cookie, or a bearer token for scripts. */
export async function authenticate(store: StoreApi, req: Request): Promise<Actor | null> {
  const auth = req.headers.get("authorization")
  let token: string | null = null
  let kinds: readonly TokenKind[] = ["browser"]
  if (auth?.toLowerCase().startsWith("bearer ")) {
    token = auth.slice(7).trim()
    kinds = ["api"]
  } else {
    token = readCookie(req, SESSION_COOKIE)
  }
  if (!token) return null
  const grant = await Effect.runPromise(store.verifyToken(token, kinds))
  return grant ? { userId: grant.userId } : null
}

export const sessionCookie = (token: string, secure: boolean) =>
  `${SESSION_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${BROWSER_SESSION_TTL_MS / 1000}${secure ? "; Secure" : ""}`
