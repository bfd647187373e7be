/**
 * Behind a reverse proxy (`overlord serve --public-url https://...`, issue #11): the proxy passes
 * on the public Host, and browsers send the public Origin. A real running server accepts both only
 * when told the public URL, and then makes its cookies `Secure` when that URL is https.
 */
import { afterEach, describe, expect, it } from "vitest"
import { PublicUrlError, parsePublicUrl } from "../src/auth.ts"
import { type RunningServer, startServer } from "./fault/running-server.ts"

const PUBLIC = "https://overlord.example.com"
const proxied = { host: "overlord.example.com", origin: PUBLIC }

let server: RunningServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

/** A browser's request as the proxy forwards it: public Host and Origin, to the loopback port. */
const viaProxy = (s: RunningServer, path: string, init: { method?: string; headers?: Record<string, string> } = {}) =>
  fetch(`${s.url}${path}`, { redirect: "manual", ...init, headers: { ...proxied, ...init.headers } })

describe("--public-url", () => {
  it("accepts the public Host and Origin with the flag", async () => {
    server = await startServer({ publicUrl: PUBLIC })
    const cookie = await server.signIn()
    const page = await viaProxy(server, "/", { headers: { cookie } })
    expect(page.status).toBe(200)
    const api = await viaProxy(server, "/api/v1/sessions", { headers: { cookie } })
    expect(api.status).toBe(200)
    // A write from the public origin passes the Origin check (and meets the read-only API).
    const write = await viaProxy(server, "/api/v1/sessions", { method: "POST", headers: { cookie } })
    expect(write.status).toBe(405)
    // Loopback keeps working beside it.
    expect((await fetch(`${server.url}/api/v1/sessions`, { headers: { cookie } })).status).toBe(200)
  })

  it("refuses the same requests without the flag", async () => {
    server = await startServer()
    const cookie = await server.signIn()
    for (const [path, method] of [
      ["/", "GET"],
      ["/api/v1/sessions", "GET"],
      ["/api/v1/sessions", "POST"],
    ] as const) {
      const res = await viaProxy(server, path, { method, headers: { cookie } })
      expect(res.status, `${method} ${path}`).toBe(421)
    }
    // The public origin is not loopback's either.
    const write = await fetch(`${server.url}/api/v1/sessions`, { method: "POST", headers: { cookie, origin: PUBLIC } })
    expect(write.status).toBe(403)
  })

  it("accepts only the public origin itself: not its http twin, not another site", async () => {
    server = await startServer({ publicUrl: PUBLIC })
    const cookie = await server.signIn()
    for (const origin of ["http://overlord.example.com", "https://evil.example", "https://overlord.example.com:8443"]) {
      const res = await viaProxy(server, "/api/v1/sessions", { method: "POST", headers: { cookie, origin } })
      expect(res.status, origin).toBe(403)
    }
  })

  it("makes cookies Secure when the public URL is https, and sign-in links public", async () => {
    server = await startServer({ publicUrl: PUBLIC })
    const link = server.engine.issueToken({ userId: server.userId, kind: "login-link", ttlMs: 60_000 })
    const res = await viaProxy(server, `/auth?token=${link}`)
    expect(res.status).toBe(302)
    const setCookie = res.headers.get("set-cookie") ?? ""
    expect(setCookie.split("; ")).toContain("Secure")
    expect(setCookie).toContain("HttpOnly")
    // `overlord open` asks through the proxy for a link: it must point at the public URL, not at the
    // proxy's upstream (http).
    const api = server.engine.issueToken({ userId: server.userId, kind: "api" })
    const links = await viaProxy(server, "/api/v1/login-links", {
      method: "POST",
      headers: { authorization: `Bearer ${api}` },
    })
    expect(((await links.json()) as { url: string }).url).toMatch(/^https:\/\/overlord\.example\.com\/auth\?token=/)
  })

  it("keeps cookies without Secure on plain http", async () => {
    for (const publicUrl of [undefined, "http://overlord.example.com"]) {
      const s = await startServer(publicUrl ? { publicUrl } : {})
      try {
        const link = s.engine.issueToken({ userId: s.userId, kind: "login-link", ttlMs: 60_000 })
        const res = await fetch(`${s.url}/auth?token=${link}`, { redirect: "manual" })
        expect(res.status).toBe(302)
        expect((res.headers.get("set-cookie") ?? "").split("; "), String(publicUrl)).not.toContain("Secure")
      } finally {
        await s.close()
      }
    }
  })

  it("says clearly what is wrong with a malformed public URL", async () => {
    const cases: [string, RegExp][] = [
      ["overlord.example.com", /not a URL/],
      ["ftp://overlord.example.com", /https:\/\/ or http:\/\//],
      ["https://overlord.example.com/dashboard", /origin only/],
      ["https://user:pw@overlord.example.com", /user name or password/],
      ["https://overlord.example.com/?q=1", /origin only/],
    ]
    for (const [value, why] of cases) {
      const parsed = parsePublicUrl(value)
      expect(parsed, value).toBeInstanceOf(PublicUrlError)
      expect((parsed as PublicUrlError).message, value).toMatch(why)
      expect((parsed as PublicUrlError).url).toBe(value)
    }
    expect((parsePublicUrl("https://Overlord.Example.com/") as URL).origin).toBe(PUBLIC)
    // The server refuses to start with one, rather than serving without the proxy's host.
    await expect(startServer({ publicUrl: "overlord.example.com" })).rejects.toThrow(/not a URL/)
  })
})
