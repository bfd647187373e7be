/**
 * Holes found by the security audit (notes/security-audit.md), each against a real running server:
 *
 * - API answers holding transcripts, usage and commands carried no `cache-control`, so a proxy in
 *   front of `--public-url`, or the browser's disk cache, could keep them; and only the dashboard's
 *   files had `nosniff`, `frame-ancestors` and `referrer-policy`. The sign-in redirect (a one-time
 *   token in its URL) had none either.
 * - A device flow's user code (20^8 codes) was said to be "guessed only through the rate-limited
 *   API", but its signed-in routes (`GET /api/v1/device/:code`, `…/approve`) had no limit: any member
 *   could try codes as fast as the server answers, and approving someone else's pending code pairs
 *   that laptop to the guesser's account (its transcripts then sync to them).
 * - A sign-in link (`/auth?token=`) followed from another site signed the browser in as the link's
 *   author (login CSRF): a device code the visitor then approved paired their laptop to the author.
 * - Bun reads a request body of up to 128 MiB by default before a route can refuse it: a chunked
 *   body (no Content-Length) to an unauthenticated route was read whole, 60 at once per address.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer } from "./running-server.ts"

let server: RunningServer
let cookie = ""

beforeAll(async () => {
  server = await startServer()
  cookie = await server.signIn()
})
afterAll(async () => {
  await server?.close()
})

const origin = () => server.url

describe("response headers", () => {
  it("every API answer is no-store, nosniff, not framable and sends no referrer", async () => {
    for (const path of [
      "/api/v1/sessions",
      "/api/v1/search?q=secret",
      "/api/v1/search?q=secret&mode=text",
      "/api/v1/usage?groupBy=day&format=csv",
      "/api/v1/commands",
      "/api/v1/projects",
      "/api/v1/me",
      "/api/v1/no-such-route",
    ]) {
      const res = await fetch(`${server.url}${path}`, { headers: { cookie } })
      await res.arrayBuffer()
      expect(res.status, path).toBeLessThan(500)
      expect(res.headers.get("cache-control"), path).toBe("no-store")
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff")
      expect(res.headers.get("x-frame-options"), path).toBe("DENY")
      expect(res.headers.get("content-security-policy") ?? "", path).toContain("frame-ancestors 'none'")
      expect(res.headers.get("referrer-policy"), path).toBe("no-referrer")
    }
    // Refusals too: a 401 and a wrong Host.
    const refused = await fetch(`${server.url}/api/v1/sessions`)
    expect(refused.status).toBe(401)
    expect(refused.headers.get("cache-control")).toBe("no-store")
    expect(refused.headers.get("x-content-type-options")).toBe("nosniff")
  })

  it("the sign-in redirect is not cached and sends no referrer; the dashboard's files keep their caching", async () => {
    const link = server.engine.issueToken({ userId: server.userId, kind: "login-link", ttlMs: 60_000 })
    const res = await fetch(`${server.url}/auth?token=${link}`, { redirect: "manual" })
    expect(res.status).toBe(302)
    expect(res.headers.get("cache-control")).toBe("no-store")
    expect(res.headers.get("referrer-policy")).toBe("no-referrer")
    const cookieHeader = res.headers.get("set-cookie") ?? ""
    expect(cookieHeader).toContain("HttpOnly")
    expect(cookieHeader).toContain("SameSite=Strict")
    const asset = await fetch(`${server.url}/assets/app.js`)
    await asset.arrayBuffer()
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable")
    const page = await fetch(`${server.url}/`, { headers: { cookie } })
    await page.arrayBuffer()
    expect(page.headers.get("x-frame-options")).toBe("DENY")
    expect(page.headers.get("cache-control")).toBe("no-cache")
  })
})

describe("login CSRF", () => {
  it("a sign-in link followed from another site signs nobody in until the button on this origin is pressed", async () => {
    const link = server.engine.issueToken({ userId: server.userId, kind: "login-link", ttlMs: 60_000 })
    for (const site of ["cross-site", "same-site"]) {
      const res = await fetch(`${server.url}/auth?token=${link}`, {
        redirect: "manual",
        headers: { "sec-fetch-site": site, "sec-fetch-mode": "navigate" },
      })
      const page = await res.text()
      expect(res.status, site).toBe(200)
      expect(res.headers.get("set-cookie"), site).toBeNull()
      expect(page, site).toContain('data-testid="auth-link-confirm"')
      expect(res.headers.get("x-frame-options"), site).toBe("DENY")
    }
    // The button sends the link again from this origin: the link was not used up.
    const confirmed = await fetch(`${server.url}/auth?token=${link}`, {
      redirect: "manual",
      headers: { "sec-fetch-site": "same-origin", "sec-fetch-mode": "navigate" },
    })
    expect(confirmed.status).toBe(302)
    expect(confirmed.headers.get("set-cookie") ?? "").toContain("overlord_session=")
  })
})

describe("device codes", () => {
  it("a signed-in user guessing user codes is throttled, and a real code still works for another user", async () => {
    const statuses: number[] = []
    // 20^8 codes; a guess that is not pending is a 404 until the limit, then 429.
    for (let i = 0; i < 60; i++) {
      const code = `BCDF-${"GHJKLMNP"[i % 8]}${"QRST"[i % 4]}${"VWXZ"[(i >> 2) % 4]}${"BCDF"[(i >> 4) % 4]}`
      const res = await fetch(`${server.url}/api/v1/device/${code}${i % 2 ? "/approve" : ""}`, {
        method: i % 2 ? "POST" : "GET",
        headers: { cookie, origin: origin() },
      })
      await res.arrayBuffer()
      statuses.push(res.status)
    }
    expect(statuses[0]).toBe(404)
    expect(statuses.filter((s) => s !== 404 && s !== 429)).toEqual([])
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(30)

    // Another user is not limited by the first one's guesses: a real pending code is approved.
    const otherId = server.engine.ensureUser("other")
    const link = server.engine.issueToken({ userId: otherId, kind: "login-link", ttlMs: 60_000 })
    const auth = await fetch(`${server.url}/auth?token=${link}`, { redirect: "manual" })
    const other = (auth.headers.get("set-cookie") ?? "").split(";")[0] ?? ""
    const started = await fetch(`${server.url}/api/v1/device/code`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ machineId: "laptop-1", machineName: "laptop" }),
    })
    expect(started.status).toBe(200)
    const { userCode } = (await started.json()) as { userCode: string }
    const approved = await fetch(`${server.url}/api/v1/device/${userCode}/approve`, {
      method: "POST",
      headers: { cookie: other, origin: origin() },
    })
    expect(approved.status).toBe(200)
    expect(await approved.json()).toMatchObject({ status: "approved" })
  })
})

describe("request bodies", () => {
  it("a huge chunked body is refused with 413 before it is read, and the server keeps answering", async () => {
    const mib = new Uint8Array(1024 * 1024).fill(0x20)
    let sent = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 20) return controller.close()
        sent++
        controller.enqueue(mib)
      },
    })
    const res = await fetch(`${server.url}/api/v1/setup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit)
    await res.arrayBuffer()
    expect(res.status).toBe(413)
    // A signed-in route too (a remote command's body is the largest a route takes).
    let sentToCommands = 0
    const commandBody = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sentToCommands >= 20) return controller.close()
        sentToCommands++
        controller.enqueue(mib)
      },
    })
    const command = await fetch(`${server.url}/api/v1/commands`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie, origin: origin() },
      body: commandBody,
      duplex: "half",
    } as RequestInit)
    await command.arrayBuffer()
    expect(command.status).toBe(413)
    const after = await fetch(`${server.url}/api/v1/sessions`, { headers: { cookie } })
    expect(after.status).toBe(200)
    expect(await after.json()).toMatchObject({ sessions: [] })
  })
})

describe("sign-out", () => {
  it("ends the browser session on the server (the cookie stops working) and clears the cookie", async () => {
    const session = await server.signIn()
    expect((await fetch(`${server.url}/api/v1/me`, { headers: { cookie: session } })).status).toBe(200)
    // From another site: refused, and the session still works.
    const crossSite = await fetch(`${server.url}/api/v1/sign-out`, {
      method: "POST",
      headers: { cookie: session, origin: "https://evil.example" },
    })
    expect(crossSite.status).toBe(403)
    expect((await fetch(`${server.url}/api/v1/me`, { headers: { cookie: session } })).status).toBe(200)
    const out = await fetch(`${server.url}/api/v1/sign-out`, {
      method: "POST",
      headers: { cookie: session, origin: origin() },
    })
    expect(out.status).toBe(204)
    const cleared = out.headers.get("set-cookie") ?? ""
    expect(cleared).toMatch(/^overlord_session=;/)
    expect(cleared).toContain("Max-Age=0")
    expect(cleared).toContain("HttpOnly")
    // The old cookie, replayed (a copy kept by a shared browser or stolen), reads nothing.
    expect((await fetch(`${server.url}/api/v1/me`, { headers: { cookie: session } })).status).toBe(401)
    expect((await fetch(`${server.url}/api/v1/sessions`, { headers: { cookie: session } })).status).toBe(401)
    // Other browser sessions of the user go on.
    expect((await fetch(`${server.url}/api/v1/me`, { headers: { cookie } })).status).toBe(200)
  })
})

describe("live socket messages", () => {
  const open = async () => {
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/api/v1/live`, {
      headers: { cookie, origin: origin() },
    } as unknown as string[])
    const messages: string[] = []
    const closed = new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code)))
    ws.addEventListener("message", (e) => messages.push(String(e.data)))
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve)
      ws.addEventListener("error", reject)
    })
    return { ws, messages, closed }
  }

  it("a session id past 128 characters is an invalid message; a huge message closes the socket (1009)", async () => {
    const live = await open()
    live.ws.send(JSON.stringify({ type: "subscribe", sessionId: "s".repeat(129), afterSeq: 0 }))
    await expect.poll(() => live.messages.some((m) => m.includes("invalid message"))).toBe(true)
    live.ws.send(JSON.stringify({ type: "subscribe", sessionId: "s".repeat(1024 * 1024), afterSeq: 0 }))
    expect(await live.closed).toBe(1009)
    // The server goes on: a new socket subscribes.
    const again = await open()
    again.ws.send(JSON.stringify({ type: "subscribe", afterSeq: 0 }))
    await expect.poll(() => again.messages.some((m) => m.includes('"health"'))).toBe(true)
    again.ws.close()
  })
})
