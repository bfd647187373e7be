/**
 * Access control without a browser or a port: `makeApp(...).fetch` is called with hand-built
 * Requests, the way a browser (cookie, Origin) or a script (bearer token) would send them.
 */
import { fromEngine, type Interface as StoreApi } from "@overlord/store"
import { SqliteEngine } from "@overlord/store/sqlite"
import { Effect } from "effect"
import { beforeEach, describe, expect, it } from "vitest"
import { makeApp } from "../src/app.ts"
import { accessPolicy, SESSION_COOKIE } from "../src/auth.ts"

const PORT = 47_123
const ORIGIN = `http://127.0.0.1:${PORT}`

describe("server access control", () => {
  let store: StoreApi
  let app: ReturnType<typeof makeApp>
  let userId: number

  const call = async (path: string, init: RequestInit & { host?: string } = {}): Promise<Response> => {
    const headers = new Headers(init.headers)
    headers.set("host", init.host ?? `127.0.0.1:${PORT}`)
    const res = await app.fetch(new Request(`${ORIGIN}${path}`, { ...init, headers }))
    if (!res) throw new Error(`${path}: no response (upgraded?)`)
    return res
  }
  const issue = (kind: "login-link" | "api" | "browser") =>
    Effect.runPromise(store.issueToken({ userId, kind, ttlMs: 60_000 }))
  const cookieFrom = (res: Response): string => {
    const set = res.headers.get("set-cookie") ?? ""
    const pair = set.split(";")[0] ?? ""
    expect(pair.startsWith(`${SESSION_COOKIE}=`)).toBe(true)
    return pair
  }

  beforeEach(async () => {
    store = fromEngine(new SqliteEngine({ path: ":memory:" }))
    userId = await Effect.runPromise(store.ensureUser("local"))
    app = makeApp({ store, policy: accessPolicy("127.0.0.1", PORT), webDir: "/nonexistent-web-dir" })
  })

  it("answers 401 to an API call without a cookie or token", async () => {
    const res = await call("/api/v1/sessions")
    expect(res.status).toBe(401)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized")
  })

  it("answers 401 to an unknown cookie and to a bearer token of the wrong kind", async () => {
    expect((await call("/api/v1/sessions", { headers: { cookie: `${SESSION_COOKIE}=nope` } })).status).toBe(401)
    // A login link is not an API token.
    const link = await issue("login-link")
    expect((await call("/api/v1/sessions", { headers: { authorization: `Bearer ${link}` } })).status).toBe(401)
  })

  it("refuses a foreign Host header with 421 (DNS rebinding), even with a valid token", async () => {
    const token = await issue("api")
    const res = await call("/api/v1/sessions", {
      host: "evil.example:80",
      headers: { authorization: `Bearer ${token}` },
    })
    expect(res.status).toBe(421)
    expect((await call("/", { host: `attacker.test:${PORT}` })).status).toBe(421)
    // localhost is an alias of 127.0.0.1 on the same port; another port is not.
    expect((await call("/api/v1/sessions", { host: `localhost:${PORT}` })).status).toBe(401)
    expect((await call("/api/v1/sessions", { host: `127.0.0.1:${PORT + 1}` })).status).toBe(421)
  })

  it("refuses a live-feed upgrade from a foreign Origin with 403", async () => {
    const link = await issue("login-link")
    const cookie = cookieFrom(await call(`/auth?token=${link}`))
    const upgrade = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-version": "13" }
    const res = await call("/api/v1/live", { headers: { ...upgrade, cookie, origin: "http://evil.example" } })
    expect(res.status).toBe(403)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("bad_origin")
    // Same for a lookalike origin on another port, and with no credentials at all.
    expect(
      (await call("/api/v1/live", { headers: { ...upgrade, cookie, origin: `http://127.0.0.1:${PORT + 1}` } })).status,
    ).toBe(403)
    expect((await call("/api/v1/live", { headers: { ...upgrade, origin: "http://evil.example" } })).status).toBe(403)
    // Same origin but not signed in: 401.
    expect((await call("/api/v1/live", { headers: { ...upgrade, origin: ORIGIN } })).status).toBe(401)
  })

  it("accepts the login link once, then refuses it", async () => {
    const link = await issue("login-link")
    const first = await call(`/auth?token=${link}`)
    expect(first.status).toBe(302)
    expect(first.headers.get("location")).toBe("/")
    const setCookie = first.headers.get("set-cookie") ?? ""
    expect(setCookie).toContain("HttpOnly")
    expect(setCookie).toContain("SameSite=Strict")
    const again = await call(`/auth?token=${link}`)
    expect(again.status).toBe(401)
    expect(again.headers.get("set-cookie")).toBeNull()
    expect((await call("/auth?token=not-a-token")).status).toBe(401)
    expect((await call("/auth")).status).toBe(401)
  })

  it("serves the API to a bearer API token", async () => {
    const token = await issue("api")
    const res = await call("/api/v1/sessions", { headers: { authorization: `Bearer ${token}` } })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ sessions: [] })
    const machines = await call("/api/v1/machines", { headers: { authorization: `Bearer ${token}` } })
    expect(await machines.json()).toEqual({ machines: [] })
  })

  it("serves the API to the cookie the login link set", async () => {
    const link = await issue("login-link")
    const cookie = cookieFrom(await call(`/auth?token=${link}`))
    const res = await call("/api/v1/sessions", { headers: { cookie } })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ sessions: [] })
    // The cookie is a browser credential, not a bearer token.
    const value = cookie.slice(SESSION_COOKIE.length + 1)
    expect((await call("/api/v1/sessions", { headers: { authorization: `Bearer ${value}` } })).status).toBe(401)
  })

  it("refuses API writes from a foreign Origin", async () => {
    const link = await issue("login-link")
    const cookie = cookieFrom(await call(`/auth?token=${link}`))
    const res = await call("/api/v1/sessions", { method: "POST", headers: { cookie, origin: "http://evil.example" } })
    expect(res.status).toBe(403)
  })
})
